/*
 * pack.c - kiln_pack_write and kiln_pack_header (include/kiln.h): recipes compiled for several
 * targets and shape buckets into one pack file, which libkiln_rt (runtime/pack_*.c) loads without a
 * compiler. The bytes are docs/packs.md's.
 *
 * For each recipe, for each bucket (a --shapes entry, or the defaults):
 * 1. Settings: the defaults, the --set entries for the recipe, the bucket's own NAME=VALUE entries.
 * 2. Launch rules traced as expressions of the problem sizes (kl_recipe_launch_rule), then checked
 *    against the recipe's own Lua at the bucket and at a second point (every size doubled plus 3):
 *    a rule that only holds at one point (a branch on a size) is refused, not packed.
 * 3. PTX for every target (the kernel cache serves repeats); the PTX at the second point must be the
 *    same, or the kernel compiles a size in and cannot serve other sizes.
 * 4. A cubin per target where ptxas is present (unless no_cubin).
 * 5. The same kernel specialised on the alignment of the arguments at the bucket (every tensor, the
 *    integers that are multiples of 16 there: kiln_compile_opts.specialize), PTX and cubin, for the
 *    targets where it differs from the general one: the loader runs it for launches whose arguments
 *    are aligned so (format 2's `aligned` line, docs/packs.md).
 * Images are kept once each (identical bytes share one section). Then the manifest and the file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/pack_int.h"
#include "../lua/kl_lib.h"
#include "api.h"

enum { MAXTARGETS = PACK_MAXTARGETS };

typedef struct {
  unsigned char *data;
  size_t size;
} image;

typedef struct {
  kiln_session *s;
  const kiln_pack_opts *o;
  const char *targets[MAXTARGETS];
  int ntargets, cubin_ok;
  int tuned_ok; /* o->tuned opened as a tuning database */
  image *img;
  int nimg;
  FILE *m; /* the manifest being written */
} writer;

/* ---- images, each stored once ---- */

static int image_add(writer *w, unsigned char *data, size_t size) {
  for (int i = 0; i < w->nimg; i++)
    if (w->img[i].size == size && !memcmp(w->img[i].data, data, size)) return free(data), i;
  image *n = realloc(w->img, (size_t)(w->nimg + 1) * sizeof *n);
  if (!n) return free(data), -1;
  w->img = n;
  w->img[w->nimg] = (image){data, size};
  return w->nimg++;
}

/* ---- step 1: settings ---- */

/* The part of spec for recipe `name`: spec itself, the text after "NAME:" when it names this recipe,
 * NULL when it names another one. */
static const char *for_recipe(const char *spec, const char *name) {
  const char *colon = strchr(spec, ':');
  if (!colon) return spec;
  size_t n = strlen(name);
  return (size_t)(colon - spec) == n && !strncmp(spec, name, n) ? colon + 1 : NULL;
}

/* Applies "NAME=V,NAME=V" to r->set; KILN_ERR_INPUT naming the entry (what: "--shapes" or "--set"). */
static kiln_status apply_list(kiln_recipe *r, const char *list, const char *what) {
  char buf[1024], msg[1024];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    if (!strchr(item, '='))
      return api_fail(r->s, KILN_ERR_USAGE, "%s '%s': expected NAME=VALUE[,NAME=VALUE...]", what, list);
    if (kl_settings_apply(r->lua, &r->set, item, msg, sizeof msg))
      return api_fail(r->s, KILN_ERR_INPUT, "%s '%s': %s", what, list, msg);
  }
  return KILN_OK;
}

/* ---- step 2: launch rules, checked ---- */

static int64_t rule_eval(const char *e, const kl_launch_rule *R, const int64_t *sizes, int *bad) {
  int64_t v = 0;
  char msg[256];
  if (pack_expr_is_float(e)) return 0;
  if (pack_expr_eval(e, sizes, R->nsizes, &v, msg, sizeof msg)) *bad = 1;
  return v;
}

/* 0 if R evaluated at sizes gives what the recipe's Lua gives for r->set (which holds those sizes); -1
 * where they disagree, -2 where the recipe refuses those sizes (its grid or arguments raise). */
