/*
 * test.h - the scaffold every unit test shares: checks, the seeded random generator, files and
 * scratch folders, ptxas, and two small kernel builders (IR text through the default pipeline to a
 * kernel; LLVM IR written over the device ops).
 *
 * Checks count a failure and go on. main ends with `return test_done("test_x");`, which prints
 * "test_x: ok", or the number of failures and, when the test drew random numbers, the seed.
 *
 * Random numbers come from test_rand(): xorshift64, seeded once per run from KILN_TEST_SEED (decimal
 * or 0x hex) or else from the clock and the process id. A failing run prints KILN_TEST_SEED=N, and
 * running it again with that variable set repeats the same inputs. The state is per thread; a worker
 * thread that draws numbers reseeds with test_rand_seed(test_seed() ^ its own index).
 *
 * Scratch files go under $TMPDIR (ctest gives every test its own; /tmp when unset), in folders made
 * with test_scratch_dir() and removed with test_rmtree(): no two tests, and no two runs of one test,
 * share a path.
 */
#ifndef KILN_TEST_H
#define KILN_TEST_H

#include <ftw.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>

#include "codegen/codegen.h"
#include "codegen/devops.h"
#include "compiler/passes/pass.h"
#include "ir/file.h"
#include "ir/ir.h"
#include "target/target.h"

/* ---- checks ---- */

static _Atomic int test_failures; /* atomic: some tests check from several threads */

