/*
 * driver.c - the compile path: recipe + settings -> tile IR -> default pipeline -> codegen -> PTX,
 * and the ptxas bridge (validation, cubin, resource report).
 *
 * The PTX of a variant is cached on disk (runtime/cache.c) under a key made of the recipe's IR text,
 * the target, the back end, the LLVM version, the kiln version and the compiler build (its executable's
 * size and time); a second compile of the same variant is a cache hit and skips the pipeline and LLVM.
 */
#include "driver.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../ir/file.h"
#include "../../runtime/rt.h"
#include "../passes/pass.h"

/* ---- the kernel cache: PTX plus the launch facts codegen found ---- */

/* The running compiler's identity: size and modification time of its executable. A rebuilt kiln of
 * the same version number must not serve PTX its previous build generated. One stat per process. */
static const char *build_identity(void) {
  static char id[64];
  if (id[0]) return id;
  struct stat st;
  if (stat("/proc/self/exe", &st) == 0)
    snprintf(id, sizeof id, "%lld:%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
             st.st_mtim.tv_nsec);
  else
    snprintf(id, sizeof id, "unknown");
  return id;
}

static rt_cache_key cache_key(const char *ir_text, driver_opts *o) {
  char opts[8192];
  snprintf(opts, sizeof opts, "backend=%d build=%s passes=%s", (int)o->backend, build_identity(),
           cg_llvm_passes());
  return rt_cache_key_make(ir_text, o->target->name, opts, cg_llvm_version(), KILN_VERSION);
}

/* Entry text: "kiln-kernel NAME THREADS SHARED USED\n" (USED: cg_result.aligned_used in hex) then the PTX. */
static int cache_lookup(rt_cache_key key, cg_result *out) {
  char *blob = rt_cache_get(key);
  if (!blob) return 0;
  char name[256];
  int threads, shared, n = 0;
  unsigned long long used;
  if (sscanf(blob, "kiln-kernel %255s %d %d %llx\n%n", name, &threads, &shared, &used, &n) != 4 || n == 0) {
    free(blob);
    return 0;
  }
  memset(out, 0, sizeof *out);
  out->kernel_name = strdup(name);
  out->threads = threads;
  out->shared_bytes = shared;
  out->aligned_used = used;
  out->ptx = strdup(blob + n);
  free(blob);
  /* the tensor maps' lines (codegen.h) ride at the top of the PTX as comments */
  size_t len = 0;
  for (const char *l = out->ptx; !strncmp(l, "// kiln-tmap ", 13);) {
    const char *e = strchr(l, '\n');
    if (!e) break;
    len += (size_t)(e - l) - 3 + 1;
    l = e + 1;
  }
  if (len) {
    out->tmaps = malloc(len + 1);
    if (!out->tmaps) abort();
    char *w = out->tmaps;
    for (const char *l = out->ptx; !strncmp(l, "// kiln-tmap ", 13);) {
      const char *e = strchr(l, '\n');
      if (!e) break;
      memcpy(w, l + 3, (size_t)(e - l) - 3 + 1);
      w += (size_t)(e - l) - 3 + 1;
      l = e + 1;
    }
    *w = 0;
  }
  return 1;
}

static void cache_store(rt_cache_key key, const cg_result *r) {
  size_t n = strlen(r->ptx) + strlen(r->kernel_name) + 64;
  char *blob = malloc(n);
  if (!blob) return;
  snprintf(blob, n, "kiln-kernel %s %d %d %llx\n%s", r->kernel_name, r->threads, r->shared_bytes,
           (unsigned long long)r->aligned_used, r->ptx);
  rt_cache_put(key, blob); /* best effort: a read-only cache dir only costs speed */
  free(blob);
}

/* ---- the pipeline ---- */

static int run_pipeline(ir_func *fn, driver_opts *o, cg_result *out, char *err, size_t errn) {
  pass_ctx pc = {.target = o->target, .verify_each = o->verify_each, .print_after_all = o->print_after_all};
  if (ir_verify(fn, err, errn)) return -1;
  if (pass_run_default(fn, &pc)) {
    snprintf(err, errn, "%s", pc.err);
    return -1;
  }
  return cg_compile(fn, o->target, o->backend, o->keep_llvm_ir ? CG_KEEP_LLVM_IR : 0, out, err, errn);
}

