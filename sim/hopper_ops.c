/*
 * hopper_ops.c - the Hopper entry points of sim_hopper.h, on the calling thread's fiber.
 *
 *   wgmma:    a warpgroup rendezvous (threads 128g..128g+127 must all arrive at the same site with
 *             the same operands). Each thread first resolves its accumulator registers: a register
 *             still holding the tag of an earlier op of its own (accumulating into the registers of an
 *             op in flight, as a mainloop does) takes that op's result. The last thread to arrive runs
 *             the op (sim_wgmma_run) for all 128; every thread keeps its results in a record and gets
 *             tags back in its registers: 0x7fa00000 | (op number & 0xfffff), a NaN. wait_group hands
 *             the registers back: tags of completed ops become their values; a tag of an op whose
 *             group is still pending is a read before wait_group, reported. Until a wait_group of
 *             its warpgroup completes it, the shared chunks an op reads are recorded: a write into
 *             them (a store, a cp.async, a TMA load) is reported as a wgmma hazard.
 *   TMA:      the box lands at issue (bounds of the global tensor and the shared box checked, the box
 *             recorded as written by the issuing thread), the swizzle tags are set, and its bytes
 *             complete as a transaction on the mbarrier. Stores write at issue (in-bounds elements).
 *   mbarrier: state beside the block (sim_mbarrier.c). try_wait on a phase not yet complete parks the
 *             thread until that barrier's phase completes; a completed phase wakes its waiters and
 *             counts, for the shared-memory checks, as a barrier (the epoch advances). When nobody can
 *             run, the waiters are reported as a deadlock naming the barrier, what it still needs and
 *             the threads.
 */
#include "sim_hopper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "sim_mbarrier.h"
#include "sim_tma.h"
#include "sim_wgmma.h"

enum { TAG_BASE = 0x7fa00000u, TAG_MASK = 0xfffffu, HOP_SEEN = 32 };

typedef struct {
  uint32_t op; /* the op's number in its thread */
  int nregs;
  const char *site;
  uint32_t *vals;
} wg_result;

typedef struct {
  sim_wgmma_groups g;
  wg_result *res;
  int nres, cap;
  int fenced;
  /* operands at the wgmma rendezvous */
  int32_t type, n, scale_d, neg_a, neg_b;
  uint64_t adesc, bdesc;
  uint32_t *acc;
  uint32_t *aregs; /* A from registers (4 a thread), or NULL: A from adesc */
  /* at an mbarrier wait */
  uint32_t bar, parity;
  int32_t elect;
  /* the completed phases this thread has seen, per mbarrier (a successful try_wait) */
  uint32_t seen_off[HOP_SEEN], seen_phase[HOP_SEEN];
  int nseen;
} hop_thread;

/* The shared chunks (16 bytes) an issued wgmma reads, until a wait_group of its warpgroup completes
 * it: a write into them before then overwrites an operand the tensor cores may not have read yet. */
typedef struct {
  int g;       /* warpgroup */
  uint32_t op; /* the op's number (the same in every thread of the warpgroup) */
  const char *site;
  uint32_t *chunk;
  uint32_t n;
  uint32_t waited[4]; /* the warpgroup's threads whose wait_group has completed the op */
  int nwaited;        /* the record goes when all 128 have */
} wg_reads;

typedef struct sim_hopper {
  sim_mbar_table bars;
  uint8_t *tags;
  uint32_t *reading; /* per 16-byte chunk: pending wgmma ops that read it */
  uint8_t *seen;     /* per chunk, scratch of note_reads */
  size_t nreading;   /* chunks with reading != 0 */
  wg_reads *pend;
  int npend, cappend;
  int *wg_arrived;
  hop_thread *th;
  int used;
  /* per 16-byte chunk written by a TMA load: its mbarrier's offset + 1 (0: none), the phase its
   * bytes complete, the load's site; a read needs that phase seen (tma_unseen) */
  uint32_t *tma_bar, *tma_phase;
  const char **tma_site;
  size_t ntma; /* chunks with tma_bar != 0 */
} sim_hopper;

static sim_worker *current(void) {
  sim_worker *w = sim_cur;
  if (!w || w->cur < 0) {
    fprintf(stderr, "kiln: a simulator entry point was called outside a simulated thread\n");
    abort();
  }
  w->ops++;
  return w;
}

static _Noreturn void fail(sim_worker *w, const char *what, const char *site, const char *msg) {
  sim_report(w, what, "thread %d at '%s': %s", w->th[w->cur].tid, site, msg);
  sim_abandon(w);
}

