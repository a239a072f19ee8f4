/*
 * profile.c - the profile counters (docs/profiling.md): what the hardware would count, per warp-level
 * request, attributed to the IR op's site.
 *
 * Warp ops (shuffle, mma, ldmatrix) and barriers are rendezvous, counted once when they complete.
 * Plain loads and stores are not: the lanes of a warp run one after another, so each access goes into
 * a pending request keyed by (warp, site, instance), the instance being the thread's count of that
 * site since its warp last met at a rendezvous. A request is finished when every lane of the warp has
 * reported, or at the next barrier, warp op of that warp, or the block's end (masked lanes never
 * report). Per (warp, site), `made` counts the instances that have a request, so the first lane of an
 * instance appends without searching; later lanes search from where their previous request was
 * (lanes run the same code, so that is nearly always the next entry). Finished requests are dropped
 * when a warp's table fills. Finishing it computes shared wavefronts (target/smem_banks.c: 32 banks of 4-byte
 * words; 8-byte accesses per half-warp, 16-byte per quarter-warp) or global sectors (distinct 32-byte
 * segments) and marks the global bytes in a per-buffer bitmap for the launch's unique bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../target/smem_banks.h"
#include "sim_int.h"

enum { SITE_HASH = 1024 };

typedef struct {
  uint32_t slot, inst, nl, done;
  uint32_t kind;
  uint32_t mask;
  uintptr_t addr[32];
  uint16_t bytes[32];
} pending;

typedef struct {
  pending *e;
  int n, cap;
} warp_pending;

struct sim_prof_w {
  const char *hkey[SITE_HASH]; /* site pointer -> slot + 1 in hval */
  int hval[SITE_HASH];
  const char **sites;
  sim_counters *c;
  int nsites, cap;
  uint32_t *inst; /* nthreads x cap: each thread's count of each site since its last rendezvous */
  uint32_t *made; /* nwarps x cap: the instances of each site its warp has a request for (same span) */
  int *pos;       /* per thread: where its warp's pending search starts */
  warp_pending *wp;
  int nthreads, nwarps;
};

sim_prof_w *sim_prof_new(int nthreads) {
  sim_prof_w *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->nthreads = nthreads;
  p->nwarps = (nthreads + 31) / 32;
  p->cap = 64;
  p->sites = calloc((size_t)p->cap, sizeof *p->sites);
  p->c = calloc((size_t)p->cap, sizeof *p->c);
  p->inst = calloc((size_t)p->cap * (size_t)nthreads, sizeof *p->inst);
  p->made = calloc((size_t)p->cap * (size_t)p->nwarps, sizeof *p->made);
  p->pos = calloc((size_t)nthreads, sizeof *p->pos);
  p->wp = calloc((size_t)p->nwarps, sizeof *p->wp);
  if (!p->sites || !p->c || !p->inst || !p->made || !p->pos || !p->wp) {
    sim_prof_free(p);
    return NULL;
  }
  return p;
}

void sim_prof_free(sim_prof_w *p) {
  if (!p) return;
  for (int i = 0; p->wp && i < p->nwarps; i++) free(p->wp[i].e);
  free(p->wp);
  free(p->sites);
  free(p->c);
  free(p->inst);
  free(p->made);
  free(p->pos);
  free(p);
}

static _Noreturn void oom(void) {
  fprintf(stderr, "kiln: out of memory for the simulator's profile\n");
  abort();
}

/* The slot of `site` in p (interned on first sight). */
static int slot_of(sim_prof_w *p, const char *site) {
  size_t h = ((uintptr_t)site >> 3) & (SITE_HASH - 1);
  for (int probe = 0; probe < SITE_HASH; probe++, h = (h + 1) & (SITE_HASH - 1)) {
    if (p->hkey[h] == site) return p->hval[h];
    if (p->hkey[h]) continue;
    if (p->nsites == p->cap) {
      int cap = p->cap * 2;
      const char **s = realloc(p->sites, sizeof *s * (size_t)cap);
      sim_counters *c = s ? realloc(p->c, sizeof *c * (size_t)cap) : NULL;
      uint32_t *inst = c ? calloc((size_t)cap * (size_t)p->nthreads, sizeof *inst) : NULL;
      uint32_t *made = inst ? calloc((size_t)cap * (size_t)p->nwarps, sizeof *made) : NULL;
      if (s) p->sites = s;
      if (c) p->c = c;
      if (!made) oom();
      for (int t = 0; t < p->nthreads; t++)
        memcpy(inst + (size_t)t * cap, p->inst + (size_t)t * p->cap, sizeof *inst * (size_t)p->cap);
      for (int wp = 0; wp < p->nwarps; wp++)
        memcpy(made + (size_t)wp * cap, p->made + (size_t)wp * p->cap, sizeof *made * (size_t)p->cap);
      free(p->inst);
      free(p->made);
      p->inst = inst;
      p->made = made;
      memset(p->c + p->cap, 0, sizeof *p->c * (size_t)(cap - p->cap));
      p->cap = cap;
    }
    p->hkey[h] = site;
    p->hval[h] = p->nsites;
    p->sites[p->nsites] = site;
    return p->nsites++;
  }
  oom(); /* more than SITE_HASH sites: a kernel has about as many as IR ops */
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and returns the number of distinct values (moved to the front). */
static int uniq(uint64_t *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_u64);
  int m = 0;
  for (int i = 0; i < n; i++)
    if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
  return m;
}

