/*
 * tensor_ops.c - the tensor-core entry points of sim_mma.h: mma.sync and ldmatrix are warp
 * rendezvous (sim_warp_arrive) that compute with sim_mma.c's fragment semantics; cp.async goes into
 * the issuing thread's queue and the block's in-flight record, which every shared access consults.
 *
 *   mma:      each lane leaves pointers to its register arrays (on its own fiber stack, which stays
 *             put while it waits); the last lane computes every lane's D.
 *   ldmatrix: lanes 8j..8j+7 (j < num) give the rows of matrix j; each checks its 16-byte row as a
 *             shared read before arriving; the last lane fills every lane's registers.
 *   cp.async: the global source (src_bytes of it) and the shared destination are checked and the
 *             destination recorded as written by the issuing thread; the bytes land at the wait that
 *             covers their group (or at thread exit). Reading or storing to them before that is
 *             reported by check.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sim_int.h"

static sim_worker *current(void) {
  sim_worker *w = sim_cur;
  if (!w || w->cur < 0) {
    fprintf(stderr, "kiln: a simulator entry point was called outside a simulated thread\n");
    abort();
  }
  w->ops++;
  return w;
}

/* mma and ldmatrix need all 32 lanes; a block whose size is not a multiple of 32 has a short warp. */
static void need_full_warp(sim_worker *w, sim_thread *l, int n) {
  if (n == 32) return;
  char what[64];
  snprintf(what, sizeof what, "partial-warp %s", l[0].what);
  sim_report(w, what, "warp %d has %d threads at '%s'; %s needs all 32 lanes", l[0].tid / 32, n, l[0].site,
             l[0].what);
  sim_abandon(w);
}

static void mma_done(sim_worker *w, sim_thread *l, int n) {
  need_full_warp(w, l, n);
  sim_mma_lane lanes[32];
  for (int i = 0; i < 32; i++)
    lanes[i] = (sim_mma_lane){l[i].op.mma.a, l[i].op.mma.b, l[i].op.mma.c, l[i].op.mma.d};
  sim_mma_lanes((cg_mma_kind)l[0].op.mma.kind, lanes);
  if (w->prof) {
    sim_counters *c = sim_prof_site(w, l[0].site);
    const cg_mma_info *mi = cg_mma_info_of((cg_mma_kind)l[0].op.mma.kind);
    uint64_t ops = 2ull * (uint64_t)(mi->m * mi->n * mi->k);
    c->mma++;
    if (mi->in_bits == 16) c->mma_ops16 += ops;
    if (mi->in_bits == 8) c->mma_ops8 += ops;
    if (mi->in_bits == 1) c->mma_ops1 += ops;
  }
}

void __kiln_sim_mma(int32_t kind, const uint32_t *a, const uint32_t *b, const uint32_t *c, uint32_t *d,
                    const char *site) {
  sim_worker *w = current();
  if (!cg_mma_info_of((cg_mma_kind)kind)) {
    fprintf(stderr, "kiln: simulator mma kind %d does not exist\n", kind);
    abort();
  }
  sim_thread *t = &w->th[w->cur];
  t->op.mma.kind = kind;
  t->op.mma.a = a;
  t->op.mma.b = b;
  t->op.mma.c = c;
  t->op.mma.d = d;
  sim_warp_arrive(w, "mma", site, mma_done);
}

static void ldmatrix_done(sim_worker *w, sim_thread *l, int n) {
  need_full_warp(w, l, n);
  const void *rows[32];
  uint32_t *out[32];
  for (int i = 0; i < 32; i++) rows[i] = l[i].op.ldm.row, out[i] = l[i].op.ldm.out;
  sim_ldmatrix_lanes(l[0].op.ldm.num, l[0].op.ldm.trans, rows, out);
  if (w->prof) sim_prof_ldmatrix(w, l[0].op.ldm.num, rows, l[0].site);
}

void __kiln_sim_ldmatrix(int32_t num, int32_t trans, const void *row, uint32_t *out, const char *site) {
  sim_worker *w = current();
  if (num != 1 && num != 2 && num != 4) {
    fprintf(stderr, "kiln: simulator ldmatrix of %d matrices does not exist\n", num);
    abort();
  }
  sim_thread *t = &w->th[w->cur];
  if ((t->tid & 31) < 8 * num) sim_check_access(w, (uintptr_t)row, 16, SIM_ACC_SHARED, site);
  t->op.ldm.num = num;
  t->op.ldm.trans = trans;
  t->op.ldm.row = row;
  t->op.ldm.out = out;
  sim_warp_arrive(w, "ldmatrix", site, ldmatrix_done);
}

void __kiln_sim_cp_async(void *dst, const void *src, int32_t bytes, int32_t src_bytes, const char *site) {
  sim_worker *w = current();
  sim_thread *t = &w->th[w->cur];
  if (src_bytes > 0 && src_bytes <= bytes) sim_check_access(w, (uintptr_t)src, (uint32_t)src_bytes, 0, site);
  if (bytes > 0)
    sim_check_access(w, (uintptr_t)dst, (uint32_t)bytes, SIM_ACC_SHARED | SIM_ACC_WRITE | SIM_ACC_ASYNC,
                     site);
  char err[256];
  if (sim_cp_async_issue(&t->cpq, &w->cps, dst, src, bytes, src_bytes, err, sizeof err)) {
    sim_report(w, "bad cp.async", "thread %d at '%s': %s", t->tid, site, err);
    sim_abandon(w);
  }
  if (w->prof && bytes > 0) {
    sim_prof_site(w, site)->cp_async_bytes += (uint64_t)bytes;
    if (src_bytes > 0) sim_prof_access(w, (uintptr_t)src, (uint32_t)src_bytes, 0, site); /* its global read */
  }
}

void __kiln_sim_cp_async_commit(const char *site) {
  sim_worker *w = current();
  (void)site;
  sim_cp_async_commit(&w->th[w->cur].cpq);
}

void __kiln_sim_cp_async_wait(int32_t n, const char *site) {
  sim_worker *w = current();
  (void)site;
  sim_cp_async_wait(&w->th[w->cur].cpq, &w->cps, n);
}