static sim_hopper *hop(sim_worker *w) {
  if (w->hop) return w->hop;
  sim_hopper *h = calloc(1, sizeof *h);
  if (h) {
    h->tags = malloc(w->shared_bytes / 16 + 1);
    h->reading = calloc(w->shared_bytes / 16 + 1, sizeof *h->reading);
    h->seen = calloc(w->shared_bytes / 16 + 1, 1);
    h->wg_arrived = calloc((size_t)w->nthreads / 128 + 1, sizeof *h->wg_arrived);
    h->th = calloc((size_t)w->nthreads, sizeof *h->th);
    h->tma_bar = calloc(w->shared_bytes / 16 + 1, sizeof *h->tma_bar);
    h->tma_phase = calloc(w->shared_bytes / 16 + 1, sizeof *h->tma_phase);
    h->tma_site = calloc(w->shared_bytes / 16 + 1, sizeof *h->tma_site);
  }
  if (!h || !h->tags || !h->reading || !h->seen || !h->wg_arrived || !h->th || !h->tma_bar || !h->tma_phase ||
      !h->tma_site) {
    fprintf(stderr, "kiln: simulator out of memory\n");
    abort();
  }
  memset(h->tags, SIM_SWZ_UNTAGGED, w->shared_bytes / 16 + 1);
  w->hop = h;
  return h;
}

/* The shared offset of p, or a report if it is not in the block's shared memory. */
static uint32_t shared_off(sim_worker *w, const void *p, uint32_t bytes, const char *what, const char *site) {
  const unsigned char *c = p;
  if (c < w->shared || c + bytes > w->shared + w->shared_bytes) {
    char m[160];
    snprintf(m, sizeof m, "%s at %p is outside the block's %zu bytes of shared memory", what, p,
             w->shared_bytes);
    fail(w, "bad shared address", site, m);
  }
  return (uint32_t)(c - w->shared);
}

/* ---- wgmma ---- */

static wg_result *find_result(hop_thread *ht, uint32_t tag) {
  if ((tag & ~TAG_MASK) != TAG_BASE) return NULL;
  for (int i = ht->nres; i-- > 0;)
    if ((ht->res[i].op & TAG_MASK) == (tag & TAG_MASK)) return &ht->res[i];
  return NULL;
}

static void drop_result(hop_thread *ht, wg_result *r) {
  free(r->vals);
  *r = ht->res[--ht->nres];
}

/* Replaces tags in regs by the results of their (completed or chained) ops; consumed records go. */
static void resolve(sim_worker *w, hop_thread *ht, uint32_t *regs, int n, int check_pending,
                    const char *site) {
  uint32_t used[8];
  int nused = 0;
  for (int i = 0; i < n; i++) {
    wg_result *r = find_result(ht, regs[i]);
    if (!r) continue;
    if (check_pending && sim_wgmma_pending(&ht->g, r->op)) {
      char m[256];
      snprintf(m, sizeof m,
               "register %d holds the accumulator of the wgmma at '%s', whose group wgmma.wait_group "
               "has not completed (read before wait_group)",
               i, r->site);
      fail(w, "wgmma read before wait", site, m);
    }
    if (i >= r->nregs) {
      char m[160];
      snprintf(m, sizeof m, "register %d holds a tag of the wgmma at '%s', which has only %d registers", i,
               r->site, r->nregs);
      fail(w, "bad wgmma register", site, m);
    }
    regs[i] = r->vals[i];
    int seen = 0;
    for (int k = 0; k < nused; k++) seen |= used[k] == r->op;
    if (!seen && nused < 8) used[nused++] = r->op;
  }
  for (int k = 0; k < nused; k++)
    for (int i = 0; i < ht->nres; i++)
      if (ht->res[i].op == used[k]) drop_result(ht, &ht->res[i]);
}

static void keep_result(hop_thread *ht, uint32_t op, int nregs, const char *site) {
  if (ht->nres == ht->cap) {
    ht->cap = ht->cap ? 2 * ht->cap : 8;
    ht->res = realloc(ht->res, (size_t)ht->cap * sizeof *ht->res);
  }
  uint32_t *v = malloc((size_t)nregs * sizeof *v);
  if (!ht->res || !v) {
    fprintf(stderr, "kiln: simulator out of memory\n");
    abort();
  }
  memcpy(v, ht->acc, (size_t)nregs * sizeof *v);
  ht->res[ht->nres++] = (wg_result){op, nregs, site, v};
  for (int i = 0; i < nregs; i++) ht->acc[i] = TAG_BASE | (op & TAG_MASK);
}

