/*
 * ref_run.c - running a recipe's reference, whatever form it takes (docs/recipes.md):
 *   "NAME"                            a C reference built into kiln (ref.c's table);
 *   function(t, p, r) ... end         a Lua function in the recipe, run in the recipe's Lua state;
 *   {c = "FILE.so", symbol = "NAME"}  a C function with the include/kiln_ref.h signature in a shared
 *                                     object, FILE relative to the recipe's folder (dlopen).
 *
 * Steps: 1. every output element starts as NaN; 2. the reference runs (exact, or the low-precision
 * run); 3. an output element still NaN is an element the reference never wrote: an error naming it;
 * 4. the low-precision run's outputs are rounded to their element types (what a plain implementation
 * in the input type would store). Every error names the recipe file and the reference.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

static size_t numel(const kl_arg *a) {
  size_t n = 1;
  for (int d = 0; d < a->rank; d++) n *= (size_t)a->dims[d];
  return n;
}

void ref_describe(kl_recipe *r, char *buf, size_t n) {
  const kl_reference *f = kl_recipe_reference_decl(r);
  switch (f->kind) {
  case KL_REF_BUILTIN: snprintf(buf, n, "reference '%s'", f->name); break;
  case KL_REF_LUA: snprintf(buf, n, "Lua reference (%s:%d)", f->file, f->line); break;
  case KL_REF_C: snprintf(buf, n, "C reference '%s' in %s", f->symbol, f->path); break;
  default: snprintf(buf, n, "no reference"); break;
  }
}

void ref_name_element(const kl_arg *a, size_t i, char *buf, size_t n) {
  size_t idx[3] = {0}, rest = i;
  for (int d = a->rank - 1; d >= 0; d--) idx[d] = rest % (size_t)a->dims[d], rest /= (size_t)a->dims[d];
  int k = snprintf(buf, n, "%s[", a->name);
  for (int d = 0; d < a->rank && k > 0 && (size_t)k < n; d++)
    k += snprintf(buf + k, n - (size_t)k, d ? ",%zu" : "%zu", idx[d]);
  if (k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, "] (element %zu)", i);
}

/* ---- the C ABI (include/kiln_ref.h) ---- */

typedef struct {
  kiln_ref_arg args[KL_MAXARGS];
  kiln_ref_setting settings[KL_MAXSET];
  kiln_ref_call call;
  char msg[1024];
} abi_call;

static void make_abi_call(const ref_job *job, abi_call *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < job->nargs; i++) {
    const kl_arg *k = &job->args[i];
    a->args[i] = (kiln_ref_arg){.name = k->name,
                                .is_tensor = k->is_tensor,
                                .elem = ir_elem_name(k->elem),
                                .rank = k->rank,
                                .role = k->role,
                                .ival = k->ival,
                                .fval = k->fval};
    memcpy(a->args[i].dims, k->dims, sizeof k->dims);
  }
  for (int i = 0; job->set && i < job->set->n; i++)
    a->settings[i] = (kiln_ref_setting){job->set->v[i].name, job->set->v[i].value};
  a->call = (kiln_ref_call){.abi_version = KILN_REF_ABI_VERSION,
                            .nargs = job->nargs,
                            .args = a->args,
                            .data = job->data,
                            .nsettings = job->set ? job->set->n : 0,
                            .settings = a->settings,
                            .precision = ir_elem_name(job->precision),
                            .round = job->round,
                            .err = a->msg,
                            .errn = sizeof a->msg};
}

static int call_c(kiln_ref_fn fn, const ref_job *job, const char *what, char *err, size_t errn) {
  abi_call *a = malloc(sizeof *a); /* large: kept off the stack */
  if (!a) return snprintf(err, errn, "%s: out of memory", what), REF_FAILED;
  make_abi_call(job, a);
  int rc = fn(&a->call);
  if (rc != KILN_REF_OK && rc != KILN_REF_EXACT_ONLY)
    snprintf(err, errn, "%s failed%s%s", what, a->msg[0] ? ": " : "", a->msg), rc = REF_FAILED;
  free(a);
  return rc;
}

