/*
 * kiln.h - the public C API of kiln: load a recipe (or an IR file), apply settings, compile it for a
 * target to IR, LLVM IR, PTX, cubin or launch facts, run it on the GPU or the simulator against its
 * C reference, and run passes over IR text. The `kiln` command line is a client of this header and of
 * nothing deeper; docs/api.md has an example program.
 *
 * Contracts that hold for every call:
 *   - Every call that can fail returns a kiln_status. On failure the message is in
 *     kiln_error(session): one line that names the place (a recipe's "file:line:", an IR file's
 *     "file:line: op 'add'", the target, the setting, the file and strerror's reason). A successful
 *     call leaves kiln_error() empty.
 *   - Each call is one protected boundary: Lua errors are caught inside it (lua_pcall), nothing
 *     longjmps or exits through the caller's frames. Internal bugs (IR a pass broke) abort with a
 *     message; they are not statuses.
 *   - A session and the recipes loaded into it belong to one thread at a time; use one session per
 *     thread to compile in parallel.
 *   - Strings the API returns through char ** (and kiln_output.data) are malloc'd: free them with
 *     kiln_free / kiln_output_free. Strings returned as const char * belong to kiln.
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  KILN_OK = 0,
  KILN_ERR_USAGE,   /* a bad argument: unknown target or pass, malformed NAME=VALUE, NULL handle */
  KILN_ERR_INPUT,   /* the recipe or IR cannot be read, loaded, built or verified */
  KILN_ERR_COMPILE, /* valid input that cannot be compiled for the target (does not fit, unsupported
                       op on the target, ptxas rejects the PTX) */
  KILN_ERR_NO_TOOL, /* an external tool the request needs is not installed (ptxas for cubin) */
  KILN_ERR_CHECK,   /* kiln_run: a variant gave a wrong answer or could not run (lines printed) */
  KILN_ERR_SYSTEM,  /* out of memory, a temporary file that cannot be made */
} kiln_status;

typedef struct kiln_session kiln_session; /* the error message of the last call; owns nothing else */
typedef struct kiln_recipe kiln_recipe;   /* a loaded recipe (or IR file) and its settings */

/* ---- sessions, errors, version ---- */

/* A new session, or NULL if out of memory. */
kiln_session *kiln_session_new(void);
void kiln_session_free(kiln_session *s);
/* The message of the last failed call on s (or on a recipe of s); "" after a successful one. */
const char *kiln_error(const kiln_session *s);
/* "KILN_OK", "KILN_ERR_USAGE", ... */
const char *kiln_status_name(kiln_status st);
/* "0.1.0" */
const char *kiln_version(void);
/* Frees a string the API returned through char **. */
void kiln_free(void *p);

/* The whole of a file ("-": standard input) in *out (NUL-terminated). KILN_ERR_INPUT with
 * "cannot read PATH: REASON" (strerror's text: missing file, directory, permission). */
kiln_status kiln_read_file(kiln_session *s, const char *path, char **out);

/* ---- targets and passes (the tables, for listings and validation) ---- */

typedef struct {
  const char *name;    /* "sm_80" */
  int smem_per_block;  /* bytes of shared memory one program may use */
  int regs_per_thread; /* register budget */
  char features[512];  /* the feature names, one space apart, as `kiln targets -v` prints them */
} kiln_target_info;

/* The number of target rows; rows are 0 .. count-1. */
int kiln_target_count(void);
/* Fills *out for row i; KILN_ERR_USAGE (no session: no message) if i is out of range. */
kiln_status kiln_target_get(int i, kiln_target_info *out);
/* KILN_OK if name is a target row; else KILN_ERR_USAGE with "unknown target 'NAME' (known: ...)". */
kiln_status kiln_target_check(kiln_session *s, const char *name);

/* The passes kiln_opt can run: name (its --pass spelling) and one line of help; NULL past the end. */
const char *kiln_pass_name(int i);
const char *kiln_pass_help(int i);

/* ---- recipes ---- */

/* Loads path: a recipe (*.lua, run in the recipe sandbox) or tile IR text (*.ir). KILN_ERR_INPUT if
 * it cannot be read or loaded ("recipes/x.lua:12: ..." for a recipe error). *out is NULL on failure. */
kiln_status kiln_recipe_load(kiln_session *s, const char *path, kiln_recipe **out);

