/*
 * check.c - what the simulator checks on every global and shared access.
 *
 * 1. Bounds: a global access must lie inside one buffer passed to the launch; a shared access inside
 *    the launch's dynamic shared memory.
 * 2. Alignment: an access of B bytes needs the largest power of two dividing B (at most 16), as on
 *    the GPU.
 * 3. A plain shared access to bytes that a cp.async has not delivered yet (its group not waited for)
 *    is a hazard (tensor_ops.c keeps the copies).
 * 4. Shared memory, per byte (sim_shadow): the last writer (epoch, thread, site) and up to two
 *    readers of the current epoch. The epoch is a per-worker counter bumped at every block start and
 *    every completed barrier, so "in this epoch" means "since the last barrier" and "written in this
 *    block" means "written at an epoch >= the block's first". Then:
 *    - a read of a byte another thread wrote in this epoch, or a write of a byte another thread read
 *      or wrote in this epoch, is a race. The same thread may do as it likes.
 *    - a read of a byte never written in this block is an uninitialised read. Threads run one after
 *      another, so the writer of a missing-barrier race may simply not have run yet: the first such
 *      read is kept pending, becomes a race if another thread writes those bytes before the next
 *      barrier, and is reported as uninitialised at the barrier (or the block's end) otherwise. Any
 *      other failure meanwhile is reported as that earlier uninitialised read.
 * 5. Global memory, per byte of every buffer written (sim_buf.rec, shared by all workers): the lowest
 *    block that wrote it, with its thread and site, in one 64-bit record changed by compare-and-swap.
 *    A write by block B to a byte block A != B wrote is a race: nothing orders two blocks. Reads are
 *    not tracked; a block may rewrite its own bytes. The race belongs to the later block of the two,
 *    as if blocks ran one after another in linear order: if B > A, B's report ends its block; if the
 *    later block wrote first (another worker ran it earlier), the record is lowered to B and the report
 *    is filed for the later block (launch.c keeps the lowest failing block's). So the failing block is
 *    the same whatever the number of workers: the lowest block that writes bytes a lower block wrote.
 * A failed check writes the report and abandons the fiber: the access never happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim_int.h"

void sim_check_block_start(sim_worker *w) {
  if (w->shadow && w->epoch > UINT32_MAX - (1u << 24)) { /* far from wrapping: start over */
    memset(w->shadow, 0, sizeof(sim_shadow) * w->shared_bytes);
    w->epoch = 0;
  }
  w->block_epoch = ++w->epoch;
  w->uninit.tid = -1;
  if (w->cps.inflight) memset(w->cps.inflight, 0, w->shared_bytes * sizeof *w->cps.inflight);
  w->cps.ninflight = 0;
  memset(w->shared, 0xff, w->shared_bytes); /* poison: NaN for floats, -1 for ints */
}

static const char *verb(int write) { return write ? "writes" : "reads"; }

static unsigned need_align(uint32_t bytes) {
  unsigned a = 1;
  while (a < 16 && bytes % (a * 2) == 0) a *= 2;
  return a;
}

/* ---- global memory ---- */

/* "0 bytes past the end of 'z' (arg 2, 512 bytes at 0x...)" for the buffer nearest to [a, a+bytes). */
static void describe_nearest(const sim_exec *x, uintptr_t a, uint32_t bytes, char *buf, size_t n) {
  const sim_buf *best = NULL;
  uintptr_t bestd = UINTPTR_MAX;
  for (int i = 0; i < x->nbufs; i++) {
    const sim_buf *b = &x->bufs[i];
    uintptr_t d = a >= b->hi ? a - b->hi : a < b->lo ? b->lo - a : 0;
    if (d < bestd) bestd = d, best = b;
  }
  if (!best) {
    snprintf(buf, n, "the launch passed no buffer");
    return;
  }
  char who[96];
  if (best->name)
    snprintf(who, sizeof who, "'%s' (arg %d, %zu bytes at %p)", best->name, best->arg,
             (size_t)(best->hi - best->lo), (void *)best->lo);
  else
    snprintf(who, sizeof who, "arg %d (%zu bytes at %p)", best->arg, (size_t)(best->hi - best->lo),
             (void *)best->lo);
  if (a >= best->hi)
    snprintf(buf, n, "%zu bytes past the end of %s", (size_t)(a - best->hi), who);
  else if (a < best->lo && a + bytes <= best->lo)
    snprintf(buf, n, "%zu bytes before the start of %s", (size_t)(best->lo - a), who);
  else
    snprintf(buf, n, "straddles the %s of %s", a < best->lo ? "start" : "end", who);
}