static void oom(void) {
  fprintf(stderr, "kiln: simulator out of memory\n");
  abort();
}

/* Adds chunk c (of a shared offset) to the op's reads r once. */
static void add_chunk(sim_hopper *h, wg_reads *r, uint32_t off, uint32_t *cap) {
  uint32_t c = off / 16;
  if (h->seen[c]) return;
  if (r->n == *cap) {
    *cap = *cap ? 2 * *cap : 256;
    if (!(r->chunk = realloc(r->chunk, *cap * sizeof *r->chunk))) oom();
  }
  h->seen[c] = 1;
  r->chunk[r->n++] = c;
}

/* The chunks of `rows` rows of the operand of descriptor v (MN-major when trans: 16-bit elements). */
static void operand_chunks(sim_hopper *h, wg_reads *r, uint64_t v, int rows, int trans, uint32_t *cap) {
  cg_wgmma_desc d = cg_wgmma_desc_decode(v);
  for (int row = 0; row < rows; row++)
    if (trans)
      for (int k = 0; k < 16; k++) add_chunk(h, r, sim_wgmma_addr_mn(d, 2 * row, k), cap);
    else
      for (int half = 0; half < 2; half++) add_chunk(h, r, sim_wgmma_addr(d, row, 16 * half), cap);
}

/* Records what the op (number op of warpgroup g, operands of t0; already run, so every address is
 * inside shared memory) reads until its group completes. */
static void check_tma_reads(sim_worker *w, const wg_reads *r, const char *site);

static void note_reads(sim_worker *w, int g, uint32_t op, const hop_thread *t0, const char *site) {
  sim_hopper *h = w->hop;
  wg_reads r = {g, op, site, NULL, 0, {0}, 0};
  uint32_t cap = 0;
  if (!t0->aregs) operand_chunks(h, &r, t0->adesc, 64, t0->neg_a & CG_WGMMA_TRANS, &cap);
  operand_chunks(h, &r, t0->bdesc, t0->n, t0->neg_b & CG_WGMMA_TRANS, &cap);
  for (uint32_t i = 0; i < r.n; i++) {
    h->seen[r.chunk[i]] = 0;
    if (h->reading[r.chunk[i]]++ == 0) h->nreading++;
  }
  if (h->npend == h->cappend) {
    h->cappend = h->cappend ? 2 * h->cappend : 16;
    if (!(h->pend = realloc(h->pend, (size_t)h->cappend * sizeof *h->pend))) oom();
  }
  h->pend[h->npend++] = r;
  check_tma_reads(w, &h->pend[h->npend - 1], site); /* after the record: a report frees it with the rest */
}

static void forget_reads(sim_hopper *h, int i) {
  wg_reads *r = &h->pend[i];
  for (uint32_t k = 0; k < r->n; k++)
    if (--h->reading[r->chunk[k]] == 0) h->nreading--;
  free(r->chunk);
  *r = h->pend[--h->npend];
}

/* A write by thread tid into an operand of record r is a hazard until tid's own wait_group has
 * completed the op (its warpgroup), or until every thread of r's warpgroup has (another warpgroup;
 * after that only a barrier orders the write, which the race checks do not see for wgmma reads). */
static int hazard(const sim_hopper *h, const wg_reads *r, int tid) {
  if (r->g != tid / 128) return 1;
  return sim_wgmma_pending(&h->th[tid].g, r->op);
}

const char *sim_hopper_pending_read(sim_worker *w, int tid, size_t off, size_t bytes, int *g) {
  sim_hopper *h = w->hop;
  if (!h || !h->nreading || !bytes) return NULL;
  for (size_t c = off / 16; c <= (off + bytes - 1) / 16; c++) {
    if (!h->reading[c]) continue;
    for (int i = 0; i < h->npend; i++)
      for (uint32_t k = 0; k < h->pend[i].n; k++)
        if (h->pend[i].chunk[k] == c && hazard(h, &h->pend[i], tid))
          return *g = h->pend[i].g, h->pend[i].site;
  }
  return NULL;
}

/* Whether thread tid may read chunk c: not TMA data awaiting a phase, or that phase is complete and
 * seen by tid (its own try_wait) or by some thread before the block's last barrier. */