__attribute__((format(printf, 4, 5))) static inline void
test_check_failed(const char *file, int line, const char *cond, const char *fmt, ...) {
  fprintf(stderr, "%s:%d: check failed: %s", file, line, cond);
  if (fmt[1]) { /* fmt is " " followed by the caller's message, if it gave one */
    va_list ap;
    va_start(ap, fmt);
    fputc(':', stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  test_failures++;
}

/* CHECK(cond) or CHECK(cond, "format", args...): the message says what was being checked. */
#define CHECK(c, ...)                                                                                        \
  do {                                                                                                       \
    if (!(c)) test_check_failed(__FILE__, __LINE__, #c, " " __VA_ARGS__);                                    \
  } while (0)

#define CHECK_STR(got, want) test_check_str(__FILE__, __LINE__, (got), (want))
#define CHECK_CONTAINS(s, sub) test_check_contains(__FILE__, __LINE__, (s), (sub))

static inline void test_check_str(const char *file, int line, const char *got, const char *want) {
  if (got && !strcmp(got, want)) return;
  fprintf(stderr, "%s:%d: got\n  %s\nwant\n  %s\n", file, line, got ? got : "(null)", want);
  test_failures++;
}

static inline void test_check_contains(const char *file, int line, const char *s, const char *sub) {
  if (s && strstr(s, sub)) return;
  fprintf(stderr, "%s:%d: expected \"%s\" in:\n%s\n", file, line, sub, s ? s : "(null)");
  test_failures++;
}

/* ---- the seeded random generator ---- */

static _Thread_local uint64_t test_rng;
static uint64_t test_seed_value;
static _Atomic int test_seed_drawn;

/* The run's seed: KILN_TEST_SEED, or the clock and the process id (fixed at the first call). */
static inline uint64_t test_seed(void) {
  if (!atomic_exchange(&test_seed_drawn, 1)) {
    const char *e = getenv("KILN_TEST_SEED");
    test_seed_value = e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  }
  return test_seed_value;
}

static inline void test_rand_seed(uint64_t s) { test_rng = s ? s : 0x9e3779b97f4a7c15ull; }

static inline uint64_t test_rand64(void) {
  if (!test_rng) test_rand_seed(test_seed());
  test_rng ^= test_rng << 13;
  test_rng ^= test_rng >> 7;
  test_rng ^= test_rng << 17;
  return test_rng;
}

static inline uint32_t test_rand(void) { return (uint32_t)(test_rand64() >> 16); }

/* Uniform in [lo, hi). */
static inline double test_rand_double(double lo, double hi) {
  return lo + (hi - lo) * (double)(test_rand64() >> 11) * 0x1p-53;
}

/* ---- the end of a test ---- */

/* Prints the verdict; the exit status for main. */
static inline int test_done(const char *name) {
  int n = test_failures;
  if (!n) {
    printf("%s: ok\n", name);
    return 0;
  }
  if (test_seed_drawn)
    fprintf(stderr, "%s: %d failure(s) (KILN_TEST_SEED=%llu repeats this run)\n", name, n,
            (unsigned long long)test_seed_value);
  else
    fprintf(stderr, "%s: %d failure(s)\n", name, n);
  return 1;
}

/* Seconds on a monotonic clock. */
static inline double test_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- files and scratch folders ---- */

/* The whole file, NUL-terminated (len, if given, gets its size); NULL if it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len) {
  char err[512];
  return ir_read_file(path, len, err, sizeof err);
}

/* A bad input whose first line is "-- expect: LINE: MESSAGE" (or "-- expect: -: MESSAGE" for an
 * error without a line): the whole message kiln must give, "PATH:LINE: MESSAGE" (or "PATH: MESSAGE"),
 * into want. The first line's newline is overwritten; returns the text after it, or NULL (and a failed
 * check) when the first line is not an expectation. */
static inline char *test_expected_error(const char *path, char *text, char *want, size_t n) {
  if (!text || strncmp(text, "-- expect: ", 11) || !strchr(text, '\n') || !strchr(text + 11, ':')) {
    fprintf(stderr, "%s: no '-- expect: LINE: MESSAGE' first line\n", path);
    test_failures++;
    return NULL;
  }
  char *line = text + 11, *colon = strchr(line, ':'), *nl = strchr(line, '\n');
  *nl = 0;
  if (line[0] == '-')
    snprintf(want, n, "%s:%s", path, colon + 1);
  else
    snprintf(want, n, "%s:%.*s:%s", path, (int)(colon - line), line, colon + 1);
  return nl + 1;
}

/* Writes n bytes to path; 0 or -1. */
static inline int test_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(data, 1, n, f) == n;
  return fclose(f) == 0 && ok ? 0 : -1;
}

static inline const char *test_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

/* A new, empty folder $TMPDIR/NAME-XXXXXX (malloc'd path); aborts if none can be made. */
static inline char *test_scratch_dir(const char *name) {
  size_t n = strlen(test_tmpdir()) + strlen(name) + 16;
  char *dir = malloc(n);
  snprintf(dir, n, "%s/%s-XXXXXX", test_tmpdir(), name);
  if (!mkdtemp(dir)) {
    perror(dir);
    abort();
  }
  return dir;
}

/* A new file in dir holding text, named NAME-XXXXXX followed by suffix (malloc'd path). */
static inline char *test_scratch_file(const char *dir, const char *name, const char *suffix,
                                      const char *text) {
  size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 16;
  char *path = malloc(n);
  snprintf(path, n, "%s/%s-XXXXXX%s", dir, name, suffix);
  int fd = mkstemps(path, (int)strlen(suffix));
  if (fd < 0) {
    perror(path);
    abort();
  }
  size_t len = strlen(text);
  int ok = write(fd, text, len) == (ssize_t)len;
  if (close(fd) || !ok) abort();
  return path;
}

static inline int test_rmtree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path);
}