/* How a recipe is evaluated (docs/recipes.md, "What a recipe can reach"). All zero: the defaults,
 * the sandbox on, 10 s of wall time per evaluation and 1024 MiB of memory. */
typedef struct {
  int unsafe;        /* 1: the whole Lua standard library and binary chunks: trusted recipes only */
  double time_limit; /* seconds per evaluation (file, body, grid, each function the recipe gives) */
  double mem_limit;  /* MiB of Lua heap and kernel IR */
} kiln_recipe_opts;

/* kiln_recipe_load with options (NULL: the defaults). KILN_ERR_USAGE for a negative limit. */
kiln_status kiln_recipe_load_opts(kiln_session *s, const char *path, const kiln_recipe_opts *o,
                                  kiln_recipe **out);
/* Reads one command-line option of kiln_recipe_opts at argv[0] (its value at argv[1] or after '='):
 * --unsafe-recipe, --recipe-time S, --recipe-mem MIB. Returns the number of words used, 0 if argv[0]
 * is none of them, -1 with "OPTION needs a positive number, got 'TEXT'" in the session's message. */
int kiln_recipe_opts_arg(kiln_session *s, kiln_recipe_opts *o, int argc, char **argv);
void kiln_recipe_free(kiln_recipe *r);
/* Applies "NAME=VALUE" on top of the recipe's defaults and earlier settings (later wins). Spaces
 * around NAME and VALUE are ignored ("BLOCK_M= 64" is "BLOCK_M=64"). KILN_ERR_INPUT, with the
 * recipe's path and NAME, if NAME is not a parameter of the recipe or VALUE is not one it accepts;
 * KILN_ERR_USAGE if r holds an IR file or has KL_MAXSET settings already. */
kiln_status kiln_recipe_set(kiln_recipe *r, const char *name_eq_value);

/* ---- compiling ---- */

typedef enum {
  KILN_EMIT_IR,     /* the tile IR as the recipe built it (kiln_opt reads it back to the same text) */
  KILN_EMIT_IR_OPT, /* the tile IR after the default pass pipeline */
  KILN_EMIT_LLVM,   /* the LLVM IR module */
  KILN_EMIT_PTX,    /* PTX text (served from the on-disk kernel cache when it can be) */
  KILN_EMIT_CUBIN,  /* a cubin from ptxas (binary data) */
  KILN_EMIT_LAUNCH, /* JSON: kernel name, target, threads, shared bytes, tensor maps, grid and arguments */
  KILN_EMIT_SASS,   /* the cubin disassembled (nvdisasm or cuobjdump: kiln_sass_tool) */
  KILN_EMIT_COUNT
} kiln_emit;

/* "ir", "ir-opt", "llvm", "ptx", "cubin", "launch", "sass"; NULL for a value out of range. */
const char *kiln_emit_name(kiln_emit e);

typedef struct {
  const char *target;    /* "sm_80", ...; NULL: sm_80 */
  kiln_emit emit;        /* what to produce */
  int verify_each;       /* verify the IR after every pass (always on in builds with assertions) */
  FILE *print_after_all; /* non-NULL: the IR after each pass is printed there with a header line */
  int no_cache;          /* bypass the kernel cache */
  /* 1: a kernel for launches whose arguments are aligned as at the recipe's settings: every tensor
   * 16-byte aligned and each integer that is a multiple of 16, 8 or 4 there (the largest of these)
   * that multiple at the launch (the IR's `aligned`, `aligned8` and `aligned4` masks, docs/ir.md;
   * the launch JSON lists them). Copies whose alignment that proves lose their run-time test and
   * fallback. 0: a kernel for any launch (packs use these). */
  int specialize;
} kiln_compile_opts;

typedef enum { KILN_CACHE_BYPASSED, KILN_CACHE_MISS, KILN_CACHE_HIT } kiln_cache_use;