static int tma_ready(sim_hopper *h, int tid, size_t c) {
  if (!h->tma_bar[c]) return 1;
  sim_mbar *b = sim_mbar_find(&h->bars, h->tma_bar[c] - 1);
  if (!b) return 1; /* invalidated: its bytes were waited for before */
  uint32_t need = h->tma_phase[c] + 1;
  if (b->seen_block >= need) return 1;
  const hop_thread *t = &h->th[tid];
  for (int i = 0; i < t->nseen; i++)
    if (t->seen_off[i] == b->off) return t->seen_phase[i] >= need;
  return 0;
}

const char *sim_hopper_tma_unseen(sim_worker *w, int tid, size_t off, size_t bytes, uint32_t *bar,
                                  uint32_t *phase) {
  sim_hopper *h = w->hop;
  if (!h || !h->ntma || !bytes) return NULL;
  for (size_t c = off / 16; c <= (off + bytes - 1) / 16; c++)
    if (!tma_ready(h, tid, c)) return *bar = h->tma_bar[c] - 1, *phase = h->tma_phase[c], h->tma_site[c];
  return NULL;
}

void sim_hopper_shared_write(sim_worker *w, size_t off, size_t bytes) {
  sim_hopper *h = w->hop;
  if (!h || !h->ntma || !bytes) return;
  for (size_t c = off / 16; c <= (off + bytes - 1) / 16; c++)
    if (h->tma_bar[c]) h->tma_bar[c] = 0, h->ntma--;
}

void sim_hopper_barrier(sim_worker *w) {
  sim_hopper *h = w->hop;
  if (!h) return;
  for (int i = 0; i < h->bars.n; i++) h->bars.b[i].seen_block = h->bars.b[i].seen_any;
}

/* A warpgroup's wgmma reads chunks every thread of it must have seen land (the TMA's mbarrier). */
static void check_tma_reads(sim_worker *w, const wg_reads *r, const char *site) {
  sim_hopper *h = w->hop;
  if (!h->ntma) return;
  for (uint32_t k = 0; k < r->n; k++)
    for (int i = 0; i < 128; i++) {
      int tid = 128 * r->g + i;
      if (tma_ready(h, tid, r->chunk[k])) continue;
      size_t c = r->chunk[k];
      sim_report(w, "TMA hazard",
                 "thread %d of warpgroup %d: the wgmma at '%s' reads shared[0x%zx..0x%zx), which the TMA "
                 "load at '%s' writes for phase %u of the mbarrier at shared offset %u, before the thread "
                 "has waited for that phase",
                 tid, r->g, site, c * 16, c * 16 + 16, h->tma_site[c], h->tma_phase[c], h->tma_bar[c] - 1);
      sim_abandon(w);
    }
}

static void wgmma_release(sim_worker *w, int g, const char *site) {
  sim_hopper *h = w->hop;
  hop_thread *t0 = &h->th[128 * g];
  uint32_t *acc[128];
  const uint32_t *aregs[128];
  for (int i = 0; i < 128; i++) {
    hop_thread *t = &h->th[128 * g + i];
    if (w->th[128 * g + i].site != site && strcmp(w->th[128 * g + i].site, site)) {
      sim_report(w, "divergent wgmma", "threads of warpgroup %d wait at '%s' and '%s'", g, site,
                 w->th[128 * g + i].site);
      sim_abandon(w);
    }
    if (t->type != t0->type || t->n != t0->n || t->adesc != t0->adesc || t->bdesc != t0->bdesc ||
        t->scale_d != t0->scale_d || t->neg_a != t0->neg_a || t->neg_b != t0->neg_b ||
        !t->aregs != !t0->aregs) {
      sim_report(w, "divergent wgmma",
                 "thread %d of warpgroup %d at '%s' gives other operands than thread %d", 128 * g + i, g,
                 site, 128 * g);
      sim_abandon(w);
    }
    acc[i] = t->acc;
    aregs[i] = t->aregs;
  }
  char err[256];
  if (t0->aregs
          ? sim_wgmma_run_rs((cg_wgmma_type)t0->type, t0->n, w->shared, w->shared_bytes, h->tags, aregs,
                             t0->bdesc, t0->scale_d, t0->neg_a, t0->neg_b, acc, err, sizeof err)
          : sim_wgmma_run((cg_wgmma_type)t0->type, t0->n, w->shared, w->shared_bytes, h->tags, t0->adesc,
                          t0->bdesc, t0->scale_d, t0->neg_a, t0->neg_b, acc, err, sizeof err)) {
    sim_report(w, "bad wgmma", "warpgroup %d at '%s': %s", g, site, err);
    sim_abandon(w);
  }
  if (w->prof) { /* one matrix instruction of 2 * 64 * n * k operations (docs/profiling.md) */
    sim_counters *c = sim_prof_site(w, site);
    const cg_wgmma_info *wi = cg_wgmma_info_of((cg_wgmma_type)t0->type);
    uint64_t ops = 2ull * 64 * (uint64_t)t0->n * (uint64_t)wi->k,
             lines = ((t0->aregs ? 0 : 64ull) + (uint64_t)t0->n) * 32 / 128;
    c->mma++;
    c->smem_requests += lines; /* the operands' 32 bytes a row, read as whole 128-byte lines */
    c->smem_wavefronts += lines;
    c->smem_ideal_wavefronts += lines;
    if (wi->in_bits == 16) c->mma_ops16 += ops, c->wgmma_ops16 += ops;
    if (wi->in_bits == 8) c->mma_ops8 += ops, c->wgmma_ops8 += ops;
    if (wi->in_bits == 1) c->mma_ops1 += ops;
  }
  note_reads(w, g, t0->g.issued, t0, site);
  for (int i = 0; i < 128; i++) {
    hop_thread *t = &h->th[128 * g + i];
    uint32_t op = sim_wgmma_issue(&t->g);
    if (op == UINT32_MAX) abort();
    keep_result(t, op, t->n / 2, site);
    w->th[128 * g + i].state = SIM_RUN;
  }
  h->wg_arrived[g] = 0;
}