static void check_global(sim_worker *w, sim_thread *t, uintptr_t a, uint32_t bytes, int write,
                         const char *site) {
  const sim_exec *x = w->x;
  const sim_buf *b = t->buf_hint < x->nbufs ? &x->bufs[t->buf_hint] : NULL;
  if (!b || a < b->lo || a > b->hi || bytes > b->hi - a) {
    int i = 0;
    for (; i < x->nbufs; i++) {
      b = &x->bufs[i];
      if (a >= b->lo && a <= b->hi && bytes <= b->hi - a) break;
    }
    if (i == x->nbufs) {
      char where[200];
      describe_nearest(x, a, bytes, where, sizeof where);
      sim_report(w, write ? "out-of-bounds global write" : "out-of-bounds global read",
                 "thread %d %s global[%p..%p) at '%s', %s", t->tid, verb(write), (void *)a,
                 (void *)(a + bytes), site, where);
      sim_abandon(w);
    }
    t->buf_hint = i;
  }
  unsigned al = need_align(bytes);
  if (a & (al - 1)) {
    sim_report(w, write ? "misaligned global write" : "misaligned global read",
               "thread %d %s global[%p..%p) at '%s', a %u-byte access needs %u-byte alignment", t->tid,
               verb(write), (void *)a, (void *)(a + bytes), site, bytes, al);
    sim_abandon(w);
  }
}

/* ---- global write-write races between blocks ---- */

/* The slot of `site` in x->gsites (added on first use; SIM_GSITES - 1 when the table is full). */
static uint32_t site_slot(sim_exec *x, sim_thread *t, const char *site) {
  if (t->gsite == site && site) return t->gsite_slot;
  uint32_t n = SIM_GSITES - 1, h = (uint32_t)(((uintptr_t)site * 0x9E3779B97F4A7C15ull) >> 32) % n, slot = n;
  for (uint32_t k = 0; k < n; k++, h = (h + 1) % n) {
    const char *cur = atomic_load_explicit(&x->gsites[h], memory_order_acquire);
    if (!cur && (atomic_compare_exchange_strong(&x->gsites[h], &cur, site) || cur == site)) {
      slot = h;
      break;
    }
    if (cur == site) {
      slot = h;
      break;
    }
  }
  t->gsite = site;
  t->gsite_slot = slot;
  return slot;
}

static const char *slot_site(sim_exec *x, uint64_t rec) {
  uint32_t slot = (uint32_t)(rec & ((1u << SIM_GREC_TID_SHIFT) - 1));
  const char *s = slot < SIM_GSITES - 1 ? atomic_load(&x->gsites[slot]) : NULL;
  return s ? s : "?";
}

static int rec_tid(uint64_t rec) {
  return (int)((rec >> SIM_GREC_TID_SHIFT) & ((1u << (SIM_GREC_BLOCK_SHIFT - SIM_GREC_TID_SHIFT)) - 1));
}

/* Buffer bi's shadow records from its first byte, mapped on first use; NULL if out of memory. */
static _Atomic uint64_t *gshadow(sim_exec *x, int bi) {
  const sim_buf *b = &x->bufs[bi];
  sim_buf *r = &x->bufs[b->root];
  _Atomic uint64_t *rec = atomic_load_explicit(&r->rec, memory_order_acquire);
  if (!rec) {
    size_t n = (r->hi - r->lo) * sizeof *rec;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (atomic_compare_exchange_strong(&r->rec, &rec, (_Atomic uint64_t *)p))
      rec = p;
    else
      munmap(p, n); /* another worker was first: rec is its mapping */
  }
  return rec + b->off;
}