int driver_compile_ir(ir_func *fn, driver_opts *o, cg_result *out, char *err, size_t errn) {
  o->cache_hit = 0;
  int use_cache = !o->no_cache && o->backend == CG_NVPTX && !o->print_after_all;
  if (!use_cache) return run_pipeline(fn, o, out, err, errn);
  uint64_t cache_cap; /* a bad $KILN_CACHE_MAX_MB is the user's error to hear about, not a silent miss */
  if (rt_cache_max_bytes(&cache_cap, err, errn)) return -1;
  char *text = ir_print(fn);
  rt_cache_key key = cache_key(text, o);
  free(text);
  if (cache_lookup(key, out)) {
    o->cache_hit = 1;
    return 0;
  }
  int rc = run_pipeline(fn, o, out, err, errn);
  if (rc == 0) cache_store(key, out);
  return rc;
}

/* The masks of ir_promises: m[0] `aligned` (every tensor; the integers that are multiples of 16), m[1]
 * `aligned8` and m[2] `aligned4` (the other integers that are multiples of 8, of 4). */
static void aligned_masks(const kl_arg *args, int nargs, uint64_t m[IR_NPROMISE]) {
  m[0] = m[1] = m[2] = 0;
  for (int i = 0; i < nargs && i < 63; i++) {
    int is_int = ir_elem_in_class(IR_EC_INT, args[i].elem) && !args[i].is_tensor;
    int k = args[i].is_tensor        ? 0
            : !is_int                ? -1
            : args[i].ival % 16 == 0 ? 0
            : args[i].ival % 8 == 0  ? 1
            : args[i].ival % 4 == 0  ? 2
                                     : -1;
    if (k >= 0) m[k] |= (uint64_t)1 << i;
  }
}

int driver_specialize(kl_recipe *r, const kl_settings *s, ir_func *fn, char *err, size_t errn) {
  kl_arg args[KL_MAXARGS];
  int n = kl_recipe_args(r, s, args, KL_MAXARGS, err, errn);
  if (n < 0) return -1;
  uint64_t m[IR_NPROMISE];
  aligned_masks(args, n, m);
  for (int k = 0; k < IR_NPROMISE; k++)
    if (m[k]) ir_attr_set_i(fn->A, &fn->attrs, ir_promises[k].attr, (int64_t)m[k]);
  return 0;
}

int driver_compile_recipe(kl_recipe *r, const kl_settings *s, driver_opts *o, ir_func **ir_out,
                          cg_result *out, char *err, size_t errn) {
  ir_func *fn = kl_recipe_build(r, s, o->target, err, errn);
  if (!fn) return -1;
  if (o->specialize && driver_specialize(r, s, fn, err, errn)) {
    ir_func_destroy(fn);
    return -1;
  }
  if (ir_out) o->no_cache = 1; /* the caller wants the pipeline's IR */
  int rc = driver_compile_ir(fn, o, out, err, errn);
  if (ir_out && rc == 0)
    *ir_out = fn;
  else
    ir_func_destroy(fn);
  return rc;
}

/* ---- ptxas ---- */

