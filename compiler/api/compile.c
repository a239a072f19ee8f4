/*
 * compile.c - kiln_compile (include/kiln.h): a recipe or IR file to IR, LLVM IR, PTX, a cubin or the
 * launch facts for one target.
 *
 * 1. The IR: the recipe's body run for the handle's settings, or the IR file parsed.
 * 2. KILN_EMIT_IR stops there and prints it.
 * 3. The default pipeline and codegen (driver.c), through the kernel cache for PTX; ir-opt and llvm
 *    bypass the cache because it keeps only PTX.
 * 4. The artifact: the IR after the pipeline, the LLVM module, the PTX, the launch JSON, or the
 *    cubin ptxas writes (read back from a temporary file).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../ir/file.h"
#include "api.h"
#include "driver.h"

static const char *const emit_names[KILN_EMIT_COUNT] = {"ir",    "ir-opt", "llvm", "ptx",
                                                        "cubin", "launch", "sass"};

const char *kiln_emit_name(kiln_emit e) { return (unsigned)e < KILN_EMIT_COUNT ? emit_names[e] : NULL; }

void kiln_output_free(kiln_output *out) {
  if (!out) return;
  free(out->data);
  memset(out, 0, sizeof *out);
}

/* Step 1. NULL with the message in s->err. */
static ir_func *build_ir(kiln_recipe *r, const tg_target *t) {
  kiln_session *s = r->s;
  if (r->lua) return kl_recipe_build(r->lua, &r->set, t, s->err, sizeof s->err); /* verified */
  ir_func *fn = ir_parse(r->ir_text, r->path, s->err, sizeof s->err, NULL);
  if (fn && ir_verify(fn, s->err, sizeof s->err)) {
    ir_func_destroy(fn);
    return NULL;
  }
  return fn;
}

static kiln_status take_text(kiln_output *out, char *text) {
  if (!text) return KILN_ERR_SYSTEM;
  out->data = text;
  out->size = strlen(text);
  return KILN_OK;
}

/* The tensor maps the kernel takes after its arguments (copies and stores by TMA: docs/hopper.md),
 * for a host program that builds them itself: each map's parameter, the argument it describes, its
 * element type, swizzle and box, and its dims and byte strides as postfix expressions of the
 * arguments' values ("$i": argument i; docs/packs.md, "Expressions"). Nothing for a kernel without. */
static int tensor_maps_json(FILE *f, const cg_result *res, char *err, size_t errn) {
  rt_tmap_spec spec[RT_TMAP_MAXSPEC];
  int n = res->tmaps ? rt_tmap_specs(res->tmaps, spec, RT_TMAP_MAXSPEC, err, errn) : 0;
  if (n <= 0) return n;
  fprintf(f, ",\n  \"tensor_maps\": [");
  for (int j = 0; j < n; j++) {
    const rt_tmap_spec *s = &spec[j];
    fprintf(f, "%s\n    {\"param\": %d, \"arg\": %d, \"type\": \"%s\", \"swizzle\": %d, \"box\": [",
            j ? "," : "", s->param, s->arg, rt_tmap_type_name(s->type), s->swizzle);
    for (int d = 0; d < s->rank; d++) fprintf(f, "%s%u", d ? ", " : "", s->box[d]);
    fprintf(f, "], \"dims\": [");
    for (int d = 0; d < s->rank; d++) fprintf(f, "%s\"%s\"", d ? ", " : "", s->dims[d]);
    fprintf(f, "], \"strides\": [");
    for (int d = 0; d + 1 < s->rank; d++) fprintf(f, "%s\"%s\"", d ? ", " : "", s->strides[d]);
    fprintf(f, "]}");
  }
  fprintf(f, "\n  ]");
  return 0;
}

/* KILN_EMIT_LAUNCH: what a host program needs to launch the kernel (JSON). The grid, the argument
 * shapes, the arguments a specialized kernel relies on being aligned (kiln_compile_opts.specialize:
 * a launch must keep them so; [] for a kernel any launch may use: "aligned" a tensor to 16 bytes or
 * an integer a multiple of 16, "aligned8" and "aligned4" an integer a multiple of 8, of 4) and the
 * settings (every parameter's value as text, computed defaults resolved) come from the recipe; for
 * an IR file they are absent. */