/* "bytes 8..12 of 'y' (arg 1)" */
static void buf_bytes(const sim_buf *b, uintptr_t a, uint32_t n, char *buf, size_t bn) {
  char who[64];
  if (b->name)
    snprintf(who, sizeof who, "'%s' (arg %d)", b->name, b->arg);
  else
    snprintf(who, sizeof who, "arg %d", b->arg);
  snprintf(buf, bn, "bytes %zu..%zu of %s", (size_t)(a - b->lo), (size_t)(a - b->lo) + n, who);
}

/* Block `later` (rec's) writes [a, a+n), which `earlier` (its thread and site) wrote: the race line. */
static void fmt_global_race(sim_exec *x, const sim_buf *b, uintptr_t a, uint32_t n, uint64_t later,
                            uint64_t earlier, char *buf, size_t bn) {
  char where[128], blk[64];
  buf_bytes(b, a, n, where, sizeof where);
  int64_t eb = (int64_t)(earlier >> SIM_GREC_BLOCK_SHIFT) - 1;
  const int64_t *g = x->grid;
  snprintf(blk, sizeof blk, "(%lld,%lld,%lld)", (long long)(eb % g[0]), (long long)(eb / g[0] % g[1]),
           (long long)(eb / (g[0] * g[1])));
  snprintf(buf, bn,
           "thread %d writes global[%p..%p) at '%s', %s, which thread %d of block %s wrote at '%s'; nothing "
           "orders two blocks",
           rec_tid(later), (void *)a, (void *)(a + n), slot_site(x, later), where, rec_tid(earlier), blk,
           slot_site(x, earlier));
}

/* How many records from i on (below n) equal r. */
static uint32_t same_run(_Atomic uint64_t *rec, uint32_t i, uint32_t n, uint64_t r) {
  uint32_t j = i;
  while (j < n && atomic_load_explicit(&rec[j], memory_order_relaxed) == r) j++;
  return j - i;
}

static void check_global_race(sim_worker *w, sim_thread *t, int bi, uintptr_t a, uint32_t bytes,
                              const char *site) {
  sim_exec *x = w->x;
  const sim_buf *b = &x->bufs[bi];
  _Atomic uint64_t *rec = gshadow(x, bi);
  if (!rec) {
    char who[64];
    if (b->name)
      snprintf(who, sizeof who, "'%s' (arg %d", b->name, b->arg);
    else
      snprintf(who, sizeof who, "arg %d (", b->arg);
    sim_report(w, "out of memory",
               "thread %d at '%s': no memory for the global-race shadow of %s, %zu bytes); "
               "KILN_SIM_GLOBAL_RACES=0 turns the check off",
               t->tid, site, who, (size_t)(b->hi - b->lo));
    sim_abandon(w);
  }
  rec += a - b->lo;
  uint64_t mine = (uint64_t)(w->linear + 1);
  uint64_t me = mine << SIM_GREC_BLOCK_SHIFT | (uint64_t)t->tid << SIM_GREC_TID_SHIFT | site_slot(x, t, site);
  for (uint32_t i = 0; i < bytes; i++) {
    uint64_t cur = atomic_load_explicit(&rec[i], memory_order_relaxed);
    while ((cur >> SIM_GREC_BLOCK_SHIFT) != mine) {
      if (cur && (cur >> SIM_GREC_BLOCK_SHIFT) < mine) { /* this block is the later writer */
        char line[640];
        fmt_global_race(x, b, a + i, same_run(rec, i, bytes, cur), me, cur, line, sizeof line);
        sim_report(w, "global race", "%s", line);
        sim_abandon(w);
      }
      if (!x->concurrent) { /* blocks run in order: nothing else writes records meanwhile */
        atomic_store_explicit(&rec[i], me, memory_order_relaxed);
        break;
      }
      if (!atomic_compare_exchange_weak_explicit(&rec[i], &cur, me, memory_order_relaxed,
                                                 memory_order_relaxed))
        continue;
      if (cur) { /* the later block wrote first: the race is its failure */
        char line[1024];
        int64_t later = (int64_t)(cur >> SIM_GREC_BLOCK_SHIFT) - 1;
        int n = sim_report_head(x, later, "global race", line, sizeof line);
        fmt_global_race(x, b, a + i, same_run(rec, i + 1, bytes, cur) + 1, cur, me, line + n,
                        sizeof line - (size_t)n);
        sim_exec_fail(x, later, line);
      }
      break;
    }
  }
}

