/*
 * sim_mbarrier.c - mbarrier phases and transaction counts for the simulator (sim_mbarrier.h).
 */
#include "sim_mbarrier.h"

#include <stdio.h>
#include <stdlib.h>

sim_mbar *sim_mbar_find(sim_mbar_table *t, uint32_t off) {
  for (int i = 0; i < t->n; i++)
    if (t->b[i].off == off) return &t->b[i];
  return NULL;
}

int sim_mbar_init(sim_mbar_table *t, uint32_t off, uint32_t count, const char *site, char *err, size_t errn) {
  if (off % 8) return snprintf(err, errn, "mbarrier at shared offset %u is not 8-byte aligned", off), -1;
  if (count < 1 || count > SIM_MBAR_MAX_COUNT)
    return snprintf(err, errn, "mbarrier.init count %u is outside 1..%d", count, SIM_MBAR_MAX_COUNT), -1;
  sim_mbar *b = sim_mbar_find(t, off);
  if (!b) {
    if (t->n == t->cap) {
      int cap = t->cap ? 2 * t->cap : 8;
      sim_mbar *nb = realloc(t->b, (size_t)cap * sizeof *nb);
      if (!nb) return snprintf(err, errn, "mbarrier.init: out of memory"), -1;
      t->b = nb, t->cap = cap;
    }
    b = &t->b[t->n++];
  }
  *b = (sim_mbar){off, count, count, 0, 0, site};
  return 0;
}

/* Completes the phase if nothing is outstanding. */
static void maybe_complete(sim_mbar *b) {
  if (b->pending || b->tx) return;
  b->phase++;
  b->pending = b->expected;
}

static int add_tx(sim_mbar *b, int64_t delta, char *err, size_t errn) {
  int64_t tx = (int64_t)b->tx + delta;
  if (tx > SIM_MBAR_MAX_TX || tx < -SIM_MBAR_MAX_TX)
    return snprintf(err, errn, "mbarrier at shared offset %u: transaction count %lld is outside +-%d", b->off,
                    (long long)tx, SIM_MBAR_MAX_TX),
           -1;
  b->tx = (int32_t)tx;
  return 0;
}

int sim_mbar_arrive(sim_mbar *b, uint32_t tx, uint64_t *token, char *err, size_t errn) {
  if (add_tx(b, tx, err, errn)) return -1;
  *token = b->phase;
  b->pending--; /* never zero here: a phase that reaches zero completes at once */
  maybe_complete(b);
  return 0;
}

int sim_mbar_expect_tx(sim_mbar *b, uint32_t tx, char *err, size_t errn) { return add_tx(b, tx, err, errn); }

int sim_mbar_complete_tx(sim_mbar *b, uint32_t tx, char *err, size_t errn) {
  if (add_tx(b, -(int64_t)tx, err, errn)) return -1;
  maybe_complete(b);
  return 0;
}

int sim_mbar_test_parity(const sim_mbar *b, uint32_t parity) { return (b->phase & 1) != (parity & 1); }

void sim_mbar_describe(const sim_mbar *b, char *buf, size_t n) {
  snprintf(buf, n,
           "mbarrier at shared offset %u (initialised at '%s'), phase %u: %u of %u arrivals and %d "
           "transaction bytes outstanding",
           b->off, b->site ? b->site : "?", b->phase, b->pending, b->expected, b->tx);
}

void sim_mbar_forget(sim_mbar_table *t, uint32_t lo, uint32_t hi) {
  int kept = 0;
  for (int i = 0; i < t->n; i++)
    if (t->b[i].off < lo || t->b[i].off >= hi) t->b[kept++] = t->b[i];
  t->n = kept;
}

void sim_mbar_table_free(sim_mbar_table *t) {
  free(t->b);
  *t = (sim_mbar_table){0};
}