void __kiln_sim_wgmma_fence(const char *site) {
  sim_worker *w = current();
  hop(w)->th[w->cur].fenced = 1;
  (void)site;
}

/* A thread arrives at a wgmma: its operands recorded, parked until its warpgroup's 128 are there. */
static void wgmma_arrive(int32_t type, int32_t n, uint64_t adesc, uint32_t *aregs, uint64_t bdesc,
                         uint32_t *acc, int32_t scale_d, int32_t neg_a, int32_t neg_b, const char *site) {
  sim_worker *w = current();
  sim_hopper *h = hop(w);
  sim_thread *t = &w->th[w->cur];
  hop_thread *ht = &h->th[w->cur];
  if (!ht->fenced) fail(w, "wgmma without fence", site, "wgmma.mma_async with no wgmma.fence before it");
  if (w->nthreads % 128) fail(w, "partial warpgroup", site, "wgmma needs whole warpgroups of 128 threads");
  if (!cg_wgmma_info_of((cg_wgmma_type)type) || !cg_wgmma_n_ok((cg_wgmma_type)type, n)) {
    fprintf(stderr, "kiln: simulator wgmma type %d n %d does not exist\n", type, n);
    abort();
  }
  resolve(w, ht, acc, n / 2, 0, site); /* accumulating into an op in flight: chained */
  ht->type = type, ht->n = n, ht->scale_d = scale_d, ht->neg_a = neg_a, ht->neg_b = neg_b;
  ht->adesc = adesc, ht->bdesc = bdesc, ht->acc = acc, ht->aregs = aregs;
  int g = t->tid / 128;
  t->state = SIM_AT_WARPGROUP;
  t->site = site;
  t->what = "wgmma";
  if (++h->wg_arrived[g] < 128) {
    sim_park(w);
    return;
  }
  wgmma_release(w, g, site);
}

void __kiln_sim_wgmma(int32_t type, int32_t n, uint64_t adesc, uint64_t bdesc, uint32_t *acc, int32_t scale_d,
                      int32_t neg_a, int32_t neg_b, const char *site) {
  wgmma_arrive(type, n, adesc, NULL, bdesc, acc, scale_d, neg_a, neg_b, site);
}

void __kiln_sim_wgmma_rs(int32_t type, int32_t n, uint32_t *aregs, uint64_t bdesc, uint32_t *acc,
                         int32_t scale_d, int32_t neg_a, int32_t neg_b, const char *site) {
  wgmma_arrive(type, n, 0, aregs, bdesc, acc, scale_d, neg_a, neg_b, site);
}

void __kiln_sim_wgmma_commit(const char *site) {
  sim_worker *w = current();
  sim_wgmma_commit(&hop(w)->th[w->cur].g);
  (void)site;
}