const char *driver_ptxas_path(void) {
  static char found[4096];
  if (found[0]) return found;
  const char *env = getenv("KILN_PTXAS");
  if (env) return access(env, X_OK) == 0 ? env : NULL;
  const char *path = getenv("PATH");
  if (path) {
    char *dup = strdup(path), *save = NULL;
    for (char *dir = strtok_r(dup, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
      snprintf(found, sizeof found, "%s/ptxas", dir);
      if (access(found, X_OK) == 0) {
        free(dup);
        return found;
      }
    }
    free(dup);
  }
  snprintf(found, sizeof found, "/usr/local/cuda/bin/ptxas");
  if (access(found, X_OK) == 0) return found;
  found[0] = 0;
  return NULL;
}

/* The first line of ptxas output that says "error" or "fatal" other than the closing "Ptx assembly
 * aborted due to errors" (which names no cause: "(C7602) Insufficient registers ..." comes before
 * it), else its first line. */
static void first_error(const char *log, char *err, size_t errn) {
  const char *p = log, *found = NULL;
  while (*p && !found) {
    size_t n = strcspn(p, "\n");
    const char *e = memmem(p, n, "error", 5), *f = memmem(p, n, "fatal", 5);
    if ((e || f) && !memmem(p, n, "aborted due to errors", 21)) found = p;
    p += n + (p[n] == '\n');
  }
  if (!found) found = strstr(log, "error") ? strstr(log, "error") : log;
  while (found > log && found[-1] != '\n') found--;
  size_t n = strcspn(found, "\n");
  snprintf(err, errn, "ptxas rejected the PTX: %.*s", (int)n, found);
}

static int copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  if (!in) return -1;
  FILE *out = fopen(to, "wb");
  char buf[65536];
  size_t n;
  int rc = out ? 0 : -1;
  while (out && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  fclose(in);
  if (out && fclose(out) != 0) rc = -1;
  return rc;
}

static int run_ptxas(const char *ptxas, const char *arch, const char *in, const char *out, const char *log) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    FILE *l = freopen(log, "w", stderr);
    (void)l;
    dup2(2, 1);
    char archopt[64];
    snprintf(archopt, sizeof archopt, "-arch=%s", arch);
    execl(ptxas, "ptxas", "-v", archopt, "-o", out, in, (char *)NULL);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* text into out (n bytes); when it does not fit, its last whole lines after "...\n": ptxas -v ends
 * with the figures (registers, spills), after any number of informational lines (sm_90a's "(C7519)
 * warpgroup.arrive is injected ..." one per wgmma). */
static void keep_tail(char *out, size_t n, const char *text) {
  size_t len = strlen(text);
  if (!n) return;
  if (len < n) {
    memcpy(out, text, len + 1);
    return;
  }
  const char *p = text + len - (n - 5), *nl = strchr(p, '\n');
  if (nl && nl[1]) p = nl + 1;
  snprintf(out, n, "...\n%s", p);
}

int driver_ptxas(const char *ptx, const char *arch, const char *cubin_out, char *info, size_t infon,
                 char *err, size_t errn) {
  const char *ptxas = driver_ptxas_path();
  if (!ptxas) {
    snprintf(err, errn, "ptxas not found (PATH, /usr/local/cuda/bin)");
    return 1;
  }
  const char *tmp = getenv("TMPDIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/kiln-ptxas-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    snprintf(err, errn, "cannot make a temporary directory %s: %s", dir, strerror(errno));
    return -1;
  }
  char in[4200], out[4200], log[4200];
  snprintf(in, sizeof in, "%s/k.ptx", dir);
  snprintf(out, sizeof out, "%s/k.cubin", dir);
  snprintf(log, sizeof log, "%s/log", dir);
  FILE *f = fopen(in, "w");
  int rc = -1;
  if (f && fputs(ptx, f) >= 0 && fclose(f) == 0) {
    int st = run_ptxas(ptxas, arch, in, out, log);
    char rerr[256];
    char *text = ir_read_file(log, NULL, rerr, sizeof rerr);
    if (st == 0) {
      rc = 0;
      if (info) keep_tail(info, infon, text ? text : "");
      if (cubin_out && copy_file(out, cubin_out)) {
        snprintf(err, errn, "cannot write %s: %s", cubin_out, strerror(errno));
        rc = -1;
      }
    } else {
      first_error(text ? text : rerr, err, errn);
    }
    free(text);
  } else {
    if (f) fclose(f);
    snprintf(err, errn, "cannot write %s: %s", in, strerror(errno));
  }
  unlink(in);
  unlink(out);
  unlink(log);
  rmdir(dir);
  return rc;
}

/* the number just before key's first occurrence in text into *v; 0 if there is none */
static int before_key(const char *text, const char *key, int *v) {
  const char *p = strstr(text, key);
  if (!p) return 0;
  while (p > text && (isdigit((unsigned char)p[-1]) || p[-1] == ' ')) p--;
  return sscanf(p, "%d", v) == 1;
}

int driver_ptxas_parse(const char *info, driver_ptxas_figures *f) {
  memset(f, 0, sizeof *f);
  const char *used = strstr(info, "Used ");
  if (!used || sscanf(used, "Used %d registers", &f->registers) != 1) return -1;
  before_key(info, " bytes stack frame", &f->stack_bytes);
  before_key(info, " bytes spill stores", &f->spill_store_bytes);
  before_key(info, " bytes spill loads", &f->spill_load_bytes);
  before_key(used, " bytes smem", &f->static_shared_bytes);
  const char *bar = strstr(used, "used ");
  if (bar) sscanf(bar, "used %d barriers", &f->barriers);
  return 0;
}