static int rule_matches(kiln_recipe *r, const kl_launch_rule *R, const int64_t *sizes, char *why, size_t n) {
  int64_t g[3];
  kl_arg args[KL_MAXARGS];
  int na = kl_recipe_args(r->lua, &r->set, args, KL_MAXARGS, why, n), bad = 0;
  if (na < 0 || kl_recipe_grid(r->lua, &r->set, g, why, n)) return -2; /* the recipe refused the sizes */
  for (int d = 0; d < 3; d++)
    if (rule_eval(R->grid[d], R, sizes, &bad) != g[d] || bad)
      return snprintf(why, n, "grid[%d] = '%s' gives another value than grid(p)", d, R->grid[d]), -1;
  for (int i = 0; i < na; i++) {
    const kl_arg *a = &args[i];
    for (int d = 0; a->is_tensor && d < a->rank; d++)
      if (rule_eval(R->dims[i][d], R, sizes, &bad) != a->dims[d] || bad)
        return snprintf(why, n, "tensor '%s' dim %d = '%s' disagrees with the recipe", a->name, d,
                        R->dims[i][d]),
               -1;
    if (!a->is_tensor && !pack_expr_is_float(R->value[i]) &&
        ((ir_elem_is_float(a->elem) ? (double)rule_eval(R->value[i], R, sizes, &bad) != a->fval
                                    : rule_eval(R->value[i], R, sizes, &bad) != a->ival) ||
         bad))
      return snprintf(why, n, "scalar '%s' = '%s' disagrees with the recipe", a->name, R->value[i]), -1;
    if (!a->is_tensor && pack_expr_is_float(R->value[i]) && pack_expr_float(R->value[i]) != a->fval)
      return snprintf(why, n, "scalar '%s' = '%s' disagrees with the recipe", a->name, R->value[i]), -1;
  }
  return 0;
}

/* Sets every size x of R to mul x + add in r->set and into sizes. */
static int move_sizes(kiln_recipe *r, const kl_launch_rule *R, int64_t *sizes, int mul, int add, char *err,
                      size_t n) {
  for (int i = 0; i < R->nsizes; i++) {
    char item[128];
    sizes[i] = R->bucket[i] * mul + add;
    snprintf(item, sizeof item, "%s=%lld", R->sizes[i], (long long)sizes[i]);
    if (kl_settings_apply(r->lua, &r->set, item, err, n)) return -1;
  }
  return 0;
}

/* ---- steps 3 and 4: images ---- */

static kiln_status compile_spec(kiln_recipe *r, const char *target, kiln_emit emit, int specialize,
                                kiln_output *out) {
  kiln_compile_opts co = {.target = target, .emit = emit, .specialize = specialize};
  return kiln_compile(r, &co, out);
}

static kiln_status compile_one(kiln_recipe *r, const char *target, kiln_emit emit, kiln_output *out) {
  return compile_spec(r, target, emit, 0, out);
}

typedef struct {
  int ptx[MAXTARGETS], cubin[MAXTARGETS];   /* image indices; cubin -1 where none */
  int aptx[MAXTARGETS], acubin[MAXTARGETS]; /* the specialised kernel's (step 5); -1 where none */
  uint64_t aused; /* the arguments the specialised kernels rely on (kiln_output.aligned), every target's */
  char symbol[128];
  int threads, shared;
} variant_images;

/* Step 5 for target t: the specialised PTX and cubin, or -1 where the PTX is the general one's. */
static kiln_status build_aligned(writer *w, kiln_recipe *r, int t, variant_images *vi) {
  kiln_output out;
  vi->aptx[t] = vi->acubin[t] = -1;
  kiln_status st = compile_spec(r, w->targets[t], KILN_EMIT_PTX, 1, &out);
  if (st != KILN_OK) return st;
  uint64_t used = out.aligned;
  int i = image_add(w, (unsigned char *)out.data, out.size + 1);
  if (i < 0) return api_fail(w->s, KILN_ERR_SYSTEM, "out of memory");
  if (i == vi->ptx[t] || !used) return KILN_OK; /* nothing proven aligned changed the code */
  vi->aptx[t] = i;
  vi->aused |= used;
  if (vi->cubin[t] < 0) return KILN_OK;
  if ((st = compile_spec(r, w->targets[t], KILN_EMIT_CUBIN, 1, &out)) != KILN_OK) return st;
  if ((vi->acubin[t] = image_add(w, (unsigned char *)out.data, out.size)) < 0)
    return api_fail(w->s, KILN_ERR_SYSTEM, "out of memory");
  return KILN_OK;
}