static int call_shared_object(kl_recipe *r, const ref_job *job, const char *what, char *err, size_t errn) {
  const kl_reference *f = kl_recipe_reference_decl(r);
  void *h = dlopen(f->path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return snprintf(err, errn, "%s: cannot load it (%s)", what, dlerror()), REF_FAILED;
  dlerror();
  void *sym = dlsym(h, f->symbol);
  int rc = REF_FAILED;
  if (!sym)
    snprintf(err, errn, "%s: no such symbol in the shared object", what);
  else {
    kiln_ref_fn fn;
    memcpy(&fn, &sym, sizeof fn); /* object pointer to function pointer, as POSIX dlsym intends */
    rc = call_c(fn, job, what, err, errn);
  }
  dlclose(h);
  return rc;
}

/* ---- one run ---- */

static int dispatch(kl_recipe *r, const ref_job *job, const char *what, char *err, size_t errn) {
  const kl_reference *f = kl_recipe_reference_decl(r);
  char msg[1024];
  switch (f->kind) {
  case KL_REF_BUILTIN: {
    ref_fn fn = ref_lookup(f->name);
    if (!fn)
      return snprintf(err, errn, "unknown %s (the built-in references are in compiler/ref)", what),
             REF_FAILED;
    return call_c(fn, job, what, err, errn);
  }
  case KL_REF_LUA:
    if (!kl_recipe_call_reference(r, job->set, job->args, job->data, job->nargs, ir_elem_name(job->precision),
                                  job->round, msg, sizeof msg))
      return REF_OK;
    snprintf(err, errn, "%s (in the %s)", msg, what);
    return REF_FAILED;
  case KL_REF_C: return call_shared_object(r, job, what, err, errn);
  default: snprintf(err, errn, "the recipe declares no reference"); return REF_FAILED;
  }
}

/* Step 3: the first output element the reference left NaN. */
static int find_gap(const ref_job *job, const char *what, char *err, size_t errn) {
  char where[128];
  for (int i = 0; i < job->nargs; i++) {
    const kl_arg *a = &job->args[i];
    if (!a->is_tensor || !(a->role & KL_OUT)) continue;
    for (size_t j = 0, n = numel(a); j < n; j++)
      if (isnan(job->data[i][j])) {
        ref_name_element(a, j, where, sizeof where);
        snprintf(err, errn, "%s left %s unset (NaN)", what, where);
        return REF_FAILED;
      }
  }
  return REF_OK;
}

int ref_run(kl_recipe *r, const ref_job *job, char *err, size_t errn) {
  char what[512], msg[3072] = "";
  ref_describe(r, what, sizeof what);
  for (int i = 0; i < job->nargs; i++)
    if (job->args[i].is_tensor && job->args[i].role == KL_OUT)
      for (size_t j = 0, n = numel(&job->args[i]); j < n; j++) job->data[i][j] = NAN;
  int rc = dispatch(r, job, what, msg, sizeof msg);
  if (rc == REF_OK) rc = find_gap(job, what, msg, sizeof msg);
  if (rc == REF_FAILED) {
    const char *path = kl_recipe_path(r);
    int positioned = !strncmp(msg, path, strlen(path)) && msg[strlen(path)] == ':'; /* a Lua error */
    snprintf(err, errn, "%s%s%s", positioned ? "" : path, positioned ? "" : ": ", msg);
    return rc;
  }
  for (int i = 0; rc == REF_OK && job->precision != IR_F64 && i < job->nargs; i++)
    if (job->args[i].is_tensor && (job->args[i].role & KL_OUT))
      for (size_t j = 0, n = numel(&job->args[i]); j < n; j++)
        job->data[i][j] = job->round(ir_elem_name(job->args[i].elem), job->data[i][j]);
  return rc;
}