typedef struct {
  char *data;               /* the artifact; text kinds are NUL-terminated (size excludes the NUL) */
  size_t size;              /* bytes */
  char kernel[128];         /* the kernel's name (every kind but KILN_EMIT_IR) */
  int threads;              /* threads per program (every kind but KILN_EMIT_IR) */
  int shared_bytes;         /* dynamic shared memory per program */
  kiln_cache_use cache_use; /* where the PTX came from */
  /* specialize: the arguments (bit i: argument i) the kernel relies on being aligned, a tensor to 16
   * bytes, an integer the multiple of 16, 8 or 4 it was at the settings (the launch JSON's "aligned",
   * "aligned8", "aligned4" say which; a multiple of 16 always qualifies); 0: any launch */
  uint64_t aligned;
  /* The compile's steps in the calling thread's CPU time (ms): kiln's lowering to LLVM IR, LLVM's pass
   * pipeline, NVPTX code generation to PTX; all 0 when the PTX came from the kernel cache. */
  double ms_lower, ms_llvm_passes, ms_ptx;
} kiln_output;

/* Builds r's kernel for its settings and compiles it as o says. On success *out holds the artifact
 * (free it with kiln_output_free); on failure *out is empty and the status says which kind of
 * error: KILN_ERR_USAGE (unknown target, an emit kind out of range), KILN_ERR_INPUT (the recipe's
 * body or the IR fails), KILN_ERR_COMPILE, KILN_ERR_NO_TOOL (cubin without ptxas). r may be compiled
 * again, for other targets or after more kiln_recipe_set calls. */
kiln_status kiln_compile(kiln_recipe *r, const kiln_compile_opts *o, kiln_output *out);
void kiln_output_free(kiln_output *out);

/* ---- running against the reference ---- */

typedef struct {
  const char *target; /* NULL: the GPU's row, or sm_80 on the simulator */
  int sim;            /* 1: the simulator even where a GPU is present */
  int check_all;      /* run every entry of the recipe's `checks` list on top of the settings */
  int reps;           /* GPU: timed launches after the checked one (0: no timing) */
  int have_seed;      /* 0: a seed from the time and the process id */
  uint64_t seed;      /* the random inputs' seed (printed with any failure) */
  double tol;         /* > 0: the error budget for every output; 0: each element type's own */
  int no_check;       /* time only, no reference */
  int profile;        /* simulator counters after each result line: 0 off, 1 table, 2 JSON on stdout (the
                         result lines then go to stderr); needs sim (docs/profiling.md) */
} kiln_run_opts;

/* Compiles r's kernel, runs it on the GPU (the simulator if o->sim or if no GPU can be opened, said on
 * one line on stderr) with fresh random inputs, and compares every output element with the recipe's
 * C reference. Prints one result line per variant on stdout ("NAME [SETTINGS] TARGET gpu|sim: max
 * rel err E (tol T) PASS|FAIL, TIME", failures with the first bad element and the seed). KILN_OK if
 * every variant passed, KILN_ERR_CHECK if one failed or could not run; KILN_ERR_USAGE for an unknown
 * target or an IR file (it has no reference); KILN_ERR_INPUT for a bad check entry. */
kiln_status kiln_run(kiln_recipe *r, const kiln_run_opts *o);

/* ---- passes over IR text ---- */

typedef struct {
  const char *target;        /* NULL: sm_80 for the passes that need a target */
  const char *const *passes; /* pass names (kiln_pass_name), run in this order */
  int npasses;               /* entries in passes */
  FILE *print_after_all;     /* non-NULL: the IR after each pass goes there */
} kiln_opt_opts;

/* Parses every kernel in text (messages name `file` and the line), verifies it, runs o's passes
 * over it (the verifier after each) and appends its printed form to *out (kernels separated by a
 * blank line). *out is set, possibly to "", even on failure: it holds the kernels done before the
 * error. KILN_ERR_USAGE for an unknown pass or target, KILN_ERR_INPUT for IR that does not parse or
 * verify, KILN_ERR_COMPILE for a pass that refuses its input. */
kiln_status kiln_opt(kiln_session *s, const char *text, const char *file, const kiln_opt_opts *o, char **out);

/* ---- inspecting a compiled kernel: resources, occupancy, the SASS of its MMA loop ---- */

/* Blocks one SM can hold, by each limit of the target row (the CUDA programming guide's per-compute-
 * capability table): registers (allocated per warp in units of 256), shared memory (the block's
 * bytes plus the driver's per-block reserve, against the largest carveout), threads and block slots. */
typedef struct {
  int by_regs, by_smem, by_threads, by_slots;
  int blocks;           /* the smallest of the four */
  const char *limit;    /* which binds: "registers", "shared memory", "threads" or "block slots" */
  int warps, max_warps; /* resident warps per SM at that, and the SM's maximum */
} kiln_occupancy;