static kiln_status build_images(writer *w, kiln_recipe *r, variant_images *vi) {
  vi->aused = 0;
  for (int t = 0; t < w->ntargets; t++) {
    kiln_output out;
    kiln_status st = compile_one(r, w->targets[t], KILN_EMIT_PTX, &out);
    if (st != KILN_OK) return st;
    snprintf(vi->symbol, sizeof vi->symbol, "%s", out.kernel);
    vi->threads = out.threads, vi->shared = out.shared_bytes;
    vi->ptx[t] = image_add(w, (unsigned char *)out.data, out.size + 1); /* PTX keeps its NUL */
    vi->cubin[t] = -1;
    if (vi->ptx[t] < 0) return api_fail(w->s, KILN_ERR_SYSTEM, "out of memory");
    if (!w->cubin_ok) continue;
    st = compile_one(r, w->targets[t], KILN_EMIT_CUBIN, &out);
    if (st == KILN_ERR_NO_TOOL) {
      w->cubin_ok = 0; /* no ptxas here: PTX only, for every target */
      api_begin(w->s);
      continue;
    }
    if (st != KILN_OK) return st;
    vi->cubin[t] = image_add(w, (unsigned char *)out.data, out.size);
    if (vi->cubin[t] < 0) return api_fail(w->s, KILN_ERR_SYSTEM, "out of memory");
  }
  for (int t = 0; t < w->ntargets; t++) {
    kiln_status st = build_aligned(w, r, t, vi);
    if (st != KILN_OK) return st;
  }
  return KILN_OK;
}

/* The variant's settings text: every parameter but the sizes, "NAME=VALUE" joined by ','. */
static void settings_text(kiln_recipe *r, const kl_launch_rule *R, char *buf, size_t n) {
  buf[0] = 0;
  for (int i = 0; i < kl_recipe_nparams(r->lua); i++) {
    const char *name = kl_recipe_param(r->lua, i)->name;
    int size = 0;
    for (int k = 0; k < R->nsizes; k++) size |= !strcmp(R->sizes[k], name);
    if (!size)
      snprintf(buf + strlen(buf), n - strlen(buf), "%s%s=%s", buf[0] ? "," : "", name,
               kl_setting_value(r->lua, &r->set, name));
  }
}

static void write_variant(writer *w, kiln_recipe *r, const kl_launch_rule *R, const variant_images *vi) {
  char settings[1024];
  settings_text(r, R, settings, sizeof settings);
  fprintf(w->m, "variant\t%s\t%d\t%d\t%s\nbucket", vi->symbol, vi->threads, vi->shared, settings);
  for (int i = 0; i < R->nsizes; i++) fprintf(w->m, "\t%lld", (long long)R->bucket[i]);
  fprintf(w->m, "\ngrid\t%s\t%s\t%s\n", R->grid[0], R->grid[1], R->grid[2]);
  kl_arg args[KL_MAXARGS];
  int na = kl_recipe_args(r->lua, &r->set, args, KL_MAXARGS, r->s->err, sizeof r->s->err);
  for (int i = 0; i < na; i++) {
    if (!args[i].is_tensor) {
      fprintf(w->m, "value\t%s\t%s\n", args[i].name, R->value[i]);
      continue;
    }
    fprintf(w->m, "dims\t%s", args[i].name);
    for (int d = 0; d < args[i].rank; d++) fprintf(w->m, "\t%s", R->dims[i][d]);
    fprintf(w->m, "\n");
  }
  for (int t = 0; t < w->ntargets; t++) {
    fprintf(w->m, "image\t%s\tptx\t%d\n", w->targets[t], vi->ptx[t]);
    if (vi->cubin[t] >= 0) fprintf(w->m, "image\t%s\tcubin\t%d\n", w->targets[t], vi->cubin[t]);
  }
  int any = 0;
  for (int t = 0; t < w->ntargets; t++) any |= vi->aptx[t] >= 0;
  if (any) {
    fprintf(w->m, "aligned");
    for (int i = 0; i < na && i < 64; i++)
      if ((vi->aused >> i) & 1) fprintf(w->m, "\t%s", args[i].name);
    fprintf(w->m, "\n");
  }
  for (int t = 0; any && t < w->ntargets; t++) {
    if (vi->aptx[t] >= 0) fprintf(w->m, "image\t%s\tptx\t%d\n", w->targets[t], vi->aptx[t]);
    if (vi->acubin[t] >= 0) fprintf(w->m, "image\t%s\tcubin\t%d\n", w->targets[t], vi->acubin[t]);
  }
  fprintf(w->m, "end\n");
}

