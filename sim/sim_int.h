/*
 * sim_int.h - the simulator's internal state, shared by the files of sim/ (not a public API).
 *
 * One launch is a sim_exec. It runs on `workers` host threads; each owns a sim_worker that runs one
 * block at a time: one sim_thread (a fiber with its own stack) per thread of the block, the block's
 * shared memory and, when checks are on, a shadow byte record per shared byte. The host thread finds
 * its worker through the thread-local sim_cur; the running fiber is w->th[w->cur].
 */
#ifndef KILN_SIM_INT_H
#define KILN_SIM_INT_H

#include <ffi.h>
#include <llvm-c/LLJIT.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../codegen/sim_abi.h"
#include "fiber.h"
#include "sim.h"
#include "sim_hopper.h"
#include "sim_mma.h"

/* How a kernel parameter is passed. */
typedef enum { SIM_P_PTR, SIM_P_INT, SIM_P_F16, SIM_P_BF16, SIM_P_F32, SIM_P_F64, SIM_P_OTHER } sim_pkind;

typedef struct {
  sim_pkind kind;
  int bits;   /* SIM_P_INT: 1..64 */
  char *name; /* the LLVM parameter's name, or NULL */
  char *type; /* printed LLVM type, for messages */
} sim_param;

struct sim_kernel {
  char *name;
  int threads, shared_bytes;
  LLVMOrcLLJITRef jit;
  void (*entry)(void);
  int nparams;
  sim_param *params;
  char jit_err[512]; /* the first error the JIT session reported */
};

/* A global buffer passed to the launch: accesses must fall inside one. */
typedef struct {
  uintptr_t lo, hi;
  int arg;
  const char *name; /* parameter name or NULL */
  /* The global-race shadow (check.c): per byte, the lowest block that wrote it (a record), mapped on
   * the first write. A buffer inside another (the same memory passed twice) uses the shadow of the
   * largest buffer containing it, `root`, from byte `off` of it. */
  int root;
  size_t off;
  _Atomic(_Atomic uint64_t *) rec;
  _Atomic uint8_t *ubits; /* profile.c: one bit per byte read or written (root buffers, profiling only) */
} sim_buf;

typedef union {
  void *p;
  int8_t i8;
  int16_t i16;
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  float f;
  double d;
} sim_argval;

/* A global-shadow record (check.c): (block + 1) << 20 | tid << 10 | site slot; 0: never written. */
enum { SIM_GREC_TID_SHIFT = 10, SIM_GREC_BLOCK_SHIFT = 20, SIM_GSITES = 1 << SIM_GREC_TID_SHIFT };

typedef struct sim_exec {
  const sim_kernel *k;
  int64_t grid[3], nblocks;
  const int64_t *sample; /* sim_opts.sample: the blocks to run (NULL: all of them) */
  int64_t nrun;          /* blocks to run: nsample or nblocks */
  ffi_cif cif;
  ffi_type **ftypes;
  sim_argval *vals;
  void **argv;
  sim_buf *bufs;
  int nbufs;
  int check_races, check_uninit, check_global;
  int profile;    /* 1: the profile counters (profile.c) are gathered */
  int concurrent; /* more than one worker: global-shadow records change by compare-and-swap */
  size_t stack_bytes;
  uint64_t max_ops; /* per thread: device ops with a site and loop iterations (UINT64_MAX: none) */
  double timeout;   /* seconds of wall time for the launch (0: none) */
  double deadline;  /* monotonic time at which the launch times out (0: none) */
  _Atomic(const char *) gsites[SIM_GSITES]; /* the sites of global-shadow records, by slot */
  atomic_llong next_block;
  atomic_llong fail_block; /* lowest failing block index, or INT64_MAX */
  pthread_mutex_t mu;
  char report[1024]; /* the report of fail_block */
} sim_exec;

/* An access kind bit beyond the ABI's: a cp.async destination, which may overlap copies in flight. */
enum { SIM_ACC_ASYNC = 4 };