/* Occupancy of a block of `threads` threads using `regs` registers per thread and `smem_bytes` of
 * shared memory (static + dynamic) on target (NULL: sm_80). KILN_ERR_USAGE for an unknown target,
 * threads outside 1 .. the row's maximum, regs outside 0 .. the row's budget, negative smem_bytes. */
kiln_status kiln_occupancy_get(kiln_session *s, const char *target, int regs, int threads, int smem_bytes,
                               kiln_occupancy *out);

/* Instruction classes of the SASS loop summary. */
enum {
  KILN_SASS_MMA,          /* HMMA, IMMA, HGMMA, ... (every opcode with "MMA" in it) */
  KILN_SASS_SHARED_LOAD,  /* LDS, LDSM */
  KILN_SASS_SHARED_STORE, /* STS */
  KILN_SASS_GLOBAL,       /* LDG, STG, LDGSTS, TMA and bulk copies, atomics, generic LD/ST */
  KILN_SASS_SYNC,         /* BAR, DEPBAR, LDGDEPBAR, MEMBAR, SYNCS, WARPSYNC, ... */
  KILN_SASS_BRANCH,       /* BRA, EXIT, BSSY, BSYNC, ... */
  KILN_SASS_INT,          /* integer and address arithmetic, uniform (U...) ones included */
  KILN_SASS_FLOAT,        /* F..., H... (not MMA), MUFU, conversions */
  KILN_SASS_OTHER,        /* moves, special registers, constants, predicates */
  KILN_SASS_NCLASS
};
/* "mma", "shared-load", "shared-store", "global", "sync", "branch", "int", "float", "other". */
const char *kiln_sass_class_name(int c);

typedef struct {
  int found;           /* 1: a loop holding matrix instructions was found */
  unsigned start, end; /* addresses of its first instruction and of its backward branch */
  int instructions;    /* instructions from start to end inclusive, NOPs not counted */
  int by_class[KILN_SASS_NCLASS];
  double non_mma_per_mma;  /* (instructions - mma) / mma */
  int kernel_instructions; /* in the whole text, NOPs not counted */
  int kernel_mma;          /* matrix instructions in the whole text */
  /* The loop's matrix work in warp-level MMA instructions (mma.sync's, HMMA/IMMA/BMMA: 1 each): a
   * warpgroup MMA (HGMMA, IGMMA, QGMMA, BGMMA .64xNxK) counts N/8, each warp's share of it in
   * m16n8 instructions of the same K. Equal to the MMA count when the loop has no warpgroup MMA. */
  double mma_units;
  double non_mma_per_unit; /* (instructions - mma) / mma_units */
  /* Instructions of the loop only one elected lane runs (a forward branch that skips them, then
   * ELECT: the issue of bulk copies), and the count per unit of work without them: what the other
   * warps run. elected = 0 and the two counts equal where there is no such block. */
  int elected;
  double others_per_unit; /* (instructions - elected - mma) / mma_units */
} kiln_sass_loop;

/* Reads SASS text (nvdisasm's, with .L_x_N labels, or cuobjdump -sass's, with hex targets) and finds
 * the innermost loop holding matrix instructions: a backward BRA and the instructions from its target
 * to it; the shortest such region that contains an MMA. Counts are static (each instruction of the
 * region once). out->found = 0 if there is none. KILN_ERR_INPUT if text holds no instruction. */
kiln_status kiln_sass_loop_find(kiln_session *s, const char *text, kiln_sass_loop *out);

/* The disassembler kiln uses: $KILN_NVDISASM if set (it must be executable), else nvdisasm on PATH or
 * in /usr/local/cuda/bin, else cuobjdump there, else nvdisasm in a Python venv's site-packages
 * ($VIRTUAL_ENV, then ./.venv: the nvidia-cuda-nvdisasm pip package). NULL if none. */
const char *kiln_sass_tool(void);

/* The SASS of the cubin at path (any compiler's), by kiln_sass_tool's disassembler, into *out (free with
 * kiln_free). KILN_ERR_NO_TOOL without a disassembler; KILN_ERR_INPUT, naming the path, for a file that
 * cannot be read or that the disassembler refuses or finds no instruction in. */