/* ---- one kernel ---- */

static kiln_status load(writer *w, const char *path, kiln_recipe **out) {
  kiln_status st = kiln_recipe_load_opts(w->s, path, w->o->ropts, out);
  if (st == KILN_OK && !(*out)->lua) {
    kiln_recipe_free(*out);
    *out = NULL;
    return api_fail(w->s, KILN_ERR_INPUT, "%s: packs are built from recipes (an IR file has no launch rules)",
                    path);
  }
  return st;
}

/* The tuning database's best knobs for the bucket's problem (kiln_tune_apply), then the --set entries
 * and the bucket's own list again, so that what the command line says wins. A recipe the database
 * holds nothing for keeps its settings; a database that cannot be read is an error. */
static kiln_status apply_tuned(writer *w, kiln_recipe *r, const char *bucket) {
  const char *name = kl_recipe_name(r->lua);
  /* the knobs the command line sets: kiln_tune_apply skips variants that disagree with them */
  char buf[4096] = "", *saved[KL_MAXSET], *items[KL_MAXSET];
  size_t used = 0;
  for (int i = 0; i <= w->o->nsets; i++) {
    const char *e = i < w->o->nsets ? for_recipe(w->o->sets[i], name) : bucket;
    if (e && used < sizeof buf)
      used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", used ? "," : "", e);
  }
  int n = 0, nsaved = r->nsets;
  for (char *save = NULL, *it = strtok_r(buf, ",", &save); it && n < KL_MAXSET;
       it = strtok_r(NULL, ",", &save))
    items[n++] = it;
  memcpy(saved, r->sets, sizeof saved);
  memcpy(r->sets, items, sizeof *items * (size_t)n);
  r->nsets = n;
  char *what = NULL;
  kiln_status st = kiln_tune_apply(r, w->o->tuned, &what);
  for (int i = n; i < r->nsets; i++) free(r->sets[i]); /* the strings it added; its settings stay in r->set */
  memcpy(r->sets, saved, sizeof saved);
  r->nsets = nsaved;
  free(what);
  if (st == KILN_ERR_INPUT && w->tuned_ok) { /* the database was opened: it has nothing for this recipe */
    api_begin(w->s);
    return KILN_OK;
  }
  for (int i = 0; st == KILN_OK && i < w->o->nsets; i++) {
    const char *e = for_recipe(w->o->sets[i], name);
    if (e) st = apply_list(r, e, "--set");
  }
  return st == KILN_OK && bucket ? apply_list(r, bucket, "--shapes") : st;
}

/* Steps 1 to 4 for one bucket (bucket NULL: the defaults); the variant goes into the manifest. */
static kiln_status one_variant(writer *w, kiln_recipe *r, const kl_settings *base, const char *bucket,
                               kl_launch_rule *R, int first) {
  char why[1024];
  r->set = *base;
  kiln_status st = bucket ? apply_list(r, bucket, "--shapes") : KILN_OK;
  if (st == KILN_OK && w->o->tuned) st = apply_tuned(w, r, bucket);
  if (st != KILN_OK) return st;
  if (kl_recipe_launch_rule(r->lua, &r->set, R, why, sizeof why))
    return api_fail(w->s, KILN_ERR_INPUT, "%s", why);
  int64_t at[KL_MAXSIZES];
  for (int i = 0; i < R->nsizes; i++) at[i] = R->bucket[i];
  if (rule_matches(r, R, at, why, sizeof why))
    return api_fail(w->s, KILN_ERR_INPUT, "%s: launch rule: %s", r->path, why);
  variant_images vi;
  if ((st = build_images(w, r, &vi)) != KILN_OK) return st;
  kl_settings keep = r->set;
  kiln_output moved;
  /* The rule must hold at other sizes: every size moved to 2x+3 (off any power of two or tile
   * multiple); only where the recipe refuses those sizes (one must divide another: attention's Hkv
   * and H), to 3x, which keeps such relations. A rule that disagrees at 2x+3 is refused. */
  int m = move_sizes(r, R, at, 2, 3, why, sizeof why) ? -1 : rule_matches(r, R, at, why, sizeof why);
  if (m == -2) m = move_sizes(r, R, at, 3, 0, why, sizeof why) ? -1 : rule_matches(r, R, at, why, sizeof why);
  if (m)
    return api_fail(w->s, KILN_ERR_INPUT, "%s: the launch rule holds only at the bucket's sizes: %s", r->path,
                    why);
  if ((st = compile_one(r, w->targets[0], KILN_EMIT_PTX, &moved)) != KILN_OK) return st;
  int same =
      moved.size + 1 == w->img[vi.ptx[0]].size && !memcmp(moved.data, w->img[vi.ptx[0]].data, moved.size);
  kiln_output_free(&moved);
  if (!same)
    return api_fail(
        w->s, KILN_ERR_INPUT,
        "%s: the kernel compiles a problem size in (its PTX changes with the sizes): a pack needs "
        "kernels that read their sizes at run time",
        r->path);
  r->set = keep;
  if (first) {
    fprintf(w->m, "kernel\t%s", kl_recipe_name(r->lua));
    for (int i = 0; i < R->nsizes; i++) fprintf(w->m, "\t%s", R->sizes[i]);
    kl_arg args[KL_MAXARGS];
    int na = kl_recipe_args(r->lua, &r->set, args, KL_MAXARGS, why, sizeof why);
    for (int i = 0; i < na; i++) {
      const kl_arg *a = &args[i];
      if (a->is_tensor)
        fprintf(w->m, "\narg\t%s\ttensor\t%s\t%s\t%d", a->name, ir_elem_name(a->elem),
                a->role == KL_IN    ? "in"
                : a->role == KL_OUT ? "out"
                                    : "inout",
                a->rank);
      else
        fprintf(w->m, "\narg\t%s\tscalar\t%s", a->name, ir_elem_name(a->elem));
    }
    fprintf(w->m, "\n");
  }
  write_variant(w, r, R, &vi);
  return KILN_OK;
}