/* SIM_AT_WARPGROUP and SIM_AT_MBAR: a wgmma rendezvous, an mbarrier wait (hopper_ops.c). */
typedef enum { SIM_RUN, SIM_AT_BARRIER, SIM_AT_WARP, SIM_EXITED, SIM_AT_WARPGROUP, SIM_AT_MBAR } sim_state;

typedef struct sim_thread {
  sim_tstate ts; /* first: __kiln_sim_thread returns its address */
  struct sim_worker *w;
  int tid;
  sim_state state;
  const char *site; /* the barrier or warp op it waits at */
  int bar;          /* SIM_AT_BARRIER: the barrier's id (0: the block's; 1..15: a named barrier) */
  const char *what; /* the kind of warp op: "shuffle", "mma", "ldmatrix" */
  union {           /* a warp op's operands and results, read and written by the op's last lane */
    struct {
      int32_t mode, val, arg, out;
    } shfl;
    struct {
      int32_t kind;
      const uint32_t *a, *b, *c;
      uint32_t *d;
    } mma;
    struct {
      int32_t num, trans;
      const void *row;
      uint32_t *out;
    } ldm;
  } op;
  int buf_hint;      /* index of the buffer its last global access hit */
  uint64_t steps;    /* device ops with a site and loop iterations, for the watchdog */
  const char *gsite; /* its last global store's site and that site's slot in x->gsites */
  uint32_t gsite_slot;
  sim_cp_queue cpq; /* its cp.async copies not yet waited for */
  sim_fiber fib;
} sim_thread;

enum { SIM_NO_TID = 0xffff };

/* What happened last to one byte of shared memory. Epochs count barriers (see check.c). */
typedef struct {
  uint32_t w_epoch, r_epoch;
  uint16_t w_tid, r_tid[2];
  const char *w_site, *r_site[2];
} sim_shadow;

typedef struct sim_worker {
  sim_exec *x;
  int nthreads, nwarps;
  sim_thread *th;
  sim_stacks stacks;
  sim_fiber sched; /* the worker's own context */
  int cur;         /* running thread, -1 in the scheduler */
  int64_t block[3];
  unsigned char *shared;
  size_t shared_bytes;
  sim_shadow *shadow; /* NULL when neither race nor uninitialised checks are on */
  sim_cp_shadow cps;  /* shared bytes with a cp.async in flight */
  uint32_t epoch, block_epoch;
  int bar_arrived, nexited;
  int named_arrived[16]; /* per named barrier id (1..15): threads waiting there */
  struct { /* the first read of never-written shared bytes in this epoch (tid -1: none), see check.c */
    int tid;
    size_t off;
    uint32_t len;
    const char *site;
  } uninit;
  int *warp_arrived;
  uint64_t ops;
  uint32_t tick;  /* steps until the watchdog next looks at the clock (see sim_step) */
  int64_t linear; /* the running block's linear index */
  int failed;
  char report[1024];
  void *altstack; /* guard.c: this host thread's signal stack while it runs blocks */
  stack_t old_altstack;
  struct sim_prof_w *prof; /* profile.c: NULL unless the launch profiles */
  struct sim_hopper *hop;  /* hopper_ops.c: NULL until the block uses a Hopper op */
} sim_worker;

extern __thread sim_worker *sim_cur;

/* sched.c: runs one block to completion; 0, or -1 with w->report set. */
int sim_block_run(sim_worker *w, int64_t linear);
void sim_barrier_arrive(sim_worker *w, const char *site);
/* bar.sync id, n (id 1..15, n a multiple of 32): the caller waits until n threads wait at id. */
void sim_barrier_named_arrive(sim_worker *w, int id, int n, const char *site);
/* bar.arrive id, n: the caller counts towards id's n and goes on. */
void sim_barrier_named_signal(sim_worker *w, int id, int n, const char *site);
int32_t sim_shfl_arrive(sim_worker *w, int32_t mode, int32_t v, int32_t arg, const char *site);
/* A warp collective: the running thread waits at `site` until every lane of its warp is there; the
 * last to arrive checks they all are at the same op, calls done(w, lanes, n) on the warp's n lanes
 * (their op operands filled in), and releases them. */
