/*
 * sim.h - the SIMT simulator: runs a kernel lowered for the CG_SIM back end on the CPU.
 *
 * The module from cg_compile(..., CG_SIM, ...) is compiled for the host with LLVM's ORC JIT and its
 * kernel entry is called through libffi, once per simulated thread, each thread a fiber with its own
 * stack. Blocks are spread over host threads. Barriers and warp collectives are rendezvous points.
 * The checks a GPU does not make (out-of-bounds global/shared access, shared-memory races between
 * barriers, two blocks writing the same global bytes, divergent barriers, reads of never-written shared
 * memory, a thread that never ends) stop the launch with a one-line report naming kernel, block,
 * thread(s), op and address. The KILN_SIM_* environment variables are parsed strictly: a bad value is
 * an error of the launch. docs/simulator.md describes all of it.
 */
#ifndef KILN_SIM_H
#define KILN_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "../codegen/codegen.h"

typedef struct {
  int is_ptr;   /* 1: a global buffer */
  ir_elem elem; /* element type (pointee for buffers) */
  void *ptr;    /* buffers: host memory the kernel reads/writes */
  size_t bytes; /* buffers: size, for bounds checks */
  int64_t ival; /* integer scalars */
  double fval;  /* float scalars */
} sim_arg;

/* Profile counters (docs/profiling.md): a model of what the hardware would count, per launch. */
typedef struct {
  uint64_t smem_requests, smem_wavefronts; /* warp-level shared requests (ldmatrix included), wavefronts */
  uint64_t smem_store_requests, smem_store_wavefronts; /* the stores among them */
  uint64_t smem_ideal_wavefronts;       /* the wavefronts the same requests take without bank conflicts */
  uint64_t gmem_requests, gmem_sectors; /* warp-level global requests, distinct 32-byte sectors */
  uint64_t gmem_bytes,
      gmem_unique_bytes; /* bytes the lanes asked for; distinct bytes (per op: first touches) */
  uint64_t barriers, mma, ldmatrix, cp_async_bytes, shuffles; /* barriers per block; warp-level ops */
  uint64_t mma_ops16, mma_ops8, mma_ops1; /* 2*m*n*k of the mma with 16-bit, 8-bit and 1-bit inputs */
  uint64_t wgmma_ops16, wgmma_ops8;       /* the part of them done by warpgroup MMAs */
  uint64_t tma_bytes;                     /* bulk tensor copies' boxes, loads and stores (not in gmem_*) */
  uint64_t iterations; /* a loop op's iterations run by each block's first thread, summed over blocks */
} sim_counters;

typedef struct {
  char *site; /* the IR op's site string, "op %3 (file:line)" */
  sim_counters c;
} sim_prof_op;

typedef struct {
  sim_counters total;
  sim_prof_op *ops; /* sorted by site string */
  int nops;
  uint64_t blocks; /* blocks run (the grid, or the sample) */
} sim_profile;

/* Frees p's ops and zeroes it. */
void sim_profile_free(sim_profile *p);

typedef struct {
  int workers;         /* host threads (0 = number of cores) */
  int check_races;     /* 0 (default) or 1: on; -1: off */
  int check_uninit;    /* 0 (default) or 1: on; -1: off */
  uint64_t thread_ops; /* out: simulated device ops executed (for speed reports) */
  double seconds;      /* out: wall time of the launch */
  size_t stack_bytes;  /* fiber stack per thread (0 = $KILN_SIM_STACK_KB KiB, else 256 KiB) */
  uint64_t threads;    /* out: simulated threads run to completion */
  uint64_t max_ops;    /* watchdog: steps per thread (0 = $KILN_SIM_MAX_OPS, else 4e9; UINT64_MAX: none) */
  double timeout;      /* watchdog: seconds per launch (0 = $KILN_SIM_TIMEOUT, else 600; < 0: none) */
  int check_global;    /* cross-block global write races: 0 ($KILN_SIM_GLOBAL_RACES, else on), 1 on, -1 off */
  sim_profile *profile;  /* non-NULL: out: the launch's counters (previous contents freed); NULL: none */
  const int64_t *sample; /* non-NULL: run only these blocks (linear ids x + gx*(y + gy*z), strictly */
  int64_t nsample;       /* increasing, in the grid); the kernel still sees the whole grid's size */
} sim_opts;

/* Runs k (CG_SIM result; the module is consumed) over grid with args. 0 on success; -1 with the
 * one-line report in err. o may be NULL (defaults). */
int sim_launch(cg_result *k, const sim_arg *args, int nargs, const int64_t grid[3], sim_opts *o, char *err,
               size_t errn);

/* Load once, launch many: sim_load JIT-compiles k's module (consumed even on error: k->llvm_ctx and
 * k->llvm_mod are set to NULL); sim_run launches it any number of times. NULL / -1 with a one-line
 * message in err. */
typedef struct sim_kernel sim_kernel;
sim_kernel *sim_load(cg_result *k, char *err, size_t errn);
int sim_run(sim_kernel *k, const sim_arg *args, int nargs, const int64_t grid[3], sim_opts *o, char *err,
            size_t errn);
void sim_kernel_free(sim_kernel *k);
const char *sim_kernel_name(const sim_kernel *k);

#endif
