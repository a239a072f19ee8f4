/*
 * test_pack.c - packs: kiln_pack_write (compiler/api/pack.c) and the loader (runtime/pack_*.c).
 *
 * 1. Expressions: the postfix form's arithmetic, floor semantics, overflow and malformed text.
 * 2. Round trip: a pack of two recipes, two targets and two buckets opens to the kernels, sizes,
 *    arguments and settings that went in; its PTX is kiln_compile's; the launch plan at fresh random
 *    sizes agrees with the recipe's own Lua (grid, shapes, scalars); writing twice gives equal bytes;
 *    identical images are stored once.
 * 3. Corruption: a random byte of every section (and of the header) flipped, every truncation
 *    point class, trailing bytes, a foreign file: each refused with the path and the reason.
 * 4. Version skew: a pack claiming format 2 is refused by name; a hand-built format-1 pack (the test's
 *    own writer, from docs/packs.md) opens; manifest errors name their line.
 * 5. Image choice for each target row: exact sm (cubin when ptxas made one), nearest lower plain
 *    row, a device newer than every target, one older than every target.
 * 6. Shape buckets: nearest in log space, ties to the first.
 * 7. Launches through a fake driver (rt_driver_override): grid, threads, shared bytes, the image,
 *    every parameter's bytes, the caller's stream, and the errors.
 * 8. Recipes whose launch rules cannot be data are refused.
 */
#include <math.h>
#include <zlib.h>

#include "compiler/api/api.h"
#include "runtime/pack_int.h"
#include "test.h"

static char *dir;

/* ---- 1. expressions ---- */

static void test_expr(void) {
  int64_t sz[2] = {1000, 7}, v = 0;
  char err[256];
  CHECK(!pack_expr_eval("$0 256 cdiv", sz, 2, &v, err, sizeof err) && v == 4);
  CHECK(!pack_expr_eval("$0 $1 * 3 -", sz, 2, &v, err, sizeof err) && v == 6997);
  CHECK(!pack_expr_eval("-7 2 /", sz, 2, &v, err, sizeof err) && v == -4, "floor division");
  CHECK(!pack_expr_eval("-7 2 %", sz, 2, &v, err, sizeof err) && v == 1, "floor modulo");
  for (int i = 0; i < 200; i++) { /* random operands against C's own arithmetic */
    int64_t a = (int64_t)(test_rand() % 100000), b = 1 + (int64_t)(test_rand() % 1000), s[2] = {a, b};
    CHECK(!pack_expr_eval("$0 $1 cdiv", s, 2, &v, err, sizeof err) && v == (a + b - 1) / b);
    CHECK(!pack_expr_eval("$0 $1 + $1 *", s, 2, &v, err, sizeof err) && v == (a + b) * b);
    CHECK(!pack_expr_eval("$0 $1 cdiv $1 min", s, 2, &v, err, sizeof err) &&
          v == ((a + b - 1) / b < b ? (a + b - 1) / b : b));
  }
  CHECK(!pack_expr_eval("-3 2 min", sz, 2, &v, err, sizeof err) && v == -3, "min of a negative");
  CHECK(pack_expr_eval("5 min", sz, 2, &v, err, sizeof err));
  CHECK_CONTAINS(err, "needs two operands");
  CHECK(pack_expr_eval("9223372036854775807 1 +", sz, 2, &v, err, sizeof err));
  CHECK_CONTAINS(err, "overflows");
  CHECK(pack_expr_eval("1 0 /", sz, 2, &v, err, sizeof err));
  CHECK(pack_expr_eval("$2", sz, 2, &v, err, sizeof err));
  CHECK_CONTAINS(err, "size $2 out of range");
  CHECK(pack_expr_eval("1 +", sz, 2, &v, err, sizeof err));
  CHECK_CONTAINS(err, "needs two operands");
  CHECK(pack_expr_eval("1 2", sz, 2, &v, err, sizeof err));
  CHECK_CONTAINS(err, "leaves 2 values");
  CHECK(pack_expr_eval("1  2 +", sz, 2, &v, err, sizeof err));
  CHECK(pack_expr_eval("x", sz, 2, &v, err, sizeof err));
  CHECK(pack_expr_check("#0.125", 0, err, sizeof err) == 0 && pack_expr_float("#0.125") == 0.125);
  CHECK(pack_expr_check("#x", 0, err, sizeof err));
}

/* ---- helpers ---- */

static kiln_session *S;

static kiln_status write_pack(const char *path, const char *const *recipes, int nr,
                              const char *const *targets, int nt, const char *const *shapes, int ns,
                              int no_cubin) {
  kiln_pack_opts o = {.recipes = recipes,
                      .nrecipes = nr,
                      .targets = targets,
                      .ntargets = nt,
                      .shapes = shapes,
                      .nshapes = ns,
                      .no_cubin = no_cubin};
  return kiln_pack_write(S, &o, path);
}

static char *path_in(const char *name) {
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(p, "%s/%s", dir, name);
  return p;
}

static const char *const two_recipes[] = {"recipes/vector_add.lua", "recipes/softmax.lua"};
static const char *const two_targets[] = {"sm_80", "sm_90a"};
static const char *const two_buckets[] = {"vector_add:n=1000,BLOCK=256", "vector_add:n=1000000"};

/* ---- 2. round trip ---- */