static char *launch_json(kiln_recipe *r, const cg_result *res, const tg_target *t,
                         const uint64_t aligned[IR_NPROMISE]) {
  char *buf = NULL, *err = r->s->err;
  size_t n = 0, errn = sizeof r->s->err;
  FILE *f = open_memstream(&buf, &n);
  if (!f) return NULL;
  fprintf(f, "{\n  \"kernel\": \"%s\",\n  \"target\": \"%s\",\n  \"threads\": %d,\n  \"shared_bytes\": %d",
          res->kernel_name, t->name, res->threads, res->shared_bytes);
  int rc = tensor_maps_json(f, res, err, errn);
  if (r->lua && !rc) {
    int64_t g[3];
    kl_arg args[KL_MAXARGS];
    int na = kl_recipe_args(r->lua, &r->set, args, KL_MAXARGS, err, errn);
    rc = na < 0 || kl_recipe_grid(r->lua, &r->set, g, err, errn) ? -1 : 0;
    if (!rc) {
      fprintf(f, ",\n  \"grid\": [%lld, %lld, %lld],\n  \"args\": [", (long long)g[0], (long long)g[1],
              (long long)g[2]);
      for (int i = 0; i < na; i++) {
        const kl_arg *x = &args[i];
        fprintf(f, "%s\n    {\"name\": \"%s\", \"kind\": \"%s\", \"type\": \"%s\"", i ? "," : "", x->name,
                x->is_tensor ? "tensor" : "scalar", ir_elem_name(x->elem));
        if (x->is_tensor) {
          fprintf(f, ", \"shape\": [");
          for (int d = 0; d < x->rank; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)x->dims[d]);
          fprintf(f, "], \"role\": \"%s\"}", x->role == KL_IN ? "in" : x->role == KL_OUT ? "out" : "inout");
        } else if (ir_elem_is_float(x->elem))
          fprintf(f, ", \"value\": %.17g}", x->fval);
        else
          fprintf(f, ", \"value\": %lld}", (long long)x->ival);
      }
      fprintf(f, "\n  ]");
      for (int k = 0; k < IR_NPROMISE; k++) {
        fprintf(f, ",\n  \"%s\": [", ir_promises[k].attr);
        for (int i = 0, first = 1; i < na && i < 63; i++)
          if ((aligned[k] >> i) & 1) fprintf(f, "%s\"%s\"", first ? "" : ", ", args[i].name), first = 0;
        fprintf(f, "]");
      }
      fprintf(f, ",\n  \"settings\": {");
      for (int i = 0; i < kl_recipe_nparams(r->lua); i++) { /* every parameter as the kernel got it */
        const char *name = kl_recipe_param(r->lua, i)->name, *v = kl_settings_get(&r->set, name);
        fprintf(f, "%s", i ? ", " : "");
        api_json_string(f, name);
        fprintf(f, ": ");
        api_json_string(f, v ? v : kl_recipe_param(r->lua, i)->dflt);
      }
      fprintf(f, "}");
    }
  }
  fprintf(f, "\n}\n");
  fclose(f);
  if (rc) free(buf);
  return rc ? NULL : buf;
}

/* KILN_EMIT_CUBIN: ptxas writes a temporary file, read back into out. */
static kiln_status cubin(kiln_session *s, const char *ptx, const tg_target *t, kiln_output *out) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/kiln-cubin-XXXXXX", dir && dir[0] ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0)
    return api_fail(s, KILN_ERR_SYSTEM, "cannot make a temporary file %s: %s", path, strerror(errno));
  close(fd);
  char info[4096];
  int st = driver_ptxas(ptx, t->name, path, info, sizeof info, s->err, sizeof s->err);
  if (st == 0) out->data = ir_read_file(path, &out->size, s->err, sizeof s->err);
  unlink(path);
  if (st) return st > 0 ? KILN_ERR_NO_TOOL : KILN_ERR_COMPILE;
  return out->data ? KILN_OK : KILN_ERR_SYSTEM;
}