static kiln_status one_kernel(writer *w, const char *path, char names[][128], int index) {
  kiln_recipe *r = NULL;
  kiln_status st = load(w, path, &r);
  if (st != KILN_OK) return st;
  const char *name = kl_recipe_name(r->lua);
  snprintf(names[index], 128, "%s", name);
  for (int i = 0; i < index; i++)
    if (!strcmp(names[i], name))
      st = api_fail(w->s, KILN_ERR_USAGE, "%s: a second kernel named '%s'", path, name);
  for (int i = 0; st == KILN_OK && i < w->o->nsets; i++) {
    const char *e = for_recipe(w->o->sets[i], name);
    if (e) st = apply_list(r, e, "--set");
  }
  /* One target: computed defaults are that target's. Several: a variant's settings and launch rule
   * serve them all, so its computed defaults see no target (docs/packs.md). */
  r->neutral = w->ntargets > 1;
  if (st == KILN_OK) st = api_recipe_target(r, tg_target_lookup(w->targets[0]));
  kl_launch_rule *R = malloc(sizeof *R);
  if (!R && st == KILN_OK) st = api_fail(w->s, KILN_ERR_SYSTEM, "out of memory");
  kl_settings base = r->set;
  int done = 0;
  for (int b = 0; st == KILN_OK && b < w->o->nshapes; b++) {
    const char *e = for_recipe(w->o->shapes[b], name);
    if (e) st = one_variant(w, r, &base, e, R, done++ == 0);
  }
  if (st == KILN_OK && !done) st = one_variant(w, r, &base, NULL, R, 1);
  free(R);
  kiln_recipe_free(r);
  return st;
}

/* ---- the file ---- */

static void put32(unsigned char *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *b, uint64_t v) {
  put32(b, (uint32_t)v);
  put32(b + 4, (uint32_t)(v >> 32));
}

/* Header, section table, sections (8-byte aligned, zero padding) into one buffer. */
static unsigned char *assemble(const image *sect, int n, size_t *size) {
  size_t pos = 24 + (size_t)n * 24;
  for (int i = 0; i < n; i++) pos = ((pos + 7) & ~(size_t)7) + sect[i].size;
  unsigned char *f = calloc(1, pos);
  if (!f) return NULL;
  memcpy(f, "KILNPACK", 8);
  put32(f + 8, KILN_PACK_FORMAT);
  put32(f + 12, (uint32_t)n);
  size_t at = 24 + (size_t)n * 24;
  for (int i = 0; i < n; i++) {
    at = (at + 7) & ~(size_t)7;
    unsigned char *e = f + 24 + (size_t)i * 24;
    put32(e, i == 0 ? PACK_SECT_MANIFEST : PACK_SECT_IMAGE);
    put32(e + 4, pack_crc32(0, sect[i].data, sect[i].size));
    put64(e + 8, at);
    put64(e + 16, sect[i].size);
    memcpy(f + at, sect[i].data, sect[i].size);
    at += sect[i].size;
  }
  put32(f + 16, pack_crc32(pack_crc32(0, f, 16), f + 24, (size_t)n * 24));
  *size = pos;
  return f;
}