/* The recipe's own grid, shapes and scalars for settings, against the pack's plan. */
static void check_plan_against_lua(const kiln_pack *p, int k, const char *recipe, const char *settings,
                                   const int64_t *sizes) {
  kiln_recipe *r = NULL;
  CHECK(kiln_recipe_load(S, recipe, &r) == KILN_OK);
  if (!r) return;
  char buf[1024], item[128];
  snprintf(buf, sizeof buf, "%s", settings);
  for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
    CHECK(kiln_recipe_set(r, t) == KILN_OK, "%s", t);
  for (int i = 0; i < kiln_pack_size_count(p, k); i++) {
    snprintf(item, sizeof item, "%s=%lld", kiln_pack_size_name(p, k, i), (long long)sizes[i]);
    CHECK(kiln_recipe_set(r, item) == KILN_OK, "%s", item);
  }
  int64_t g[3];
  kl_arg args[KL_MAXARGS];
  char err[512];
  int na = kl_recipe_args(r->lua, &r->set, args, KL_MAXARGS, err, sizeof err);
  CHECK(!kl_recipe_grid(r->lua, &r->set, g, err, sizeof err));
  kiln_pack_plan pl;
  CHECK(!kiln_pack_plan_get(p, k, sizes, 0, &pl, err, sizeof err), "%s", err);
  for (int d = 0; d < 3; d++)
    CHECK(pl.grid[d] == g[d], "grid[%d] %lld vs %lld", d, (long long)pl.grid[d], (long long)g[d]);
  CHECK(na == kiln_pack_arg_count(p, k));
  for (int i = 0; i < na; i++) {
    for (int d = 0; args[i].is_tensor && d < args[i].rank; d++) CHECK(pl.dims[i][d] == args[i].dims[d]);
    if (!args[i].is_tensor)
      CHECK(pl.ival[i] == args[i].ival && pl.fval[i] == args[i].fval, "scalar %s", args[i].name);
  }
  kiln_recipe_free(r);
}

static void test_round_trip(void) {
  char *a = path_in("a.kpack"), *b = path_in("b.kpack"), err[1024];
  CHECK(write_pack(a, two_recipes, 2, two_targets, 2, two_buckets, 2, 0) == KILN_OK, "%s", kiln_error(S));
  CHECK(write_pack(b, two_recipes, 2, two_targets, 2, two_buckets, 2, 0) == KILN_OK, "%s", kiln_error(S));
  size_t na = 0, nb = 0;
  char *da = test_read_file(a, &na), *db = test_read_file(b, &nb);
  CHECK(da && db && na == nb && !memcmp(da, db, na), "the same inputs give the same bytes");
  free(da), free(db);
  kiln_pack *p = NULL;
  CHECK(!kiln_pack_open(a, &p, err, sizeof err), "%s", err);
  if (!p) return;
  CHECK(kiln_pack_format(p) == KILN_PACK_FORMAT);
  CHECK_STR(kiln_pack_writer(p), kiln_version());
  CHECK(kiln_pack_target_count(p) == 2);
  CHECK_STR(kiln_pack_target(p, 1), "sm_90a");
  CHECK(kiln_pack_kernel_count(p) == 2);
  int va = kiln_pack_kernel_find(p, "vector_add"), sm = kiln_pack_kernel_find(p, "softmax");
  CHECK(va == 0 && sm == 1 && kiln_pack_kernel_find(p, "nope") == -1);
  CHECK(kiln_pack_size_count(p, va) == 1);
  CHECK_STR(kiln_pack_size_name(p, va, 0), "n");
  CHECK(kiln_pack_size_count(p, sm) == 2);
  CHECK(kiln_pack_variant_count(p, va) == 2 && kiln_pack_variant_count(p, sm) == 1);
  CHECK_STR(kiln_pack_variant_settings(p, va, 0), "BLOCK=256,warps=4");
  CHECK_STR(kiln_pack_variant_settings(p, va, 1), "BLOCK=1024,warps=4");
  CHECK(kiln_pack_variant_bucket(p, va, 0)[0] == 1000 && kiln_pack_variant_bucket(p, va, 1)[0] == 1000000);
  kiln_pack_arg arg;
  CHECK(!kiln_pack_arg_get(p, va, 2, &arg) && arg.is_tensor && arg.role == KILN_PACK_OUT && arg.rank == 1);
  CHECK_STR(arg.type, "f32");
  CHECK(!kiln_pack_arg_get(p, va, 3, &arg) && !arg.is_tensor && arg.elem_bytes == 4);
  CHECK(kiln_pack_arg_get(p, va, 4, &arg) == -1);
  CHECK(kiln_pack_tensor_count(p, sm) == 2 && kiln_pack_dim_size(p, sm, 0, 0, 1) == 1);
  /* The PTX stored is kiln_compile's for that bucket and target. */
  kiln_recipe *r = NULL;
  CHECK(kiln_recipe_load(S, "recipes/vector_add.lua", &r) == KILN_OK &&
        kiln_recipe_set(r, "BLOCK=256") == KILN_OK);
  kiln_compile_opts co = {.target = "sm_90a", .emit = KILN_EMIT_PTX};
  kiln_output out;
  CHECK(kiln_compile(r, &co, &out) == KILN_OK);
  const pack_variant *v = &p->k[va].v[0];
  int found = 0;
  for (int i = 0; i < v->nimages; i++)
    if (!v->images[i].is_cubin && !strcmp(p->targets[v->images[i].target], "sm_90a"))
      found = p->img[v->images[i].image].size == out.size + 1 &&
              !memcmp(p->img[v->images[i].image].data, out.data, out.size);
  CHECK(found, "the sm_90a PTX of bucket 0 is kiln_compile's");
  kiln_output_free(&out);
  kiln_recipe_free(r);
  /* Launch rules at fresh random sizes, against the recipe's Lua. */
  for (int i = 0; i < 5; i++) {
    int64_t n = 1 + test_rand() % 3000000, mn[2] = {1 + test_rand() % 5000, 1 + test_rand() % 5000};
    kiln_pack_plan pl;
    CHECK(!kiln_pack_plan_get(p, va, &n, 0, &pl, err, sizeof err));
    check_plan_against_lua(p, va, "recipes/vector_add.lua", pl.settings, &n);
    check_plan_against_lua(p, sm, "recipes/softmax.lua", kiln_pack_variant_settings(p, sm, 0), mn);
  }
  /* Stored once: softmax and two buckets of vector_add give distinct images, but packing the
   * same recipe with a bucket whose settings equal the other's shares them. */
  int distinct = p->nimages;
  kiln_pack_close(p);
  const char *const same[] = {"vector_add:n=1000", "vector_add:n=2000000"};
  CHECK(write_pack(b, two_recipes, 1, two_targets, 2, same, 2, 1) == KILN_OK);
  CHECK(!kiln_pack_open(b, &p, err, sizeof err));
  if (p)
    CHECK(p->nimages == 2 && kiln_pack_variant_count(p, 0) == 2, "2 buckets, 2 targets: %d images",
          p->nimages);
  kiln_pack_close(p);
  CHECK(distinct >= 6, "%d images", distinct);
  free(a), free(b);
}