kiln_status kiln_sass_disassemble(kiln_session *s, const char *cubin, char **out);

typedef struct {
  const char *target; /* NULL: sm_80 */
  int no_cache;       /* bypass the kernel cache */
  int no_sass;        /* 1: skip the disassembly */
  int specialize;     /* kiln_compile_opts.specialize */
} kiln_inspect_opts;

typedef struct {
  char kernel[128];
  char target[16];
  int threads;     /* per block */
  int registers;   /* per thread (ptxas -v) */
  int stack_bytes; /* stack frame */
  int spill_store_bytes, spill_load_bytes;
  int static_shared_bytes;  /* ptxas's "bytes smem" */
  int dynamic_shared_bytes; /* the launch's dynamic shared memory */
  int barriers;
  int regs_per_sm, smem_per_sm, max_threads_per_sm, max_blocks_per_sm, smem_reserved; /* the row */
  kiln_occupancy occ;
  char ptxas_report[4096]; /* ptxas -v's text */
  int have_sass;           /* 1: sass_tool disassembled the cubin and loop holds the result */
  char sass_tool[512];     /* the disassembler used, or why SASS is unavailable */
  kiln_sass_loop loop;
} kiln_inspect_result;

/* Compiles r for o->target, runs ptxas -v on the PTX (its report parsed into out), computes the
 * occupancy, and unless o->no_sass disassembles the cubin and summarises its MMA loop. No
 * disassembler is not an error (have_sass = 0, the reason in sass_tool). KILN_ERR_NO_TOOL without
 * ptxas ("ptxas not found (looked in ...)"); the others as kiln_compile. */
kiln_status kiln_inspect(kiln_recipe *r, const kiln_inspect_opts *o, kiln_inspect_result *out);

/* ---- the roofline model: a time estimate without a GPU (docs/profiling.md, "The model") ---- */

/* What a launch does over its whole grid, the model's input. */
typedef struct {
  double blocks;                        /* programs in the grid */
  double mma_ops16, mma_ops8, mma_ops1; /* tensor operations (2 per multiply-add) by input width */
  double wgmma_ops16, wgmma_ops8;       /* the part of mma_ops16 and mma_ops8 done by warpgroup MMAs
                                           (wgmma), priced at the row's wgmma rate */
  double smem_wavefronts;               /* shared-memory wavefronts */
  double dram_bytes;                    /* DRAM traffic */
  double warp_instructions;             /* warp instructions issued; 0: unknown (no issue term) */
  int blocks_per_sm;                    /* resident blocks per SM (occupancy); 0: unknown, taken as 1 */
} kiln_model_work;

typedef struct {
  char part[64]; /* the reference part of the target row, "A100 SXM4 80GB" */
  int sms;       /* its SMs */
  double clock_ghz, dram_gbs;
  double tensor_s, smem_s, dram_s, issue_s; /* each bound alone (0 where it has no work or is unknown) */
  double waves;                             /* blocks / (SMs x blocks per SM) */
  double wave_eff;                          /* waves / ceil(waves): the last wave's idle SMs */
  double time_s;                            /* the largest of the four */
  const char *bound;                        /* which: "tensor", "shared memory", "DRAM", "issue" */
  double tensor_tflops;                     /* tensor operations / time_s, in 1e12/s */
  char assumptions[1024]; /* the part, where its rates come from and what the model leaves out */
} kiln_model_result;

/* The model of work on target (NULL: sm_80): tensor, shared-memory and issue time over all SMs divided
 * by wave_eff, DRAM time over the bandwidth, time = the largest. KILN_ERR_USAGE for an
 * unknown target, a negative or non-finite count, or blocks < 1. */
kiln_status kiln_model_compute(kiln_session *s, const char *target, const kiln_model_work *w,
                               kiln_model_result *out);

typedef struct {
  const char *target; /* NULL: sm_80 */
  int samples;        /* programs to simulate, spread over the grid (0: 3) */
  int no_cache;       /* bypass the kernel cache for the PTX ptxas reads */
} kiln_model_opts;

/* Estimates the launch of r's kernel at its settings: simulates `samples` programs (first, last and
 * evenly between) with fresh random inputs and scales their counters to the grid; DRAM traffic is every
 * tensor argument once (read, written, or both); occupancy and warp instructions from ptxas and the SASS
 * MMA loop where the tools are found (the mma count x (1 + non-MMA per MMA)), else left out and said so
 * in the assumptions. work (may be NULL) receives the model's input. KILN_ERR_USAGE for an IR file or
 * samples < 0; the others as kiln_run's simulator path. */