typedef void (*sim_warp_fn)(sim_worker *w, struct sim_thread *lanes, int n);
void sim_warp_arrive(sim_worker *w, const char *what, const char *site, sim_warp_fn done);
/* Switches away from the running thread, which has set its state to a waiting one (hopper_ops.c). */
void sim_park(sim_worker *w);
/* Writes "sim: WHAT in kernel K, block (x,y,z): DETAIL" into w->report and marks the block failed. */
void sim_report(sim_worker *w, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* From a fiber: abandons it and returns to the worker's scheduler. */
_Noreturn void sim_abandon(sim_worker *w);

/* The watchdog (abi.c): every device op with a site and every loop iteration is a step of the running
 * thread. Too many steps in one thread (x->max_ops), or the launch past its deadline, stops the launch
 * with a report naming `site`; a block after an already failed one is abandoned quietly. */
enum { SIM_WATCH_TICK = 1 << 16 };
void sim_watch(sim_worker *w, const char *site);
static inline void sim_step(sim_worker *w, const char *site) {
  uint64_t n = ++w->th[w->cur].steps;
  if (--w->tick == 0 || n > w->x->max_ops) sim_watch(w, site);
}

/* launch.c: monotonic seconds. */
double sim_now(void);
/* launch.c: block `linear` failed with `report`; kept if it is the lowest failing block so far. */
void sim_exec_fail(sim_exec *x, int64_t linear, const char *report);
/* "sim: WHAT in kernel K, block (x,y,z): " for block `linear` into buf; its length. */
int sim_report_head(const sim_exec *x, int64_t linear, const char *what, char *buf, size_t n);

/* check.c */
void sim_check_block_start(sim_worker *w);
/* At the end of an epoch (barrier, block end): reports a pending uninitialised read; 1 if it did. */
int sim_check_epoch_end(sim_worker *w);
void sim_check_access(sim_worker *w, uintptr_t a, uint32_t bytes, uint32_t kind, const char *site);

/* profile.c: the counters (docs/profiling.md). Every hook is called only when w->prof is set. */
typedef struct sim_prof_w sim_prof_w;
sim_prof_w *sim_prof_new(int nthreads);
void sim_prof_free(sim_prof_w *p);
/* A checked access of the running thread (one lane of a warp-level request). */
void sim_prof_access(sim_worker *w, uintptr_t a, uint32_t bytes, uint32_t kind, const char *site);
/* Finishes the pending requests of `warp` (-1: every warp): at a rendezvous and the block's end. */
void sim_prof_flush(sim_worker *w, int warp);
/* The counters of `site` in this worker (barrier, mma, shuffle and cp.async counts go there). */
sim_counters *sim_prof_site(sim_worker *w, const char *site);
void sim_prof_ldmatrix(sim_worker *w, int num, const void *const *rows, const char *site);
/* Merges the workers' counters into out (freed first); -1 when out of memory. */
int sim_prof_collect(sim_exec *x, sim_worker *ws, int nw, sim_profile *out);

/* guard.c: stack overflows reported like failed checks. acquire/release bracket a launch (the
 * SIGSEGV handler); thread_begin/end bracket each worker thread (its alternate signal stack). */
void sim_guard_acquire(void);
void sim_guard_release(void);
void sim_guard_thread_begin(sim_worker *w);
void sim_guard_thread_end(sim_worker *w);

/* report.c: "thread 5", "threads 0..15", "threads 0..15,32..47", ... from an ascending list. */
void sim_fmt_threads(char *buf, size_t n, const int *tids, int count);

/* libcalls.c: every symbol the JIT'd code may call, defined as absolute addresses. */
typedef struct {
  const char *name;
  void *addr;
} sim_symbol;
extern const sim_symbol sim_symbols[];
extern const int sim_nsymbols;
/* The half/bfloat conversions LLVM calls on x86-64 (half and bfloat travel in a float's low 16 bits). */
float sim_f32_to_f16(float x);
float sim_f64_to_f16(double x);
float sim_f16_to_f32(float h);
double sim_f16_to_f64(float h);
float sim_f32_to_bf16(float x);
float sim_f64_to_bf16(double x);

#endif