/* ---- 3. and 4. corruption, version skew, a hand-built pack ---- */

static uint32_t get32(const unsigned char *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static void put32(unsigned char *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> 8 * i);
}
static void put64(unsigned char *b, uint64_t v) { put32(b, (uint32_t)v), put32(b + 4, (uint32_t)(v >> 32)); }

/* Expects path (holding data) to be refused with a message naming it and containing want. */
static void expect_refused(const char *path, const void *data, size_t n, const char *want) {
  char err[1024];
  kiln_pack *p = NULL;
  CHECK(!test_write_file(path, data, n));
  CHECK(kiln_pack_open(path, &p, err, sizeof err) == -1 && !p, "%s", want);
  CHECK_CONTAINS(err, path);
  CHECK_CONTAINS(err, want);
  kiln_pack_close(p);
}

static void test_corruption(void) {
  char *a = path_in("c.kpack"), *bad = path_in("bad.kpack");
  CHECK(write_pack(a, two_recipes, 1, two_targets, 2, NULL, 0, 1) == KILN_OK);
  size_t n = 0;
  unsigned char *d = (unsigned char *)test_read_file(a, &n), *c = malloc(n + 16);
  if (!d || !c) return;
  uint32_t ns = get32(d + 12);
  CHECK(ns == 3, "manifest + 2 PTX images: %u", ns);
  for (uint32_t s = 0; s < ns; s++) { /* a byte inside each section */
    uint64_t off = get32(d + 24 + 24 * s + 8), size = get32(d + 24 + 24 * s + 16);
    memcpy(c, d, n);
    c[off + test_rand() % size] ^= (unsigned char)(1 + test_rand() % 255);
    char want[64];
    snprintf(want, sizeof want, "section %u (%s) fails its checksum", s, s ? "image" : "manifest");
    expect_refused(bad, c, n, want);
  }
  memcpy(c, d, n);
  c[24 + 24 * (test_rand() % ns) + 4 + test_rand() % 20] ^= 0x10; /* the section table */
  expect_refused(bad, c, n, "the header fails its checksum");
  memcpy(c, d, n);
  c[12] ^= 1; /* the section count */
  expect_refused(bad, c, n, "");
  for (int i = 0; i < 8; i++) { /* truncations: inside the header, the table, any section */
    size_t cut = i == 0 ? 10 : i == 1 ? 30 : (size_t)(test_rand() % n);
    expect_refused(bad, d, cut, cut < 16 ? "not a kiln pack" : "truncated");
  }
  memcpy(c, d, n);
  memset(c + n, 0, 8);
  expect_refused(bad, c, n + 8, "8 bytes after the last section");
  expect_refused(bad, "\177ELF\2\1\1\0\0\0\0\0\0\0\0\0\0\0\0", 20, "not a kiln pack");
  expect_refused(bad, "", 0, "not a kiln pack");
  char err[512];
  kiln_pack *p = NULL;
  CHECK(kiln_pack_open(dir, &p, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "not a regular file");
  /* Version skew: a pack of format 3 (header checksum recomputed) is refused by name. */
  memcpy(c, d, n);
  put32(c + 8, 3);
  uLong h = crc32(crc32(0L, Z_NULL, 0), c, 16);
  put32(c + 16, (uint32_t)crc32(h, c + 24, ns * 24));
  expect_refused(bad, c, n, "pack format 3; this loader reads formats 1 to 2: a newer libkiln_rt is needed");
  free(d), free(c), free(a), free(bad);
}

/* The test's own writer of the container, from docs/packs.md: sections[0] is the manifest. */
static unsigned char *build_format(const char *const *sect, const size_t *len, int n, size_t *size,
                                   int format) {
  size_t pos = 24 + 24 * (size_t)n;
  for (int i = 0; i < n; i++) pos = ((pos + 7) & ~(size_t)7) + len[i];
  unsigned char *f = calloc(1, pos);
  memcpy(f, "KILNPACK", 8);
  put32(f + 8, (uint32_t)format);
  put32(f + 12, (uint32_t)n);
  size_t at = 24 + 24 * (size_t)n;
  for (int i = 0; i < n; i++) {
    at = (at + 7) & ~(size_t)7;
    put32(f + 24 + 24 * i, i ? 2 : 1);
    put32(f + 28 + 24 * i, (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)sect[i], (uInt)len[i]));
    put64(f + 32 + 24 * i, at);
    put64(f + 40 + 24 * i, len[i]);
    memcpy(f + at, sect[i], len[i]);
    at += len[i];
  }
  put32(f + 16, (uint32_t)crc32(crc32(crc32(0L, Z_NULL, 0), f, 16), f + 24, (uInt)(24 * n)));
  *size = pos;
  return f;
}

static unsigned char *build(const char *const *sect, const size_t *len, int n, size_t *size) {
  return build_format(sect, len, n, size, 1);
}

static const char *const MANIFEST =
    "kiln-pack\t1\nwriter\t9.9.9\ntargets\tsm_80\tsm_90a\n"
    "kernel\tk\tn\narg\tx\ttensor\tf32\tin\t1\narg\tn\tscalar\ti32\n"
    "arg\ts\tscalar\tf32\n"
    "variant\tkernel_main\t128\t0\tBLOCK=64\nbucket\t100\ngrid\t$0 64 cdiv\t1\t1\n"
    "dims\tx\t$0\nvalue\tn\t$0\nvalue\ts\t#0.5\nimage\tsm_80\tptx\t0\n"
    "image\tsm_90a\tcubin\t1\nend\n";