kiln_status kiln_model_estimate(kiln_recipe *r, const kiln_model_opts *o, kiln_model_work *work,
                                kiln_model_result *out);

/* The same model from work counted on r's tile IR after the pass pipeline, without simulating or
 * building the kernel: the tensor operations every dot issues (padded to whole instructions in every
 * warp, as the simulator counts them), the bytes every shared-memory access moves (an MMA operand once
 * per warp that reads it; a layout conversion written and read; the scratch of a staged or FMA dot
 * and of a reduction across warps) over 128 per wavefront, loops
 * multiplied by their trip counts (bounds from constants, scalar arguments, the grid and the program's
 * ids, over every program of a grid of up to 1,024, else 64 spread evenly), the larger branch of an
 * if; DRAM as kiln_model_estimate. loop (may be
 * NULL): the SASS MMA loop (kiln_inspect) for the issue bound, else no issue bound. *shared_bytes (may
 * be NULL): the shared memory the plan needs. When a loop bound is not known before the launch there is
 * no estimate: KILN_OK with out->bound NULL and the reason in out->assumptions. Errors as
 * kiln_compile's (KILN_ERR_INPUT, KILN_ERR_COMPILE). */
kiln_status kiln_model_static(kiln_recipe *r, const char *target, const kiln_sass_loop *loop,
                              kiln_model_work *work, int *shared_bytes, kiln_model_result *out);
/* ---- packs: tuned kernels for several targets in one file, for libkiln_rt (docs/packs.md) ---- */

typedef struct {
  const char *const *recipes; /* recipe paths; each becomes one kernel, named after its recipe */
  int nrecipes;
  const char *const *targets; /* "sm_80", ...; none: sm_80 */
  int ntargets;
  const char *const *shapes; /* "[RECIPE:]NAME=VALUE,...": one shape bucket each (sizes and knobs) */
  int nshapes;
  const char *const *sets; /* "[RECIPE:]NAME=VALUE": on top of the defaults, for every bucket */
  int nsets;
  int no_cubin;                  /* PTX only, even where ptxas is present */
  const kiln_recipe_opts *ropts; /* NULL: the defaults */
  const char *tuned; /* a tuning database (kiln tune): each bucket takes the knobs of the best variant
                        measured for its problem or the nearest one (kiln_tune_apply); --set and the
                        bucket's own knobs win; a recipe the database has nothing for keeps its defaults */
} kiln_pack_opts;

/* Compiles every recipe for every target and bucket and writes one pack to path (written whole to a
 * temporary file, then renamed). The same inputs give the same bytes. KILN_ERR_USAGE for an unknown
 * target or a malformed bucket; KILN_ERR_INPUT for a recipe that fails or whose launch rules cannot
 * be written as data; KILN_ERR_COMPILE; KILN_ERR_SYSTEM when path cannot be written. */
kiln_status kiln_pack_write(kiln_session *s, const kiln_pack_opts *o, const char *path);

/* Writes a C header with one typed launch function per kernel of the pack at pack_path (checked by
 * the loader first: KILN_ERR_INPUT with its reason). */
kiln_status kiln_pack_header(kiln_session *s, const char *pack_path, const char *header_path);

/* ---- tuning: sweeps over a recipe's knobs, kept in SQLite (docs/tuning.md) ---- */

typedef struct kiln_tune_db kiln_tune_db;

/* Opens (create = 1: creates if missing) a tuning database: SQLite in WAL mode with a busy timeout,
 * so several processes may write one file. KILN_ERR_INPUT with "PATH: WHY" for a file that is not
 * SQLite, is corrupt, or belongs to something else or a newer schema. */
kiln_status kiln_tune_db_open(kiln_session *s, const char *path, int create, kiln_tune_db **out);
void kiln_tune_db_close(kiln_tune_db *db);

enum { KILN_TUNE_PROGRESS_NONE, KILN_TUNE_PROGRESS_LINES, KILN_TUNE_PROGRESS_TERMINAL };