/* Steps 3 and 4 for everything but KILN_EMIT_IR. */
static kiln_status lower(kiln_recipe *r, const kiln_compile_opts *o, const tg_target *t, ir_func *fn,
                         kiln_output *out) {
  kiln_session *s = r->s;
  driver_opts d = {
      .target = t, .backend = CG_NVPTX, .verify_each = o->verify_each, .print_after_all = o->print_after_all};
#ifndef NDEBUG
  d.verify_each = 1; /* builds with assertions verify after every pass */
#endif
  d.no_cache = o->no_cache || o->emit == KILN_EMIT_IR_OPT || o->emit == KILN_EMIT_LLVM;
  d.keep_llvm_ir = o->emit == KILN_EMIT_LLVM;
  cg_result res;
  if (driver_compile_ir(fn, &d, &res, s->err, sizeof s->err)) return KILN_ERR_COMPILE;
  snprintf(out->kernel, sizeof out->kernel, "%s", res.kernel_name);
  out->threads = res.threads;
  out->shared_bytes = res.shared_bytes;
  out->aligned = res.aligned_used;
  out->ms_lower = res.ms_lower, out->ms_llvm_passes = res.ms_opt, out->ms_ptx = res.ms_emit;
  out->cache_use = d.no_cache || d.print_after_all ? KILN_CACHE_BYPASSED
                   : d.cache_hit                   ? KILN_CACHE_HIT
                                                   : KILN_CACHE_MISS;
  kiln_status st = KILN_OK;
  switch (o->emit) {
  case KILN_EMIT_IR_OPT: st = take_text(out, ir_print(fn)); break;
  case KILN_EMIT_LLVM: st = take_text(out, strdup(res.llvm_ir)); break;
  case KILN_EMIT_PTX: st = take_text(out, strdup(res.ptx)); break;
  case KILN_EMIT_LAUNCH: {
    /* what the kernel relies on, by the strongest promise it has for each (ir_promises) */
    uint64_t used[IR_NPROMISE], left = res.aligned_used;
    for (int k = 0; k < IR_NPROMISE; k++) {
      used[k] = left & (uint64_t)ir_attr_i(fn->attrs, ir_promises[k].attr, 0);
      left &= ~used[k];
    }
    char *json = launch_json(r, &res, t, used);
    st = json ? take_text(out, json) : KILN_ERR_INPUT;
    break;
  }
  case KILN_EMIT_SASS: {
    char *text = NULL;
    st = api_sass(s, res.ptx, t, &text);
    if (st == KILN_OK) st = take_text(out, text);
    break;
  }
  default: st = cubin(s, res.ptx, t, out); break;
  }
  cg_result_free(&res);
  return st;
}

kiln_status kiln_compile(kiln_recipe *r, const kiln_compile_opts *o, kiln_output *out) {
  memset(out, 0, sizeof *out);
  if (!r) return KILN_ERR_USAGE;
  kiln_session *s = r->s;
  api_begin(s);
  if (!o) return api_fail(s, KILN_ERR_USAGE, "kiln_compile: no options");
  if (!kiln_emit_name(o->emit))
    return api_fail(s, KILN_ERR_USAGE, "kiln_compile: emit kind %d out of range", (int)o->emit);
  const tg_target *t = api_target(s, o->target);
  if (!t) return KILN_ERR_USAGE;
  if (api_recipe_target(r, t) != KILN_OK) return KILN_ERR_INPUT;
  ir_func *fn = build_ir(r, t);
  if (!fn) return KILN_ERR_INPUT;
  if (o->specialize && !r->lua) {
    ir_func_destroy(fn);
    return api_fail(s, KILN_ERR_USAGE,
                    "%s: specialize needs a recipe (an IR file states its kernel's `aligned` mask itself)",
                    r->path);
  }
  if (o->specialize && driver_specialize(r->lua, &r->set, fn, s->err, sizeof s->err)) {
    ir_func_destroy(fn);
    return KILN_ERR_INPUT;
  }
  kiln_status st = o->emit == KILN_EMIT_IR ? take_text(out, ir_print(fn)) : lower(r, o, t, fn, out);
  if (st == KILN_ERR_SYSTEM && !s->err[0]) api_fail(s, st, "out of memory");
  ir_func_destroy(fn);
  if (st != KILN_OK) kiln_output_free(out);
  return st;
}