/* ---- shared memory ---- */

/* Prints a shared range as offsets; negative offsets (a pointer below the base) print with '-'. */
static void fmt_range(char *buf, size_t n, intptr_t off, uint32_t bytes) {
  if (off < 0)
    snprintf(
        buf, n, "shared[-0x%llx..%s0x%llx)", (unsigned long long)-off, off + (intptr_t)bytes < 0 ? "-" : "",
        (unsigned long long)(off + (intptr_t)bytes < 0 ? -(off + (intptr_t)bytes) : off + (intptr_t)bytes));
  else
    snprintf(buf, n, "shared[0x%llx..0x%llx)", (unsigned long long)off, (unsigned long long)off + bytes);
}

/* The other thread an access by `tid` conflicts with at byte s, or -1. */
static int conflict(const sim_worker *w, const sim_shadow *s, int tid, int write, const char **site,
                    int *was_write) {
  if (s->w_epoch == w->epoch && s->w_tid != tid) {
    *site = s->w_site;
    *was_write = 1;
    return s->w_tid;
  }
  if (!write || s->r_epoch != w->epoch) return -1;
  *was_write = 0;
  for (int k = 0; k < 2; k++)
    if (s->r_tid[k] != SIM_NO_TID && s->r_tid[k] != tid) {
      *site = s->r_site[k];
      return s->r_tid[k];
    }
  return -1;
}

static void check_races(sim_worker *w, sim_thread *t, size_t off, uint32_t bytes, int write,
                        const char *site) {
  const sim_shadow *sh = w->shadow + off;
  for (uint32_t i = 0; i < bytes; i++) {
    const char *osite, *s2;
    int owrite, w2, other = conflict(w, &sh[i], t->tid, write, &osite, &owrite);
    if (other < 0) continue;
    uint32_t j = i + 1;
    while (j < bytes && conflict(w, &sh[j], t->tid, write, &s2, &w2) == other && s2 == osite && w2 == owrite)
      j++;
    char r[64];
    fmt_range(r, sizeof r, (intptr_t)(off + i), j - i);
    sim_report(w, "race", "thread %d %s %s at '%s', thread %d %s it at '%s' with no barrier between", other,
               verb(owrite), r, osite, t->tid, write ? "wrote" : "read", site);
    sim_abandon(w);
  }
}

/* Keeps the first read of never-written bytes in this epoch pending (see the top of the file). */
static void check_uninit(sim_worker *w, sim_thread *t, size_t off, uint32_t bytes, const char *site) {
  const sim_shadow *sh = w->shadow + off;
  for (uint32_t i = 0; i < bytes && w->uninit.tid < 0; i++) {
    if (sh[i].w_epoch >= w->block_epoch) continue;
    uint32_t j = i + 1;
    while (j < bytes && sh[j].w_epoch < w->block_epoch) j++;
    w->uninit.tid = t->tid;
    w->uninit.off = off + i;
    w->uninit.len = j - i;
    w->uninit.site = site;
  }
}

int sim_check_epoch_end(sim_worker *w) {
  if (w->uninit.tid < 0) return 0;
  char r[64];
  fmt_range(r, sizeof r, (intptr_t)w->uninit.off, w->uninit.len);
  int tid = w->uninit.tid;
  w->uninit.tid = -1;
  sim_report(w, "uninitialised shared read", "thread %d reads %s at '%s', never written in this block", tid,
             r, w->uninit.site);
  return 1;
}

static void record(sim_worker *w, int tid, size_t off, uint32_t bytes, int write, const char *site) {
  sim_shadow *sh = w->shadow + off;
  for (uint32_t i = 0; i < bytes; i++) {
    sim_shadow *s = &sh[i];
    if (write) {
      s->w_epoch = w->epoch;
      s->w_tid = (uint16_t)tid;
      s->w_site = site;
    } else if (s->r_epoch != w->epoch) {
      s->r_epoch = w->epoch;
      s->r_tid[0] = (uint16_t)tid;
      s->r_site[0] = site;
      s->r_tid[1] = SIM_NO_TID;
    } else if (s->r_tid[0] != tid && s->r_tid[1] == SIM_NO_TID) {
      s->r_tid[1] = (uint16_t)tid;
      s->r_site[1] = site;
    }
  }
}