/* Marks global bytes [a, a+n) in the unique-byte bitmap of the buffer holding them; returns how many
 * of them no access had touched before (the op's first-touch unique bytes). */
static uint32_t mark_unique(sim_exec *x, uintptr_t a, uint32_t n) {
  uint32_t fresh = 0;
  for (int i = 0; i < x->nbufs; i++) {
    const sim_buf *b = &x->bufs[i];
    if (a < b->lo || a + n > b->hi) continue;
    const sim_buf *r = &x->bufs[b->root];
    _Atomic uint8_t *bits = r->ubits;
    size_t o = b->off + (a - b->lo);
    for (size_t k = o; k < o + n; k++) {
      uint8_t bit = (uint8_t)(1u << (k & 7));
      fresh += !(atomic_fetch_or_explicit(&bits[k >> 3], bit, memory_order_relaxed) & bit);
    }
    return fresh;
  }
  return fresh;
}

static void finish(sim_worker *w, pending *e) {
  sim_prof_w *p = w->prof;
  sim_counters *c = &p->c[e->slot];
  e->done = 1;
  if (e->kind & SIM_ACC_SHARED) {
    uintptr_t off[32];
    for (int l = 0; l < 32; l++) off[l] = e->addr[l] - (uintptr_t)w->shared;
    uint64_t ideal, wf = tg_smem_wavefronts(off, e->bytes, e->mask, &ideal);
    c->smem_requests++;
    c->smem_wavefronts += wf;
    c->smem_ideal_wavefronts += ideal;
    if (e->kind & SIM_ACC_WRITE) c->smem_store_requests++, c->smem_store_wavefronts += wf;
    return;
  }
  uint64_t sec[32 * 2 + 2];
  int n = 0;
  for (int l = 0; l < 32; l++)
    if (e->mask >> l & 1) {
      for (uintptr_t s = e->addr[l] / 32; s <= (e->addr[l] + e->bytes[l] - 1) / 32 && n < 66; s++)
        sec[n++] = s;
      c->gmem_bytes += e->bytes[l];
      c->gmem_unique_bytes += mark_unique(w->x, e->addr[l], e->bytes[l]);
    }
  c->gmem_requests++;
  c->gmem_sectors += (uint64_t)uniq(sec, n);
}

static int warp_lanes(const sim_worker *w, int warp) {
  int n = w->nthreads - warp * 32;
  return n > 32 ? 32 : n;
}

void sim_prof_access(sim_worker *w, uintptr_t a, uint32_t bytes, uint32_t kind, const char *site) {
  sim_prof_w *p = w->prof;
  int tid = w->cur, warp = tid >> 5, lane = tid & 31, slot = slot_of(p, site);
  uint32_t inst = p->inst[(size_t)tid * p->cap + slot]++;
  warp_pending *wp = &p->wp[warp];
  pending *e = NULL;
  uint32_t *made = &p->made[(size_t)warp * p->cap + slot];
  if (inst < *made) /* another lane made it: search from where this thread's last request was */
    for (int k = 0; k < wp->n && !e; k++) {
      int i = (p->pos[tid] + k) % wp->n;
      if (wp->e[i].slot == (uint32_t)slot && wp->e[i].inst == inst && !wp->e[i].done) e = &wp->e[i];
    }
  if (!e) { /* the first lane here (a request is finished only when every lane has joined it) */
    if (inst + 1 > *made) *made = inst + 1;
    if (wp->n == wp->cap) { /* drop the finished requests first */
      int m = 0;
      for (int i = 0; i < wp->n; i++)
        if (!wp->e[i].done) wp->e[m++] = wp->e[i];
      wp->n = m;
    }
    if (wp->n == wp->cap) {
      int cap = wp->cap ? wp->cap * 2 : 16;
      pending *ne = realloc(wp->e, sizeof *ne * (size_t)cap);
      if (!ne) oom();
      wp->e = ne;
      wp->cap = cap;
    }
    e = &wp->e[wp->n++];
    memset(e, 0, sizeof *e);
    e->slot = (uint32_t)slot;
    e->inst = inst;
    e->kind = kind;
  }
  p->pos[tid] = (int)(e - wp->e) + 1;
  e->addr[lane] = a;
  e->bytes[lane] = (uint16_t)bytes;
  e->mask |= 1u << lane;
  if ((int)++e->nl == warp_lanes(w, warp)) finish(w, e);
}