void __kiln_sim_wgmma_wait(int32_t n, uint32_t *regs, int32_t nregs, const char *site) {
  sim_worker *w = current();
  hop_thread *ht = &hop(w)->th[w->cur];
  if (n < 0 || n > 7) fail(w, "bad wgmma.wait_group", site, "wgmma.wait_group takes 0..7");
  sim_wgmma_wait(&ht->g, n);
  sim_hopper *h = w->hop;
  int tid = w->th[w->cur].tid, lane = tid % 128;
  for (int i = h->npend; i-- > 0;) { /* ops of this warpgroup the wait completed, for this thread */
    wg_reads *r = &h->pend[i];
    if (r->g != tid / 128 || sim_wgmma_pending(&ht->g, r->op) || r->waited[lane / 32] >> (lane % 32) & 1)
      continue;
    r->waited[lane / 32] |= 1u << (lane % 32);
    if (++r->nwaited == 128) forget_reads(h, i); /* the whole warpgroup: the op reads no more */
  }
  resolve(w, ht, regs, nregs, 1, site);
}

/* ---- mbarrier ---- */

static sim_mbar *bar_at(sim_worker *w, void *bar, const char *what, const char *site) {
  uint32_t off = shared_off(w, bar, 8, "the mbarrier", site);
  sim_mbar *b = sim_mbar_find(&hop(w)->bars, off);
  if (!b) {
    char m[160];
    snprintf(m, sizeof m, "%s on shared offset %u, where no mbarrier was initialised", what, off);
    fail(w, "uninitialised mbarrier", site, m);
  }
  return b;
}

/* After b's phase may have advanced from `before`: wakes its waiters and ends the epoch. */
static void phase_done(sim_worker *w, sim_mbar *b, uint32_t before) {
  if (b->phase == before) return;
  for (int i = 0; i < w->nthreads; i++)
    if (w->th[i].state == SIM_AT_MBAR && w->hop->th[i].bar == b->off) w->th[i].state = SIM_RUN;
  if (sim_check_epoch_end(w)) sim_abandon(w);
  w->epoch++;
}

void __kiln_sim_mbar_init(void *bar, int32_t count, const char *site) {
  sim_worker *w = current();
  uint32_t off = shared_off(w, bar, 8, "the mbarrier", site);
  char err[160];
  if (sim_mbar_init(&hop(w)->bars, off, (uint32_t)count, site, err, sizeof err))
    fail(w, "bad mbarrier.init", site, err);
  for (int i = 0; i < w->nthreads; i++) { /* phases seen of a barrier that was here before */
    hop_thread *t = &w->hop->th[i];
    for (int k = 0; k < t->nseen; k++)
      if (t->seen_off[k] == off) t->seen_phase[k] = 0;
  }
}

uint64_t __kiln_sim_mbar_arrive(void *bar, int32_t tx_bytes, const char *site) {
  sim_worker *w = current();
  sim_mbar *b = bar_at(w, bar, "mbarrier.arrive", site);
  uint32_t before = b->phase;
  uint64_t token;
  char err[160];
  if (tx_bytes < 0 || sim_mbar_arrive(b, (uint32_t)tx_bytes, &token, err, sizeof err))
    fail(w, "bad mbarrier.arrive", site, tx_bytes < 0 ? "negative transaction bytes" : err);
  phase_done(w, b, before);
  return token;
}

/* mbarrier.inval: the barrier must exist and have no waiter; its state is forgotten, so a later use
 * without init is reported. */
void __kiln_sim_mbar_inval(void *bar, const char *site) {
  sim_worker *w = current();
  sim_mbar *b = bar_at(w, bar, "mbarrier.inval", site);
  for (int i = 0; i < w->nthreads; i++)
    if (w->th[i].state == SIM_AT_MBAR && w->hop->th[i].bar == b->off)
      fail(w, "mbarrier.inval of a barrier a thread waits on", site, "a thread still waits on it");
  sim_mbar_forget(&hop(w)->bars, b->off, b->off + 8);
}

/* Thread tid saw b's completed phases (a successful try_wait): the TMA bytes of those phases are its
 * to read. */
static void saw(sim_hopper *h, int tid, sim_mbar *b) {
  hop_thread *t = &h->th[tid];
  if (b->phase > b->seen_any) b->seen_any = b->phase;
  for (int i = 0; i < t->nseen; i++)
    if (t->seen_off[i] == b->off) {
      if (b->phase > t->seen_phase[i]) t->seen_phase[i] = b->phase;
      return;
    }
  int i = t->nseen < HOP_SEEN ? t->nseen++ : (int)(b->off / 8 % HOP_SEEN); /* full: forget one */
  t->seen_off[i] = b->off, t->seen_phase[i] = b->phase;
}