typedef struct {
  const char *target;            /* NULL: the GPU's row, else sm_80 */
  int sim;                       /* 1: no GPU even if one is present: rank by the model */
  int jobs;                      /* worker processes; 0: the number of cores */
  long budget_variants;          /* > 0: measure at most this many variants (this run) */
  double budget_seconds;         /* > 0: start no variant after this many seconds */
  const char *strategy;          /* "exhaustive" (NULL) or "random" */
  uint64_t seed;                 /* random strategy's order and the check's inputs */
  double accuracy;               /* > 0: variants with a larger error are marked (kept) */
  int shard, nshards;            /* this process takes variant i when i % nshards == shard */
  const char *const *space;      /* "KNOB=v1,v2,...": replaces a knob's declared values */
  int nspace;                    /* entries in space */
  const char *const *check_sets; /* "NAME=VALUE": the problem the check runs at (default: each
                                    size parameter at most 64) */
  int ncheck_sets;               /* entries in check_sets */
  int no_check;                  /* 1: no check against the reference */
  int reps, warmup, flush_l2;    /* GPU timing: repetitions (0: 50), warm-up launches (0: 5) */
  double variant_timeout;        /* seconds per variant before status timeout; 0: 300 */
  int progress;                  /* KILN_TUNE_PROGRESS_*: on stderr */
  double prune_model;            /* variants whose model time is over this many times the best are
                                    pruned (not checked nor timed); 0: 2 on the simulator, off on a
                                    GPU; < 0: off */
  int check_best;                /* the simulator checks variants in model order until this many
                                    passed; the rest are pruned; 0: 4; < 0: every survivor */
} kiln_tune_opts;

typedef struct {
  long space;    /* variants in the space */
  long in_shard; /* of them, this shard's */
  long done;     /* found in the database already (resumed) */
  long measured; /* measured by this run */
  long ok, refused, spilled, wrong, timeout, pruned;
  long counted, compiled, checked;            /* variants through each step (this run) */
  double count_s, compile_s, check_s, wall_s; /* seconds in each step (workers' wall time) */
} kiln_tune_summary;

/* Sweeps r's tuning space for the problem r's settings give (knobs set with kiln_recipe_set are
 * pinned): enumerate, skip the constraints' refusals, compile in o->jobs processes, prune by the
 * target's limits and ptxas's report, check against the reference, time on the GPU or rank by the
 * model. With o->prune_model / o->check_best (the default on the simulator) every variant's model
 * bound is counted first, and only those that can still win are compiled and checked; the others
 * are written pruned with why (docs/tuning.md, "Pruning"). Every variant's row is written to db as
 * soon as it is measured (pending between the pruning sweep's steps); variants db holds already are
 * not measured again. KILN_ERR_USAGE for a bad option or space, KILN_ERR_INPUT for a recipe
 * error, KILN_ERR_SYSTEM if the database cannot be written. */
kiln_status kiln_tune_run(kiln_recipe *r, kiln_tune_db *db, const kiln_tune_opts *o, kiln_tune_summary *out);

typedef struct {
  int json;        /* 1: JSON instead of the table */
  int top;         /* runners-up shown per problem (0: 4) */
  double accuracy; /* > 0: the error budget the front and the winners respect */
} kiln_tune_report_opts;

/* Writes the result table of every problem in db (the winner and the runners-up with their settings,
 * the accuracy-speed Pareto front) to out. */
kiln_status kiln_tune_report(kiln_tune_db *db, const kiln_tune_report_opts *o, FILE *out);
/* Draws error against time of every measured variant as SVG, the Pareto front joined by a line. */
kiln_status kiln_tune_plot(kiln_tune_db *db, const kiln_tune_report_opts *o, FILE *out);

/* Merges the databases in[0..n-1] into out (created if missing): a key present in several keeps the
 * later measurement. Merging again changes nothing. */
kiln_status kiln_tune_merge(kiln_session *s, const char *const *in, int n, const char *out);

/* Applies to r the knobs of the best measured variant in the database at path for r's recipe and
 * problem (the nearest measured problem when that one is missing; knobs already set on r are kept).
 * *what (malloc'd) says which variant and problem. KILN_ERR_INPUT if the database holds nothing for
 * the recipe. */
kiln_status kiln_tune_apply(kiln_recipe *r, const char *path, char **what);

#ifdef __cplusplus
}
#endif

#endif
