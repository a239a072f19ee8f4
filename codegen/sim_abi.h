/*
 * sim_abi.h - the calls that code lowered for CG_SIM makes into the simulator: the contract, owned by
 * codegen (which emits the calls) and implemented by sim/ (which defines them).
 *
 * codegen/devops_sim.c emits calls to these functions; sim/jit.c defines them in the JIT as absolute
 * symbols (no -rdynamic, so a static kiln works). They run on the fiber of the simulated thread that
 * made the call and find it through the host thread's current worker.
 *
 *   entry:   %ts = call ptr @__kiln_sim_thread()            ; once, first in the kernel's entry block
 *   sreg:    load i32 from %ts + SIM_TS_SREG_OFF + 4*cg_sreg (invariant)
 *   shared:  load ptr from %ts + SIM_TS_SHARED_OFF            (the block's dynamic shared memory)
 *   access:  %a = call ptr @__kiln_sim_access(ptr, i32 bytes, i32 kind, ptr site)
 *            then a plain load/store of `bytes` bytes at %a; masked-off lanes branch around both
 *   barrier: call void @__kiln_sim_barrier(ptr site)
 *   named barrier (bar.sync id, n): call void @__kiln_sim_barrier_named(i32 id, i32 n, ptr site)
 *   shuffle: %r = call i32 @__kiln_sim_shfl(i32 mode, i32 v, i32 arg, ptr site)
 *   math:    call float @__kiln_sim_mathf(i32 cg_math, float), call double @__kiln_sim_math(i32, double)
 *   loop:    call void @__kiln_sim_loop(ptr site)                on every back-edge (the watchdog's count)
 *   bound:   call void @__kiln_sim_check_bound(i64 v, i64 n, ptr site)   op bounded: 0 <= v < n
 *
 * `site` is a NUL-terminated constant string naming the IR op (cg_ctx.site); reports quote it.
 * A failed check never returns: the fiber is abandoned and the launch stops with a report.
 */
#ifndef KILN_SIM_ABI_H
#define KILN_SIM_ABI_H

#include <stdint.h>

/* Number of special registers; equals CG_NSREG (checked in devops_sim.c). */
enum { SIM_NSREG = 9 };

/* What a simulated thread exposes to the lowered code. Offsets are part of the ABI. */
typedef struct sim_tstate {
  void *shared;            /* base of the block's dynamic shared memory */
  int32_t sreg[SIM_NSREG]; /* indexed by cg_sreg */
} sim_tstate;

enum { SIM_TS_SHARED_OFF = 0, SIM_TS_SREG_OFF = 8 };

/* Access kinds: bit 0 = write, bit 1 = shared memory. */
enum { SIM_ACC_WRITE = 1, SIM_ACC_SHARED = 2 };

/* Shuffle modes (the values of cg_shfl). */
enum { SIM_SHFL_XOR, SIM_SHFL_IDX, SIM_SHFL_UP, SIM_SHFL_DOWN };

sim_tstate *__kiln_sim_thread(void);
void *__kiln_sim_access(void *addr, uint32_t bytes, uint32_t kind, const char *site);
void __kiln_sim_barrier(const char *site);
void __kiln_sim_barrier_named(int32_t id, int32_t n, const char *site);
void __kiln_sim_barrier_named_signal(int32_t id, int32_t n, const char *site); /* bar.arrive */
int32_t __kiln_sim_shfl(int32_t mode, int32_t v, int32_t arg, const char *site);
float __kiln_sim_mathf(int32_t m, float x);
double __kiln_sim_math(int32_t m, double x);
void __kiln_sim_loop(const char *site);
void __kiln_sim_check_bound(int64_t v, int64_t n, const char *site);

#endif