int32_t __kiln_sim_mbar_try_wait(void *bar, int32_t parity, const char *site) {
  sim_worker *w = current();
  sim_step(w, site);
  sim_mbar *b = bar_at(w, bar, "mbarrier.try_wait", site);
  if (sim_mbar_test_parity(b, (uint32_t)parity)) return saw(w->hop, w->th[w->cur].tid, b), 1;
  hop_thread *ht = &w->hop->th[w->cur];
  ht->bar = b->off, ht->parity = (uint32_t)parity;
  sim_thread *t = &w->th[w->cur];
  t->state = SIM_AT_MBAR;
  t->site = site;
  t->what = "mbarrier.try_wait";
  sim_park(w);
  b = sim_mbar_find(&w->hop->bars, ht->bar);
  if (!b || !sim_mbar_test_parity(b, (uint32_t)parity)) return 0;
  saw(w->hop, w->th[w->cur].tid, b);
  return 1;
}

/* ---- TMA ---- */

static void decode_map(sim_worker *w, const void *tmap, sim_tma_params *p, const char *site) {
  char err[256];
  if (sim_tma_decode(tmap, p, err, sizeof err)) fail(w, "bad tensor map", site, err);
  sim_check_access(w, (uintptr_t)p->gaddr, (uint32_t)sim_tma_span(p), 0, site); /* the tensor is a buffer */
}

void __kiln_sim_tma_load(int32_t dims, void *sdst, const void *tmap, const int32_t *coords, void *bar,
                         const char *site) {
  sim_worker *w = current();
  sim_hopper *h = hop(w);
  sim_tma_params p;
  decode_map(w, tmap, &p, site);
  sim_mbar *b = bar_at(w, bar, "cp.async.bulk.tensor", site);
  uint32_t bytes = sim_tma_box_bytes(&p), off = shared_off(w, sdst, bytes, "the box", site);
  char err[256];
  if (sim_tma_check_copy(&p, dims, coords, w->shared_bytes, off, "cp.async.bulk.tensor load", err,
                         sizeof err))
    fail(w, "bad cp.async.bulk.tensor", site, err);
  sim_check_access(w, (uintptr_t)sdst, bytes, SIM_ACC_SHARED | SIM_ACC_WRITE, site);
  if (sim_tma_load(&p, dims, coords, w->shared, w->shared_bytes, off, h->tags, err, sizeof err))
    fail(w, "bad cp.async.bulk.tensor", site, err);
  if (w->prof) sim_prof_site(w, site)->tma_bytes += bytes;
  for (size_t c = off / 16; c < ((size_t)off + bytes + 15) / 16; c++) {
    if (!h->tma_bar[c]) h->ntma++;
    h->tma_bar[c] = b->off + 1, h->tma_phase[c] = b->phase, h->tma_site[c] = site;
  }
  uint32_t before = b->phase;
  if (sim_mbar_complete_tx(b, bytes, err, sizeof err)) fail(w, "bad cp.async.bulk.tensor", site, err);
  phase_done(w, b, before);
}

void __kiln_sim_tma_store(int32_t dims, const void *tmap, const int32_t *coords, const void *ssrc,
                          const char *site) {
  sim_worker *w = current();
  sim_tma_params p;
  decode_map(w, tmap, &p, site);
  uint32_t bytes = sim_tma_box_bytes(&p), off = shared_off(w, ssrc, bytes, "the box", site);
  char err[256];
  if (sim_tma_check_copy(&p, dims, coords, w->shared_bytes, off, "cp.async.bulk.tensor store", err,
                         sizeof err))
    fail(w, "bad cp.async.bulk.tensor", site, err);
  sim_check_access(w, (uintptr_t)ssrc, bytes, SIM_ACC_SHARED, site);
  if (w->prof) sim_prof_site(w, site)->tma_bytes += bytes;
  if (sim_tma_store(&p, dims, coords, w->shared, w->shared_bytes, off, err, sizeof err))
    fail(w, "bad cp.async.bulk.tensor", site, err);
}

void __kiln_sim_tma_store_commit(const char *site) { (void)current(), (void)site; }

void __kiln_sim_tma_store_wait(int32_t n, const char *site) {
  sim_worker *w = current();
  if (n < 0) fail(w, "bad cp.async.bulk.wait_group", site, "a negative group count");
}

/* ---- the rest ---- */

void __kiln_sim_fence_proxy_async(const char *site) { (void)current(), (void)site; }