/* rm -rf dir; 0 or -1. */
static inline int test_rmtree(const char *dir) {
  return nftw(dir, test_rmtree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- ptxas ---- */

/* ptxas on PATH or in /usr/local/cuda/bin; NULL when it is not installed. */
static inline const char *test_ptxas(void) {
  static char path[4096];
  static int looked;
  static const char *found;
  if (looked) return found;
  looked = 1;
  for (const char *p = getenv("PATH"); p && *p;) {
    const char *e = strchr(p, ':');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    snprintf(path, sizeof path, "%.*s/ptxas", (int)n, p);
    if (n && access(path, X_OK) == 0) return found = path;
    p = e ? e + 1 : NULL;
  }
  return found = access("/usr/local/cuda/bin/ptxas", X_OK) == 0 ? "/usr/local/cuda/bin/ptxas" : NULL;
}

/* ptxas -arch=ARCH on ptx, in a scratch folder: 0 accepted, -1 refused (its output on stderr). */
static inline int test_ptxas_accepts(const char *ptx, const char *arch) {
  const char *ptxas = test_ptxas();
  if (!ptxas) return -1;
  char *dir = test_scratch_dir("kiln-ptxas"), in[4200], out[4200], log[4200], opt[64];
  snprintf(in, sizeof in, "%s/k.ptx", dir);
  snprintf(out, sizeof out, "%s/k.cubin", dir);
  snprintf(log, sizeof log, "%s/log", dir);
  snprintf(opt, sizeof opt, "-arch=%s", arch);
  int ok = test_write_file(in, ptx, strlen(ptx)) == 0;
  pid_t pid = ok ? fork() : -1;
  if (pid == 0) {
    if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr)) _exit(127);
    execl(ptxas, "ptxas", opt, "-o", out, in, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (!ok) {
    char *text = test_read_file(log, NULL);
    fprintf(stderr, "ptxas -arch=%s refused:\n%s\n", arch, text ? text : "(no output)");
    free(text);
  }
  test_rmtree(dir);
  free(dir);
  return ok ? 0 : -1;
}

/* ---- kernels from IR text ---- */

enum { TEST_BEFORE_CODEGEN = -1, TEST_IN_CODEGEN = -2 };

/* IR text (file names it in messages) -> parsed, verified, the default pipeline with the verifier
 * after each pass, then codegen for target t and backend be. 0; TEST_BEFORE_CODEGEN when parsing,
 * verifying or a pass failed; TEST_IN_CODEGEN when codegen did. err gets the message. */
static inline int test_compile_ir(const char *text, const char *file, const tg_target *t, cg_backend be,
                                  cg_result *out, char *err, size_t errn) {
  ir_func *fn = ir_parse(text, file, err, errn, NULL);
  if (!fn) return TEST_BEFORE_CODEGEN;
  int rc = ir_verify(fn, err, errn) ? TEST_BEFORE_CODEGEN : 0;
  pass_ctx pc = {.target = t, .verify_each = 1};
  if (!rc && pass_run_default(fn, &pc)) {
    snprintf(err, errn, "%s", pc.err);
    rc = TEST_BEFORE_CODEGEN;
  }
  if (!rc && cg_compile(fn, t, be, CG_KEEP_LLVM_IR, out, err, errn)) rc = TEST_IN_CODEGEN;
  ir_func_destroy(fn);
  return rc;
}

/* tests/sim/NAME.ir -> a CG_SIM kernel for sm_80; 0, or -1 after saying why on stderr. */
static inline int test_sim_ir_kernel(const char *name, cg_result *out) {
  char path[256], file[64], err[1024] = "";
  snprintf(path, sizeof path, "tests/sim/%s.ir", name);
  snprintf(file, sizeof file, "%s.ir", name);
  char *text = test_read_file(path, NULL);
  if (!text) {
    fprintf(stderr, "%s: cannot read it\n", path);
    return -1;
  }
  int rc = test_compile_ir(text, file, tg_target_lookup("sm_80"), CG_SIM, out, err, sizeof err);
  free(text);
  if (rc) fprintf(stderr, "%s: %s\n", path, err);
  return rc;
}

/* tmpl with every keys[i] replaced by vals[i] (the first key that matches at a place wins), malloc'd:
 * how a test instantiates an .ir template for an element type or a tile shape. */
static inline char *test_subst(const char *tmpl, const char *const *keys, const char *const *vals, int n) {
  size_t cap = strlen(tmpl) + 1;
  for (int k = 0; k < n; k++)
    cap += strlen(vals[k]) * (strlen(tmpl) / (strlen(keys[k]) ? strlen(keys[k]) : 1));
  char *out = malloc(cap), *o = out;
  for (const char *s = tmpl; *s;) {
    int k = 0;
    while (k < n && strncmp(s, keys[k], strlen(keys[k]))) k++;
    if (k == n) {
      *o++ = *s++;
      continue;
    }
    o = stpcpy(o, vals[k]);
    s += strlen(keys[k]);
  }
  *o = 0;
  return out;
}

/* An .ir file under the source root (tests run from there) -> text; NULL (and a failed check) if it
 * cannot be read. */
static inline char *test_ir_file(const char *path) {
  char *text = test_read_file(path, NULL);
  if (!text) fprintf(stderr, "cannot read %s (run from the source root)\n", path);
  CHECK(text != NULL);
  return text;
}

/* ---- kernels written in LLVM IR over the simulator's device ops ----
 * For testing the simulator apart from the tile-IR lowering: kb_begin opens a kernel, the caller
 * emits its body through k->c (the device ops) and the kb_ helpers, kb_end verifies the module and
 * hands it over as a kernel for sim_launch (freed with cg_result_free). */

typedef struct {
  cg_ctx c;
  LLVMTypeRef i32, ptr;
  char name[64];
} kb;

/* Parameters by sig, one letter each: 'p' buffer, 'i' i32, 'f' f32, 'd' f64, 'h' half, 'b' bfloat,
 * 'c' i8, 'q' i128; pnames (or NULL) names them. */
static inline void kb_begin(kb *k, const char *name, const char *sig, const char *const *pnames, int threads,
                            int shared) {
  memset(k, 0, sizeof *k);
  snprintf(k->name, sizeof k->name, "%s", name);
  cg_ctx *c = &k->c;
  c->ctx = LLVMContextCreate();
  c->mod = LLVMModuleCreateWithNameInContext(name, c->ctx);
  c->b = LLVMCreateBuilderInContext(c->ctx);
  c->ops = &cg_devops_sim;
  c->threads = threads;
  c->shared_bytes = shared;
  c->ops->module_init(c);
  k->i32 = LLVMInt32TypeInContext(c->ctx);
  k->ptr = c->ops->global_ptr_type(c);
  LLVMTypeRef params[16];
  unsigned n = (unsigned)strlen(sig);
  for (unsigned i = 0; i < n; i++)
    params[i] = sig[i] == 'p'   ? k->ptr
                : sig[i] == 'i' ? k->i32
                : sig[i] == 'f' ? LLVMFloatTypeInContext(c->ctx)
                : sig[i] == 'h' ? LLVMHalfTypeInContext(c->ctx)
                : sig[i] == 'b' ? LLVMBFloatTypeInContext(c->ctx)
                : sig[i] == 'c' ? LLVMInt8TypeInContext(c->ctx)
                : sig[i] == 'q' ? LLVMIntTypeInContext(c->ctx, 128)
                                : LLVMDoubleTypeInContext(c->ctx);
  c->ops->kernel_begin(c, name, params, n);
  for (unsigned i = 0; pnames && i < n; i++)
    LLVMSetValueName2(LLVMGetParam(c->fn, i), pnames[i], strlen(pnames[i]));
}

/* Closes the kernel; a module that does not verify is a bug in the test: abort. */
static inline cg_result kb_end(kb *k) {
  cg_ctx *c = &k->c;
  c->ops->kernel_end(c);
  LLVMBuildRetVoid(c->b);
  char *msg = NULL;
  if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
    fprintf(stderr, "test kernel %s does not verify: %s\n", k->name, msg);
    abort();
  }
  LLVMDisposeMessage(msg);
  LLVMDisposeBuilder(c->b);
  cg_result r = {0};
  r.kernel_name = strdup(k->name);
  r.threads = c->threads;
  r.shared_bytes = c->shared_bytes;
  r.llvm_ctx = c->ctx;
  r.llvm_mod = c->mod;
  return r;
}

static inline LLVMValueRef kb_param(kb *k, unsigned i) { return LLVMGetParam(k->c.fn, i); }
static inline LLVMValueRef kb_int(kb *k, int v) {
  return LLVMConstInt(k->i32, (unsigned long long)(long long)v, 1);
}
static inline LLVMValueRef kb_sreg(kb *k, cg_sreg r) { return k->c.ops->sreg(&k->c, r); }
static inline LLVMValueRef kb_add(kb *k, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildAdd(k->c.b, a, b, "");
}

/* &base[idx] for 4-byte elements. */
static inline LLVMValueRef kb_at(kb *k, LLVMValueRef base, LLVMValueRef idx) {
  return LLVMBuildGEP2(k->c.b, k->i32, base, &idx, 1, "");
}

#endif
