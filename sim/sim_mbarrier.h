/*
 * sim_mbarrier.h - the simulator's mbarrier: the phase and transaction-count rules of the PTX ISA.
 *
 * An mbarrier is a 64-bit object in shared memory. The simulator keeps its state beside the block
 * (a table keyed by the shared offset), never in the 8 bytes themselves, so a plain store to them is
 * a race the shared-memory checks see and cannot corrupt the model.
 *
 * A phase completes when its pending arrival count reaches zero and its transaction count is zero;
 * then the phase number advances, the pending count is reset to the expected count and the next phase
 * begins. try_wait.parity(p) is true once the phase of parity p has completed, i.e. while the current
 * phase's parity differs from p.
 */
#ifndef KILN_SIM_MBARRIER_H
#define KILN_SIM_MBARRIER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t off;      /* the barrier's shared-memory offset (8-byte aligned) */
  uint32_t expected; /* arrivals per phase (init's count) */
  uint32_t pending;  /* arrivals the current phase still needs */
  int32_t tx;        /* transaction bytes still expected in the current phase (may dip below zero) */
  uint32_t phase;    /* completed phases */
  const char *site;  /* where it was initialised */
  /* for the TMA checks (hopper_ops.c): the most completed phases a thread has seen through a
   * successful try_wait, and that count as of the block's last barrier (every thread has it then) */
  uint32_t seen_any, seen_block;
} sim_mbar;

/* The block's barriers. Zero-initialised = empty. */
typedef struct {
  sim_mbar *b;
  int n, cap;
} sim_mbar_table;

enum { SIM_MBAR_MAX_COUNT = (1 << 20) - 1, SIM_MBAR_MAX_TX = (1 << 20) - 1 };

/* The barrier at shared offset off, or NULL if none was initialised there. */
sim_mbar *sim_mbar_find(sim_mbar_table *t, uint32_t off);
/* mbarrier.init: (re)initialises the barrier at off with count arrivals per phase. 0, or -1 with a
 * message (misaligned, count out of 1..2^20-1, out of memory). */
int sim_mbar_init(sim_mbar_table *t, uint32_t off, uint32_t count, const char *site, char *err, size_t errn);
/* mbarrier.arrive[.expect_tx]: adds tx bytes to the transaction count, then one arrival. Returns the
 * state token (the phase it arrived in) in *token. 0, or -1 with a message. */
int sim_mbar_arrive(sim_mbar *b, uint32_t tx, uint64_t *token, char *err, size_t errn);
/* mbarrier.expect_tx alone: adds tx bytes without arriving. */
int sim_mbar_expect_tx(sim_mbar *b, uint32_t tx, char *err, size_t errn);
/* complete_tx (a bulk copy's bytes landing): subtracts tx bytes; may complete the phase. */
int sim_mbar_complete_tx(sim_mbar *b, uint32_t tx, char *err, size_t errn);
/* try_wait.parity: 1 if the phase of parity `parity` has completed. */
int sim_mbar_test_parity(const sim_mbar *b, uint32_t parity);
/* One line on what the current phase still needs: "mbarrier at shared offset 64 (initialised at
 * SITE), phase 0: 1 of 2 arrivals and 4096 transaction bytes outstanding". */
void sim_mbar_describe(const sim_mbar *b, char *buf, size_t n);
/* Forgets the barriers at offsets in [lo, hi) (mbarrier.inval, or the block's end with 0, UINT32_MAX). */
void sim_mbar_forget(sim_mbar_table *t, uint32_t lo, uint32_t hi);
void sim_mbar_table_free(sim_mbar_table *t);

#endif