void __kiln_sim_setmaxnreg(int32_t inc, int32_t n, const char *site) {
  sim_worker *w = current();
  if (n < 24 || n > 256 || n % 8) {
    char m[96];
    snprintf(m, sizeof m, "setmaxnreg.%s %d: the count must be a multiple of 8 in 24..256",
             inc ? "inc" : "dec", n);
    fail(w, "bad setmaxnreg", site, m);
  }
}

static void elect_done(sim_worker *w, sim_thread *l, int n) {
  for (int i = 0; i < n; i++) w->hop->th[l[i].tid].elect = i == 0;
}

int32_t __kiln_sim_elect_sync(const char *site) {
  sim_worker *w = current();
  hop(w);
  sim_warp_arrive(w, "elect.sync", site, elect_done);
  return w->hop->th[w->cur].elect;
}

/* ---- the scheduler's hooks ---- */

void sim_hopper_block_start(sim_worker *w) {
  sim_hopper *h = w->hop;
  if (!h) return;
  sim_mbar_forget(&h->bars, 0, UINT32_MAX);
  memset(h->tags, SIM_SWZ_UNTAGGED, w->shared_bytes / 16 + 1);
  while (h->npend) forget_reads(h, 0);
  memset(h->wg_arrived, 0, ((size_t)w->nthreads / 128 + 1) * sizeof *h->wg_arrived);
  memset(h->tma_bar, 0, (w->shared_bytes / 16 + 1) * sizeof *h->tma_bar);
  h->ntma = 0;
  for (int i = 0; i < w->nthreads; i++) {
    hop_thread *t = &h->th[i];
    t->nseen = 0;
    while (t->nres) drop_result(t, &t->res[0]);
    t->g.issued = t->g.committed = t->g.completed = 0;
    t->fenced = 0;
  }
}

void sim_hopper_thread_exit(sim_worker *w, sim_thread *t) {
  if (!w->hop) return;
  hop_thread *ht = &w->hop->th[t->tid];
  uint32_t n = sim_wgmma_inflight(&ht->g);
  if (!n) return;
  sim_report(w, "wgmma never waited for",
             "thread %d exits with %u wgmma op(s) in flight (the last at '%s'): "
             "no wgmma.wait_group covers them",
             t->tid, n, ht->nres ? ht->res[ht->nres - 1].site : "?");
  sim_abandon(w);
}

int sim_hopper_deadlock(sim_worker *w) {
  sim_hopper *h = w->hop;
  if (!h) return 0;
  int *ids = malloc(sizeof(int) * (size_t)w->nthreads), n = 0, first = -1;
  for (int i = 0; i < w->nthreads; i++)
    if (w->th[i].state == SIM_AT_MBAR && (first < 0 || h->th[i].bar == h->th[first].bar)) {
      if (first < 0) first = i;
      ids[n++] = i;
    }
  char who[160], d[256];
  if (first >= 0) {
    sim_mbar *b = sim_mbar_find(&h->bars, h->th[first].bar);
    sim_fmt_threads(who, sizeof who, ids, n);
    if (b) sim_mbar_describe(b, d, sizeof d);
    sim_report(w, "mbarrier deadlock",
               "%s wait at '%s' for parity %u of the %s; no thread left can complete it", who,
               w->th[first].site, h->th[first].parity, b ? d : "mbarrier (forgotten)");
    free(ids);
    return 1;
  }
  for (int i = 0; i < w->nthreads; i++)
    if (w->th[i].state == SIM_AT_WARPGROUP) ids[n++] = i;
  if (n) {
    sim_fmt_threads(who, sizeof who, ids, n);
    sim_report(w, "divergent wgmma", "%s wait at '%s'; the rest of warpgroup %d never arrives", who,
               w->th[ids[0]].site, ids[0] / 128);
  }
  free(ids);
  return n > 0;
}

void sim_hopper_free(sim_worker *w) {
  sim_hopper *h = w->hop;
  if (!h) return;
  for (int i = 0; i < w->nthreads; i++) {
    while (h->th[i].nres) drop_result(&h->th[i], &h->th[i].res[0]);
    free(h->th[i].res);
    sim_wgmma_groups_free(&h->th[i].g);
  }
  sim_mbar_table_free(&h->bars);
  while (h->npend) forget_reads(h, 0);
  free(h->tma_bar), free(h->tma_phase), free(h->tma_site);
  free(h->pend), free(h->reading), free(h->seen);
  free(h->tags), free(h->wg_arrived), free(h->th), free(h);
  w->hop = NULL;
}