/* m = base with its first `from` replaced by `to`; -1 (a failed check) when base has no `from`. */
static int edit(const char *base, const char *from, const char *to, char *m, size_t n) {
  const char *at = strstr(base, from);
  CHECK(at, "%s", from);
  if (!at) return -1;
  snprintf(m, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
  return 0;
}

/* Opens a hand-built pack with manifest text m; 0 if it opened. */
static int open_built(const char *m, char *err, size_t errn) {
  const char *sect[3] = {m, "// ptx for sm_80", "CUBIN-90"};
  size_t len[3] = {strlen(m), 17, 8}, size;
  unsigned char *f = build(sect, len, 3, &size);
  char *path = path_in("built.kpack");
  test_write_file(path, f, size);
  kiln_pack *p = NULL;
  int rc = kiln_pack_open(path, &p, err, errn);
  kiln_pack_close(p);
  free(f), free(path);
  return rc;
}

static void test_manifest(void) {
  char err[1024];
  CHECK(!open_built(MANIFEST, err, sizeof err), "the documented format opens: %s", err);
  static const struct {
    const char *from, *to, *want;
  } bad[] = {
      {"kiln-pack\t1", "kiln-pack\t2", "line 1: '2' is not a whole number from 1 to 1"},
      {"arg\tn\tscalar\ti32", "arg\tn\tscalar\tq7", "line 6: unknown element type 'q7'"},
      {"\tin\t1", "\tsideways\t1", "line 5: unknown role 'sideways'"},
      {"$0 64 cdiv", "$0 cdiv", "line 10: 'cdiv' needs two operands"},
      {"$0 64 cdiv", "$1 64 cdiv", "line 10: size $1 out of range"},
      {"value\ts\t#0.5", "value\tn\t#0.5", "line 13: argument 'n' where 's' was expected"},
      {"dims\tx\t$0", "dims\tx\t#2.5", "line 11: a float constant '#2.5' where a whole number"},
      {"image\tsm_80\tptx\t0", "image\tsm_75\tptx\t0",
       "line 14: image for 'sm_75', which is not in the targets"},
      {"image\tsm_80\tptx\t0", "image\tsm_80\tptx\t7", "line 14: '7' is not a whole number from 0 to 1"},
      {"image\tsm_80\tptx\t0", "image\tsm_80\tptx\t1", "line 14: PTX image 1 does not end with a NUL byte"},
      {"\nend\n", "\n", "line 15: expected 'image' or 'end'"},
      {"grid\t$0 64 cdiv\t1\t1\n", "", "line 10: 'dims' where 'grid' was expected"},
      {"\nbucket\t100\ngrid", "\nbucket\t100\n\ngrid", "line 10: '' where 'grid' was expected"},
      {"bucket\t100", "bucket", "line 9: 'bucket' has 0 fields (expected 1 to 1)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char m[2048];
    if (edit(MANIFEST, bad[i].from, bad[i].to, m, sizeof m)) continue;
    CHECK(open_built(m, err, sizeof err) == -1, "%s", bad[i].want);
    CHECK_CONTAINS(err, bad[i].want);
  }
}

/* Format 2: images specialised on alignment after an `aligned NAME...` line (docs/packs.md). */
static const char *const MANIFEST2 =
    "kiln-pack\t2\nwriter\t9.9.9\ntargets\tsm_80\tsm_90a\n"
    "kernel\tk\tn\narg\tx\ttensor\tf32\tin\t1\narg\tn\tscalar\ti32\n"
    "arg\ts\tscalar\tf32\n"
    "variant\tkernel_main\t128\t0\tBLOCK=64\nbucket\t100\ngrid\t$0 64 cdiv\t1\t1\n"
    "dims\tx\t$0\nvalue\tn\t$0\nvalue\ts\t#0.5\nimage\tsm_80\tptx\t0\n"
    "image\tsm_90a\tcubin\t1\naligned\tx\tn\nimage\tsm_80\tptx\t2\nimage\tsm_90a\tcubin\t3\nend\n";

static const char *const SECT2[5] = {NULL, "// ptx for sm_80", "CUBIN-90", "// aligned ptx", "CUBIN-A9"};
static const size_t LEN2[5] = {0, 17, 8, 15, 8};

static char *write_built2(const char *m, const char *name, int format) {
  const char *sect[5];
  size_t len[5], size;
  memcpy(sect, SECT2, sizeof sect), memcpy(len, LEN2, sizeof len);
  sect[0] = m, len[0] = strlen(m);
  unsigned char *f = build_format(sect, len, 5, &size, format);
  char *path = path_in(name);
  test_write_file(path, f, size);
  free(f);
  return path;
}

static void test_manifest_aligned(void) {
  char err[1024];
  kiln_pack *p = NULL;
  char *path = write_built2(MANIFEST2, "aligned.kpack", 2);
  CHECK(!kiln_pack_open(path, &p, err, sizeof err), "format 2 with aligned images opens: %s", err);
  kiln_pack_close(p);
  free(path);
  static const struct {
    const char *from, *to, *want;
    int format;
  } bad[] = {
      {"kiln-pack\t2", "kiln-pack\t1", "line 16: 'aligned' in a pack of format 1 (it came with format 2)", 1},
      {"aligned\tx\tn", "aligned\tx\ty",
       "line 16: 'aligned' names 'y', which is not an argument of kernel 'k'", 2},
      {"aligned\tx\tn", "aligned\tx\ts",
       "line 16: 'aligned' names 's', a f32 scalar (tensors and integers only)", 2},
      {"aligned\tx\tn", "aligned\tn\tx\tn", "line 16: 'aligned' names 'n' twice", 2},
      {"aligned\tx\tn", "aligned", "line 16: 'aligned' names no argument", 2},
      {"image\tsm_80\tptx\t2\nimage\tsm_90a\tcubin\t3\n", "",
       "line 17: an 'aligned' line with no image after it", 2},
      {"image\tsm_80\tptx\t2", "image\tsm_75\tptx\t2",
       "line 17: image for 'sm_75', which is not in the targets", 2},
      {"image\tsm_80\tptx\t2", "image\tsm_80\tptx\t9", "line 17: '9' is not a whole number from 0 to 3", 2},
      {"\nend\n", "\naligned\tx\n", "line 19: expected 'image' or 'end'", 2},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char m[2048];
    if (edit(MANIFEST2, bad[i].from, bad[i].to, m, sizeof m)) continue;
    path = write_built2(m, "aligned_bad.kpack", bad[i].format);
    CHECK(kiln_pack_open(path, &p, err, sizeof err) == -1, "%s", bad[i].want);
    CHECK_CONTAINS(err, bad[i].want);
    free(path);
  }
}

/* The generated header of a kernel with no tensor and no size still declares valid arrays. */
static void test_header_no_tensors(void) {
  const char *m =
      "kiln-pack\t1\nwriter\t0\ntargets\tsm_80\nkernel\tonly_scalars\narg\tc\tscalar\ti32\n"
      "variant\tkernel_main\t32\t0\t\nbucket\ngrid\t1\t1\t1\nvalue\tc\t7\nimage\tsm_80\tptx\t0\nend\n";
  const char *sect[2] = {m, "// ptx"};
  size_t len[2] = {strlen(m), 7}, size;
  unsigned char *f = build(sect, len, 2, &size);
  char *path = path_in("scalars.kpack"), *h = path_in("scalars.h");
  test_write_file(path, f, size);
  CHECK(kiln_pack_header(S, path, h) == KILN_OK, "%s", kiln_error(S));
  char *text = test_read_file(h, NULL);
  CHECK(text && strstr(text, "kiln_sizes[] = {0};") && strstr(text, "kiln_tensors[] = {0};"), "%s", text);
  free(text), free(f), free(path), free(h);
}

/* ---- 5. image choice ---- */

static void test_pick(void) {
  const char *rows[] = {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90a", "sm_100a", "sm_120a"};
  static const struct {
    int sm;
    const char *want;
  } cases[] = {{75, "sm_75"},    {80, "sm_80"},  {87, "sm_86"},    {89, "sm_89"}, {90, "sm_90a"},
               {100, "sm_100a"}, {103, "sm_89"}, {120, "sm_120a"}, {121, "sm_89"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int k = rt_pick_target(cases[i].sm, rows, 7);
    CHECK(k >= 0 && !strcmp(rows[k], cases[i].want), "sm %d: %s", cases[i].sm, k >= 0 ? rows[k] : "none");
  }
  CHECK(rt_pick_target(70, rows, 7) == -1);
  CHECK(rt_target_sm("sm_90a") == 90 && rt_target_sm("sm_100f") == 100 && rt_target_sm("gfx90a") == -1);

  char *a = path_in("pick.kpack"), err[512];
  int cubins = test_ptxas() != NULL;
  CHECK(write_pack(a, two_recipes, 1, two_targets, 2, NULL, 0, 0) == KILN_OK, "%s", kiln_error(S));
  kiln_pack *p = NULL;
  CHECK(!kiln_pack_open(a, &p, err, sizeof err), "%s", err);
  if (!p) return;
  int64_t n = 5000;
  kiln_pack_plan pl;
  static const struct {
    int sm;
    const char *target;
    int cubin;
  } rows2[] = {{90, "sm_90a", 1}, {80, "sm_80", 1},  {86, "sm_80", 0},
               {89, "sm_80", 0},  {120, "sm_80", 0}, {100, "sm_80", 0}};
  for (size_t i = 0; i < sizeof rows2 / sizeof *rows2; i++) {
    CHECK(!kiln_pack_plan_get(p, 0, &n, rows2[i].sm, &pl, err, sizeof err), "%s", err);
    CHECK(pl.target && !strcmp(pl.target, rows2[i].target), "sm %d: %s", rows2[i].sm, pl.target);
    CHECK(pl.is_cubin == (rows2[i].cubin && cubins), "sm %d cubin %d", rows2[i].sm, pl.is_cubin);
  }
  CHECK(kiln_pack_plan_get(p, 0, &n, 75, &pl, err, sizeof err) == -1, "older than every target");
  CHECK_CONTAINS(err, "has no image for a device of sm 75 (targets: sm_80 sm_90a)");
  kiln_pack_close(p);
  const char *only90[] = {"sm_90a"};
  CHECK(write_pack(a, two_recipes, 1, only90, 1, NULL, 0, 1) == KILN_OK);
  CHECK(!kiln_pack_open(a, &p, err, sizeof err));
  if (p)
    CHECK(kiln_pack_plan_get(p, 0, &n, 100, &pl, err, sizeof err) == -1,
          "sm_90a code does not run on sm 100");
  kiln_pack_close(p);
  free(a);
}

/* ---- 6. buckets ---- */

static void test_buckets(void) {
  char *a = path_in("buckets.kpack"), err[512];
  const char *const b[] = {"vector_add:n=1000,BLOCK=256", "vector_add:n=1000000,BLOCK=2048",
                           "vector_add:n=1000000,BLOCK=512"};
  CHECK(write_pack(a, two_recipes, 1, two_targets, 1, b, 3, 1) == KILN_OK, "%s", kiln_error(S));
  kiln_pack *p = NULL;
  CHECK(!kiln_pack_open(a, &p, err, sizeof err));
  if (!p) return;
  for (int i = 0; i < 50; i++) {
    int64_t n = (int64_t)exp2(test_rand_double(0, 24));
    double d0 = fabs(log2(1.0 + n) - log2(1001.0)), d1 = fabs(log2(1.0 + n) - log2(1000001.0));
    kiln_pack_plan pl;
    CHECK(!kiln_pack_plan_get(p, 0, &n, 0, &pl, err, sizeof err));
    CHECK(pl.variant == (d1 < d0 ? 1 : 0), "n = %lld: variant %d", (long long)n, pl.variant);
    CHECK(pl.grid[0] == (n + (pl.variant ? 2047 : 255)) / (pl.variant ? 2048 : 256));
  }
  int64_t neg = -1;
  kiln_pack_plan pl;
  CHECK(kiln_pack_plan_get(p, 0, &neg, 0, &pl, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "size n = -1 is negative");
  kiln_pack_close(p);
  free(a);
}

/* ---- 7. launches through a fake driver ---- */

typedef int CUresult;
static struct {
  int sm, launches, launch_result, binds, bind_result;
  unsigned grid[3], threads, shared;
  void *stream;
  unsigned char params[8][8];
  char image[64];
  int with_map, maps;          /* the kernel takes a tensor map after its 3 arguments; maps encoded */
  unsigned long long map_dim0; /* the last map's dims[0] and address */
  void *map_addr;
  unsigned char map_param[8]; /* the first bytes of the launch's 4th parameter */
} fk;
static int tok;
/* The entry points the loader resolves but these tests need nothing from: each with its driver
 * signature (a call through a pointer of another type is undefined, and UBSan says so). */
static CUresult f_init(unsigned flags) { return (void)flags, 0; }
static CUresult f_release(int d) { return (void)d, 0; }
static CUresult f_sync(void) { return 0; }
static CUresult f_unload(void *m) { return (void)m, 0; }
static CUresult f_setattr(void *f, int a, int v) { return (void)f, (void)a, (void)v, 0; }
static CUresult f_alloc(unsigned long long *p, size_t n) { return *p = 0x1000, (void)n, 0; }
static CUresult f_free(unsigned long long p) { return (void)p, 0; }
static CUresult f_htod(unsigned long long d, const void *s, size_t n) { return (void)d, (void)s, (void)n, 0; }
static CUresult f_dtoh(void *d, unsigned long long s, size_t n) { return (void)d, (void)s, (void)n, 0; }
static CUresult f_memset(unsigned long long d, unsigned char v, size_t n) {
  return (void)d, (void)v, (void)n, 0;
}
static CUresult f_ev_create(void **e, unsigned f) { return *e = &tok, (void)f, 0; }
static CUresult f_ev_record(void *e, void *s) { return (void)e, (void)s, 0; }
static CUresult f_ev_sync(void *e) { return (void)e, 0; }
static CUresult f_ev_time(float *ms, void *a, void *b) { return *ms = 0, (void)a, (void)b, 0; }
static CUresult f_ev_destroy(void *e) { return (void)e, 0; }
static CUresult f_count(int *n) { return *n = 1, 0; }
static CUresult f_get(int *d, int o) { return *d = o, 0; }
static CUresult f_attr(int *v, int a, int d) {
  return *v = a == 75 ? fk.sm / 10 : a == 76 ? fk.sm % 10 : 100000, 0;
}
static CUresult f_name(char *s, int n, int d) { return snprintf(s, (size_t)n, "Fake"), 0; }
static CUresult f_retain(void **c, int d) { return *c = &tok, 0; }
static CUresult f_setcur(void *c) { return fk.bind_result ? fk.bind_result : (fk.binds++, 0); }
static CUresult f_load(void **m, const void *im, unsigned n, int *o, void **v) {
  snprintf(fk.image, sizeof fk.image, "%.8s", (const char *)im);
  return *m = &tok, 0;
}
static CUresult f_getfn(void **f, void *m, const char *name) {
  return *f = &tok, strcmp(name, "kernel_main") ? 500 : 0;
}
static CUresult f_launch(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                         unsigned bz, unsigned sh, void *st, void **p, void **ex) {
  if (fk.launch_result) return fk.launch_result;
  fk.launches++, fk.grid[0] = gx, fk.grid[1] = gy, fk.grid[2] = gz, fk.threads = bx, fk.shared = sh,
                 fk.stream = st;
  for (int i = 0; i < 3; i++) memcpy(fk.params[i], p[i], 8); /* the hand-built kernel has 3 arguments */
  if (fk.with_map) memcpy(fk.map_param, p[3], 8);
  return 0;
}
static CUresult f_tmap(void *map, int dtype, unsigned rank, void *gaddr, const uint64_t *dims,
                       const uint64_t *strides, const uint32_t *box, const uint32_t *es, int il, int sw,
                       int l2, int oob) {
  (void)dtype, (void)rank, (void)strides, (void)box, (void)es, (void)il, (void)sw, (void)l2, (void)oob;
  fk.maps++, fk.map_dim0 = dims[0], fk.map_addr = gaddr;
  memset(map, 0xab, 128);
  return 0;
}
static CUresult f_errs(CUresult r, const char **s) {
  return *s = r == 719 ? "CUDA_ERROR_LAUNCH_FAILED" : "E", 0;
}

static void *resolve(const char *sym, void *ctx) {
  static const struct {
    const char *name;
    void *fn;
  } t[] = {{"cuDeviceGetCount", f_count},
           {"cuDeviceGet", f_get},
           {"cuDeviceGetAttribute", f_attr},
           {"cuDeviceGetName", f_name},
           {"cuDevicePrimaryCtxRetain", f_retain},
           {"cuCtxSetCurrent", f_setcur},
           {"cuModuleLoadDataEx", f_load},
           {"cuModuleGetFunction", f_getfn},
           {"cuLaunchKernel", f_launch},
           {"cuGetErrorName", f_errs},
           {"cuGetErrorString", f_errs},
           {"cuInit", f_init},
           {"cuDevicePrimaryCtxRelease_v2", f_release},
           {"cuCtxSynchronize", f_sync},
           {"cuModuleUnload", f_unload},
           {"cuFuncSetAttribute", f_setattr},
           {"cuMemAlloc_v2", f_alloc},
           {"cuMemFree_v2", f_free},
           {"cuMemcpyHtoD_v2", f_htod},
           {"cuMemcpyDtoH_v2", f_dtoh},
           {"cuMemsetD8_v2", f_memset},
           {"cuEventCreate", f_ev_create},
           {"cuEventRecord", f_ev_record},
           {"cuEventSynchronize", f_ev_sync},
           {"cuEventElapsedTime_v2", f_ev_time},
           {"cuEventDestroy_v2", f_ev_destroy},
           {"cuTensorMapEncodeTiled", f_tmap}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (!strcmp(sym, t[i].name)) return t[i].fn;
  return NULL;
}

/* A kernel whose PTX lists a tensor map (codegen's kiln-tmap comment line): the launch encodes it
 * for the tensor and the sizes and passes it after the arguments; the cubin of the same target runs
 * with the map its PTX describes; a map the driver's rules refuse names the tensor. */
static void test_launch_tma(void) {
  char err[1024];
  static const char m[] = "kiln-pack\t1\nwriter\t9.9.9\ntargets\tsm_90a\n"
                          "kernel\tk\tn\narg\tx\ttensor\tf32\tin\t1\narg\tn\tscalar\ti32\n"
                          "arg\ts\tscalar\tf32\n"
                          "variant\tkernel_main\t128\t0\tBLOCK=64\nbucket\t100\ngrid\t$0 64 cdiv\t1\t1\n"
                          "dims\tx\t$0\nvalue\tn\t$0\nvalue\ts\t#0.5\nimage\tsm_90a\tptx\t0\n"
                          "image\tsm_90a\tcubin\t1\nend\n";
  static const char ptx[] =
      "// kiln-tmap param=3 arg=0 type=f32 rank=1 swizzle=0 box=64 dims=$1,4,* strides=\n"
      "//\n.version 8.4\n";
  const char *sect[3] = {m, ptx, "CUBIN-90"};
  size_t len[3] = {strlen(m), sizeof ptx, 8}, size;
  unsigned char *f = build(sect, len, 3, &size);
  char *path = path_in("tma.kpack");
  test_write_file(path, f, size);
  free(f);
  memset(&fk, 0, sizeof fk);
  fk.sm = 90, fk.with_map = 1;
  rt_driver_override(resolve, NULL);
  kiln_pack *p = NULL;
  CHECK(!kiln_pack_open(path, &p, err, sizeof err), "%s", err);
  if (p) {
    int64_t n = 1 + test_rand() % 100000;
    uint64_t x = 0x10000 * (1 + test_rand() % 1000);
    CHECK(!kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err), "%s", err);
    CHECK(fk.launches == 1 && fk.maps == 1, "launches %d maps %d", fk.launches, fk.maps);
    CHECK(fk.map_dim0 == (unsigned long long)(4 * n) && fk.map_addr == (void *)(uintptr_t)x,
          "map dims[0] %llu (want %lld), address %p", fk.map_dim0, (long long)(4 * n), fk.map_addr);
    CHECK(fk.map_param[0] == 0xab && fk.map_param[7] == 0xab, "the map is the 4th parameter");
    CHECK_STR(fk.image, "CUBIN-90");
    x = 0x10004; /* not 16-byte aligned: the driver's rule, before any call */
    CHECK(kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "kernel 'k', tensor 'x' (its TMA boxes need a tensor map): tensor map:");
    CHECK(fk.maps == 1 && fk.launches == 1, "nothing launched");
    kiln_pack_close(p);
  }
  rt_driver_override(NULL, NULL);
  free(path);
}

static void test_launch(void) {
  char err[1024];
  const char *sect[3] = {MANIFEST, "// ptx for sm_80", "CUBIN-90"};
  size_t len[3] = {strlen(MANIFEST), 17, 8}, size;
  unsigned char *f = build(sect, len, 3, &size);
  char *path = path_in("launch.kpack");
  test_write_file(path, f, size);
  free(f);
  for (int round = 0; round < 2; round++) {
    memset(&fk, 0, sizeof fk);
    fk.sm = round ? 86 : 90;
    rt_driver_override(resolve, NULL);
    kiln_pack *p = NULL;
    CHECK(!kiln_pack_open(path, &p, err, sizeof err), "%s", err);
    if (!p) break;
    int64_t n = 1 + test_rand() % 100000;
    uint64_t x = test_rand64(), stream_token = 0;
    CHECK(!kiln_pack_launch(p, 0, &n, &x, 1, 0, &stream_token, err, sizeof err), "%s", err);
    CHECK(fk.launches == 1 && fk.grid[0] == (unsigned)((n + 63) / 64) && fk.grid[1] == 1 &&
          fk.threads == 128);
    CHECK(fk.stream == &stream_token, "the caller's stream");
    CHECK(fk.binds == 2, "the context made current at open and at the launch: %d", fk.binds);
    CHECK(!kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err) && fk.binds == 3,
          "and at every launch");
    CHECK_STR(fk.image, round ? "// ptx f" : "CUBIN-90");
    uint64_t px;
    int32_t pn;
    float ps;
    memcpy(&px, fk.params[0], 8), memcpy(&pn, fk.params[1], 4), memcpy(&ps, fk.params[2], 4);
    CHECK(px == x && pn == (int32_t)n && ps == 0.5f, "parameters: x %llx n %d s %g", (unsigned long long)px,
          pn, ps);
    CHECK(kiln_pack_launch(p, 0, &n, &x, 2, 0, NULL, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "kernel 'k' takes 1 tensors, got 2");
    CHECK(kiln_pack_launch(p, 3, &n, &x, 1, 0, NULL, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "no kernel 3");
    fk.bind_result = 201;
    CHECK(kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "cuCtxSetCurrent failed");
    fk.bind_result = 0;
    fk.launch_result = 719;
    CHECK(kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED");
    kiln_pack_close(p);
  }
  fk.sm = 75;
  rt_driver_override(resolve, NULL);
  kiln_pack *p = NULL;
  int64_t n = 10;
  uint64_t x = 0;
  CHECK(!kiln_pack_open(path, &p, err, sizeof err));
  if (p) CHECK(kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "has no image for a device of sm 75");
  kiln_pack_close(p);
  rt_driver_override(NULL, NULL);
  free(path);
}

/* A variant with images specialised on alignment (`aligned x n`): a launch whose tensor address is a
 * multiple of 16 bytes and whose n is a multiple of 16 runs them (the cubin on sm 90, the PTX on
 * sm 86); a launch that breaks either runs the general image; each is loaded once. */
static void test_launch_aligned(void) {
  char err[1024];
  char *path = write_built2(MANIFEST2, "launch_aligned.kpack", 2);
  for (int round = 0; round < 2; round++) {
    memset(&fk, 0, sizeof fk);
    fk.sm = round ? 86 : 90;
    const char *general = round ? "// ptx f" : "CUBIN-90", *aligned = round ? "// align" : "CUBIN-A9";
    rt_driver_override(resolve, NULL);
    kiln_pack *p = NULL;
    CHECK(!kiln_pack_open(path, &p, err, sizeof err), "%s", err);
    if (!p) break;
    int64_t n = 16 * (1 + test_rand() % 1000) + 1 + test_rand() % 15; /* not a multiple of 16 */
    uint64_t x = 0x10000 * (1 + test_rand() % 1000);
    CHECK(!kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err), "%s", err);
    CHECK_STR(fk.image, general);
    n = 16 * (1 + test_rand() % 1000);
    x += 8; /* n aligned, x not */
    fk.image[0] = 0;
    CHECK(!kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err), "%s", err);
    CHECK(fk.image[0] == 0, "the general kernel again, not loaded twice: %s", fk.image);
    x -= 8; /* both aligned */
    CHECK(!kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err), "%s", err);
    CHECK_STR(fk.image, aligned);
    uint64_t px;
    int32_t pn;
    memcpy(&px, fk.params[0], 8), memcpy(&pn, fk.params[1], 4);
    CHECK(px == x && pn == (int32_t)n && fk.launches == 3, "parameters: x %llx n %d, %d launches",
          (unsigned long long)px, pn, fk.launches);
    fk.image[0] = 0;
    CHECK(!kiln_pack_launch(p, 0, &n, &x, 1, 0, NULL, err, sizeof err), "%s", err);
    CHECK(fk.image[0] == 0, "the aligned kernel loaded once: %s", fk.image);
    kiln_pack_close(p);
  }
  rt_driver_override(NULL, NULL);
  free(path);
}

/* ---- 8. launch rules that cannot be data ---- */

static void test_refused_rules(void) {
  static const struct {
    const char *from, *to, *want;
  } cases[] = {
      {"return kiln.cdiv(p.n, p.BLOCK)", "return p.n > 5 and 2 or 1", "compares"},
      {"return kiln.cdiv(p.n, p.BLOCK)", "return math.ceil(p.n / p.BLOCK)", "compares, divides"},
      {"return kiln.cdiv(p.n, p.BLOCK)", "return kiln.cdiv(p.n, p.BLOCK) + (p.n == 98432 and 1 or 0)",
       "grid[0] = '$0 1024 cdiv 0 +' gives another value than grid(p)"},
      {"return kiln.cdiv(p.n, p.BLOCK)", "return kiln.cdiv(p.n, p.BLOCK) + (p.n == 196867 and 1 or 0)",
       "the launch rule holds only at the bucket's sizes"},
      {"k.view(k.args.x, { k.args.n })", "k.view(k.args.x, { p.n })", "compiles a problem size in"},
      /* a recipe that refuses every size but the bucket's: neither 2x+3 nor 3x is taken */
      {"return kiln.cdiv(p.n, p.BLOCK)",
       "if type(p.n) == 'number' and p.n ~= 98432 then error('only 98432', 0) end return kiln.cdiv(p.n, "
       "p.BLOCK)",
       "only 98432"},
  };
  size_t n = 0;
  char *text = test_read_file("recipes/vector_add.lua", &n);
  for (size_t i = 0; text && i < sizeof cases / sizeof *cases; i++) {
    const char *at = strstr(text, cases[i].from);
    CHECK(at, "%s", cases[i].from);
    if (!at) continue;
    char *m = malloc(n + 256);
    sprintf(m, "%.*s%s%s", (int)(at - text), text, cases[i].to, at + strlen(cases[i].from));
    char *recipe = test_scratch_file(dir, "rule", ".lua", m);
    const char *rs[] = {recipe};
    char *out = path_in("refused.kpack");
    kiln_status st = write_pack(out, rs, 1, two_targets, 1, NULL, 0, 1);
    CHECK(st == KILN_ERR_INPUT, "%s: %s", cases[i].want, kiln_error(S));
    CHECK_CONTAINS(kiln_error(S), cases[i].want);
    CHECK(access(out, F_OK) != 0, "nothing written");
    free(m), free(recipe), free(out);
  }
  free(text);
  const char *ir[] = {"tests/lit/passes/cse.ir"};
  char *out = path_in("x.kpack");
  if (access(ir[0], F_OK) == 0) {
    CHECK(write_pack(out, ir, 1, two_targets, 1, NULL, 0, 1) == KILN_ERR_INPUT);
    CHECK_CONTAINS(kiln_error(S), "packs are built from recipes");
  }
  const char *bad_targets[] = {"sm_80", "sm_80"};
  CHECK(write_pack(out, two_recipes, 1, bad_targets, 2, NULL, 0, 1) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(S), "target sm_80 given twice");
  const char *bad_shape[] = {"vector_add:n"};
  CHECK(write_pack(out, two_recipes, 1, two_targets, 1, bad_shape, 1, 1) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(S), "--shapes 'n': expected NAME=VALUE");
  const char *unknown[] = {"vector_add:q=3"};
  CHECK(write_pack(out, two_recipes, 1, two_targets, 1, unknown, 1, 1) == KILN_ERR_INPUT);
  CHECK_CONTAINS(kiln_error(S), "--shapes 'q=3'");
  const char *dup[] = {"recipes/vector_add.lua", "recipes/vector_add.lua"};
  CHECK(write_pack(out, dup, 2, two_targets, 1, NULL, 0, 1) == KILN_ERR_USAGE);
  CHECK_CONTAINS(kiln_error(S), "a second kernel named 'vector_add'");
  CHECK(write_pack("/nonexistent-dir/x.kpack", two_recipes, 1, two_targets, 1, NULL, 0, 1) ==
        KILN_ERR_SYSTEM);
  CHECK_CONTAINS(kiln_error(S), "cannot write /nonexistent-dir/x.kpack");
  free(out);
}

int main(void) {
  dir = test_scratch_dir("pack");
  S = kiln_session_new();
  test_expr();
  test_round_trip();
  test_corruption();
  test_manifest();
  test_manifest_aligned();
  test_header_no_tensors();
  test_pick();
  test_buckets();
  test_launch();
  test_launch_tma();
  test_launch_aligned();
  test_refused_rules();
  kiln_session_free(S);
  test_rmtree(dir);
  free(dir);
  return test_done("test_pack");
}