/* Plain shared accesses must not touch bytes a cp.async has not yet delivered. */
static void check_inflight(sim_worker *w, sim_thread *t, uintptr_t a, intptr_t off, uint32_t bytes, int write,
                           const char *site) {
  if (!sim_cp_async_inflight(&w->cps, (const void *)a, bytes)) return;
  char r[64];
  fmt_range(r, sizeof r, off, bytes);
  sim_report(w, "cp.async hazard",
             "thread %d %s %s at '%s' while a cp.async into it is in flight (not waited for)", t->tid,
             verb(write), r, site);
  sim_abandon(w);
}

static void check_shared(sim_worker *w, sim_thread *t, uintptr_t a, uint32_t bytes, int write, int async,
                         const char *site) {
  intptr_t off = (intptr_t)(a - (uintptr_t)w->shared);
  if (off < 0 || (size_t)off > w->shared_bytes || bytes > w->shared_bytes - (size_t)off) {
    char r[64];
    fmt_range(r, sizeof r, off, bytes);
    sim_report(w, write ? "out-of-bounds shared write" : "out-of-bounds shared read",
               "thread %d %s %s at '%s', outside the launch's %zu bytes of shared memory", t->tid,
               verb(write), r, site, w->shared_bytes);
    sim_abandon(w);
  }
  unsigned al = need_align(bytes);
  if (off & (al - 1)) {
    char r[64];
    fmt_range(r, sizeof r, off, bytes);
    sim_report(w, write ? "misaligned shared write" : "misaligned shared read",
               "thread %d %s %s at '%s', a %u-byte access needs %u-byte alignment", t->tid, verb(write), r,
               site, bytes, al);
    sim_abandon(w);
  }
  if (w->cps.ninflight && !async) check_inflight(w, t, a, off, bytes, write, site);
  if (write) {
    sim_hopper_shared_write(w, (size_t)off, bytes);
  } else {
    uint32_t bar, phase;
    const char *load = sim_hopper_tma_unseen(w, t->tid, (size_t)off, bytes, &bar, &phase);
    if (load) {
      char r[64];
      fmt_range(r, sizeof r, off, bytes);
      sim_report(w, "TMA hazard",
                 "thread %d reads %s at '%s', which the TMA load at '%s' writes for phase %u of the "
                 "mbarrier at shared offset %u, before the thread has waited for that phase",
                 t->tid, r, site, load, phase, bar);
      sim_abandon(w);
    }
  }
  int g;
  const char *reader = write ? sim_hopper_pending_read(w, t->tid, (size_t)off, bytes, &g) : NULL;
  if (reader) {
    char r[64];
    fmt_range(r, sizeof r, off, bytes);
    sim_report(w, "wgmma hazard",
               "thread %d writes %s at '%s' while the wgmma at '%s' of warpgroup %d still reads them (its "
               "group not completed by a wgmma.wait_group)",
               t->tid, r, site, reader, g);
    sim_abandon(w);
  }
  if (!w->shadow) return;
  if (!write && w->x->check_uninit) check_uninit(w, t, (size_t)off, bytes, site);
  if (w->x->check_races) check_races(w, t, (size_t)off, bytes, write, site);
  record(w, t->tid, (size_t)off, bytes, write, site);
}

void sim_check_access(sim_worker *w, uintptr_t a, uint32_t bytes, uint32_t kind, const char *site) {
  sim_thread *t = &w->th[w->cur];
  if (kind & SIM_ACC_SHARED)
    check_shared(w, t, a, bytes, kind & SIM_ACC_WRITE, kind & SIM_ACC_ASYNC, site);
  else {
    check_global(w, t, a, bytes, kind & SIM_ACC_WRITE, site);
    if ((kind & SIM_ACC_WRITE) && w->x->check_global) check_global_race(w, t, t->buf_hint, a, bytes, site);
  }
}