static kiln_status write_file(kiln_session *s, const char *path, const unsigned char *data, size_t size) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(data, 1, size, f) == size;
  if (f && fclose(f)) ok = 0;
  if (ok && rename(tmp, path)) ok = 0;
  if (!ok) {
    int e = errno;
    unlink(tmp);
    return api_fail(s, KILN_ERR_SYSTEM, "cannot write %s: %s", path, strerror(e));
  }
  return KILN_OK;
}

static kiln_status finish(writer *w, char *manifest, size_t mlen, const char *path) {
  image *sect = malloc((size_t)(w->nimg + 1) * sizeof *sect);
  if (!sect) return api_fail(w->s, KILN_ERR_SYSTEM, "out of memory");
  sect[0] = (image){(unsigned char *)manifest, mlen};
  for (int i = 0; i < w->nimg; i++) sect[i + 1] = w->img[i];
  size_t size = 0;
  unsigned char *f = assemble(sect, w->nimg + 1, &size);
  free(sect);
  if (!f) return api_fail(w->s, KILN_ERR_SYSTEM, "out of memory");
  kiln_status st = write_file(w->s, path, f, size);
  free(f);
  return st;
}

static kiln_status check_opts(writer *w) {
  const kiln_pack_opts *o = w->o;
  if (o->nrecipes < 1) return api_fail(w->s, KILN_ERR_USAGE, "kiln_pack_write: no recipe");
  if (o->ntargets > MAXTARGETS) return api_fail(w->s, KILN_ERR_USAGE, "more than %d targets", MAXTARGETS);
  if (o->tuned) { /* refused here, with its path and why, if it is not a tuning database */
    kiln_tune_db *db = NULL;
    kiln_status st = kiln_tune_db_open(w->s, o->tuned, 0, &db);
    if (st != KILN_OK) return st;
    kiln_tune_db_close(db);
    w->tuned_ok = 1;
  }
  w->ntargets = o->ntargets ? o->ntargets : 1;
  for (int t = 0; t < w->ntargets; t++) {
    w->targets[t] = o->ntargets ? o->targets[t] : "sm_80";
    if (!api_target(w->s, w->targets[t])) return KILN_ERR_USAGE;
    for (int u = 0; u < t; u++)
      if (!strcmp(w->targets[u], w->targets[t]))
        return api_fail(w->s, KILN_ERR_USAGE, "target %s given twice", w->targets[t]);
  }
  return KILN_OK;
}

kiln_status kiln_pack_write(kiln_session *s, const kiln_pack_opts *o, const char *path) {
  if (!s) return KILN_ERR_USAGE;
  api_begin(s);
  if (!o || !path) return api_fail(s, KILN_ERR_USAGE, "kiln_pack_write: no options or no output path");
  writer w = {.s = s, .o = o, .cubin_ok = !o->no_cubin};
  kiln_status st = check_opts(&w);
  if (st != KILN_OK) return st;
  char *manifest = NULL;
  size_t mlen = 0;
  if (!(w.m = open_memstream(&manifest, &mlen))) return api_fail(s, KILN_ERR_SYSTEM, "out of memory");
  fprintf(w.m, "kiln-pack\t%d\nwriter\t%s\ntargets", KILN_PACK_FORMAT, kiln_version());
  for (int t = 0; t < w.ntargets; t++) fprintf(w.m, "\t%s", w.targets[t]);
  fprintf(w.m, "\n");
  char(*names)[128] = calloc((size_t)o->nrecipes, 128);
  if (!names) st = api_fail(s, KILN_ERR_SYSTEM, "out of memory");
  for (int i = 0; st == KILN_OK && i < o->nrecipes; i++) st = one_kernel(&w, o->recipes[i], names, i);
  free(names);
  fclose(w.m);
  if (st == KILN_OK) st = finish(&w, manifest, mlen, path);
  free(manifest);
  for (int i = 0; i < w.nimg; i++) free(w.img[i].data);
  free(w.img);
  return st;
}