/* Finishes warp's pending requests and restarts its lanes' instance counts. */
static void flush_warp(sim_worker *w, int warp) {
  sim_prof_w *p = w->prof;
  warp_pending *wp = &p->wp[warp];
  for (int i = 0; i < wp->n; i++)
    if (!wp->e[i].done) finish(w, &wp->e[i]);
  wp->n = 0;
  memset(p->made + (size_t)warp * p->cap, 0, sizeof *p->made * (size_t)p->nsites);
  for (int t = warp * 32; t < warp * 32 + warp_lanes(w, warp); t++) {
    memset(p->inst + (size_t)t * p->cap, 0, sizeof *p->inst * (size_t)p->nsites);
    p->pos[t] = 0;
  }
}

void sim_prof_flush(sim_worker *w, int warp) {
  if (warp >= 0) {
    flush_warp(w, warp);
    return;
  }
  for (int i = 0; i < w->prof->nwarps; i++) flush_warp(w, i);
}

sim_counters *sim_prof_site(sim_worker *w, const char *site) {
  int slot = slot_of(w->prof, site); /* first: it may move the array */
  return &w->prof->c[slot];
}

void sim_prof_ldmatrix(sim_worker *w, int num, const void *const *rows, const char *site) {
  sim_counters *c = sim_prof_site(w, site);
  uintptr_t off[32] = {0};
  uint16_t bytes[32];
  for (int l = 0; l < 32; l++) off[l] = (uintptr_t)rows[l] - (uintptr_t)w->shared, bytes[l] = 16;
  c->ldmatrix++;
  c->smem_requests++;
  for (int j = 0; j < num; j++) {
    uint64_t ideal;
    c->smem_wavefronts += tg_smem_phase_wavefronts(off, bytes, 0xffu << (8 * j), 8 * j, 8 * j + 8, &ideal);
    c->smem_ideal_wavefronts += ideal;
  }
}

static int cmp_op(const void *a, const void *b) {
  return strcmp(((const sim_prof_op *)a)->site, ((const sim_prof_op *)b)->site);
}

static void add(sim_counters *d, const sim_counters *s) {
  d->smem_requests += s->smem_requests;
  d->smem_wavefronts += s->smem_wavefronts;
  d->smem_store_requests += s->smem_store_requests;
  d->smem_store_wavefronts += s->smem_store_wavefronts;
  d->smem_ideal_wavefronts += s->smem_ideal_wavefronts;
  d->gmem_requests += s->gmem_requests;
  d->gmem_sectors += s->gmem_sectors;
  d->gmem_bytes += s->gmem_bytes;
  d->gmem_unique_bytes += s->gmem_unique_bytes;
  d->barriers += s->barriers;
  d->mma += s->mma;
  d->ldmatrix += s->ldmatrix;
  d->cp_async_bytes += s->cp_async_bytes;
  d->tma_bytes += s->tma_bytes;
  d->shuffles += s->shuffles;
  d->mma_ops16 += s->mma_ops16;
  d->mma_ops8 += s->mma_ops8;
  d->mma_ops1 += s->mma_ops1;
  d->wgmma_ops16 += s->wgmma_ops16;
  d->wgmma_ops8 += s->wgmma_ops8;
  d->iterations += s->iterations;
}

int sim_prof_collect(sim_exec *x, sim_worker *ws, int nw, sim_profile *out) {
  sim_profile_free(out);
  int n = 0;
  for (int i = 0; i < nw; i++) n += ws[i].prof ? ws[i].prof->nsites : 0;
  out->ops = calloc((size_t)n + 1, sizeof *out->ops);
  if (!out->ops) return -1;
  for (int i = 0; i < nw; i++)
    for (int s = 0; ws[i].prof && s < ws[i].prof->nsites; s++) {
      out->ops[out->nops].site = (char *)ws[i].prof->sites[s];
      out->ops[out->nops++].c = ws[i].prof->c[s];
    }
  qsort(out->ops, (size_t)out->nops, sizeof *out->ops, cmp_op);
  int m = 0;
  for (int i = 0; i < out->nops; i++) {
    if (m > 0 && !strcmp(out->ops[m - 1].site, out->ops[i].site))
      add(&out->ops[m - 1].c, &out->ops[i].c);
    else
      out->ops[m++] = out->ops[i];
  }
  out->nops = m;
  int rc = 0;
  for (int i = 0; i < m; i++) {
    add(&out->total, &out->ops[i].c);
    if (!(out->ops[i].site = strdup(out->ops[i].site))) rc = -1;
  }
  out->blocks = (uint64_t)x->nrun;
  out->total.gmem_unique_bytes = 0; /* from the bitmaps: the ops' first touches sum to the same */
  for (int i = 0; i < x->nbufs; i++) {
    const sim_buf *b = &x->bufs[i];
    if (b->root != i || !b->ubits) continue;
    for (size_t k = 0; k < (b->hi - b->lo + 7) / 8; k++)
      out->total.gmem_unique_bytes += (uint64_t)__builtin_popcount(b->ubits[k]);
  }
  return rc;
}

void sim_profile_free(sim_profile *p) {
  if (!p) return;
  for (int i = 0; i < p->nops; i++) free(p->ops[i].site);
  free(p->ops);
  memset(p, 0, sizeof *p);
}
