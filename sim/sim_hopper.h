/*
 * sim_hopper.h - the simulator's Hopper ops as lowered code calls them (codegen/devops_sim_hopper.c
 * emits these calls), and the hooks the scheduler calls.
 *
 * The semantics live in sim_wgmma.c, sim_tma.c and sim_mbarrier.c; hopper_ops.c keeps the per-block
 * state (mbarriers, swizzle tags, the warpgroup rendezvous, each thread's wgmma groups and results)
 * and turns misuse into one-line reports. docs/hopper.md describes the model and its limits.
 */
#ifndef KILN_SIM_HOPPER_H
#define KILN_SIM_HOPPER_H

#include <stddef.h>
#include <stdint.h>

struct sim_worker;
struct sim_thread;

/* ---- the ABI ---- */
void __kiln_sim_wgmma_fence(const char *site);
void __kiln_sim_wgmma(int32_t type, int32_t n, uint64_t adesc, uint64_t bdesc, uint32_t *acc, int32_t scale_d,
                      int32_t neg_a, int32_t neg_b, const char *site);
void __kiln_sim_wgmma_rs(int32_t type, int32_t n, uint32_t *aregs, uint64_t bdesc, uint32_t *acc,
                         int32_t scale_d, int32_t neg_a, int32_t neg_b, const char *site);
void __kiln_sim_wgmma_commit(const char *site);
void __kiln_sim_wgmma_wait(int32_t n, uint32_t *regs, int32_t nregs, const char *site);
void __kiln_sim_tma_load(int32_t dims, void *sdst, const void *tmap, const int32_t *coords, void *bar,
                         const char *site);
void __kiln_sim_tma_store(int32_t dims, const void *tmap, const int32_t *coords, const void *ssrc,
                          const char *site);
void __kiln_sim_tma_store_commit(const char *site);
void __kiln_sim_tma_store_wait(int32_t n, const char *site);
void __kiln_sim_mbar_init(void *bar, int32_t count, const char *site);
uint64_t __kiln_sim_mbar_arrive(void *bar, int32_t tx_bytes, const char *site);
int32_t __kiln_sim_mbar_try_wait(void *bar, int32_t parity, const char *site);
void __kiln_sim_mbar_inval(void *bar, const char *site);
void __kiln_sim_fence_proxy_async(const char *site);
void __kiln_sim_setmaxnreg(int32_t inc, int32_t n, const char *site);
int32_t __kiln_sim_elect_sync(const char *site);

/* ---- the scheduler's hooks (no-ops for a block that used none of these ops) ---- */
void sim_hopper_block_start(struct sim_worker *w);
/* A thread is about to exit: reports wgmma ops it never waited for. */
void sim_hopper_thread_exit(struct sim_worker *w, struct sim_thread *t);
/* Nobody can run: if threads wait on an mbarrier or at a wgmma, reports that and returns 1. */
int sim_hopper_deadlock(struct sim_worker *w);
void sim_hopper_free(struct sim_worker *w);
/* The site of a wgmma that still reads shared bytes [off, off + bytes) as thread tid sees it (*g: its
 * warpgroup), or NULL: one of tid's own warpgroup that tid has not waited for, or one of another
 * warpgroup that not all of that warpgroup has waited for. */
const char *sim_hopper_pending_read(struct sim_worker *w, int tid, size_t off, size_t bytes, int *g);
/* A shared read by thread tid of bytes a TMA load wrote for an mbarrier phase the thread has not
 * seen complete (its own try_wait, or any thread's before the block's last barrier): the load's
 * site, with the barrier's offset and the phase; NULL if none. */
const char *sim_hopper_tma_unseen(struct sim_worker *w, int tid, size_t off, size_t bytes, uint32_t *bar,
                                  uint32_t *phase);
/* An ordinary shared write: those bytes are no longer a TMA load's. */
void sim_hopper_shared_write(struct sim_worker *w, size_t off, size_t bytes);
/* The block barrier: the phases any thread has seen count as seen by all. */
void sim_hopper_barrier(struct sim_worker *w);

#endif
