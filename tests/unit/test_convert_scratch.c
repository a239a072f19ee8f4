/*
 * test_convert_scratch.c - layout conversions through shared scratch (codegen/lower_layout.c): codegen
 * counts each candidate arrangement of the scratch (the wide path's swizzle, row-major rows with
 * padding, wide stores under the owner predicate) as the hardware counts bank conflicts and takes the
 * one with the fewest wavefronts. Each kernel loads a tile in one layout, converts it to another and
 * stores it; the simulator checks every element (fresh random bits, the output poisoned first) and
 * its profile gives the conversion's shared wavefronts and conflicts:
 *   - the conversions of the recipes that conflicted before (fftconv's "bnh" transposing tile and its
 *     given spectrum, attention_decode's epilogue, w4a16_pack's word tile, fftconv4's replicated f32
 *     tile), each at or under the wavefronts measured when this choice went in;
 *   - random pairs of blocked layouts over random shapes and element types: every element right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "sim/sim.h"
#include "test.h"

typedef struct {
  const char *elem; /* IR element type */
  int bytes;        /* its size */
  int rank;
  uint32_t shape[3];
  const char *from, *to; /* layouts */
  int loop;              /* the conversion inside a loop */
} conv_case;

static void shape_text(const conv_case *c, char *out, size_t n) {
  size_t k = 0;
  for (int d = 0; d < c->rank; d++) k += (size_t)snprintf(out + k, n - k, "%ux", c->shape[d]);
  snprintf(out + k, n - k, "%s", c->elem);
}

/* The kernel of case c: load x in `from`, convert to `to`, store to y (both row-major). */
static char *kernel_text(const conv_case *c) {
  char shape[64], dims[128] = "", strides[128] = "", offs[64] = "", consts[512] = "";
  shape_text(c, shape, sizeof shape);
  size_t kc = 0, kd = 0, ks = 0, ko = 0;
  uint32_t stride = 1, st[3];
  for (int d = c->rank - 1; d >= 0; d--) st[d] = stride, stride *= c->shape[d];
  for (int d = 0; d < c->rank; d++) {
    kc += (size_t)snprintf(consts + kc, sizeof consts - kc,
                           "  %%d%d = const() {value = %u} : i32\n  %%s%d = const() {value = %u} : i32\n", d,
                           c->shape[d], d, st[d]);
    kd += (size_t)snprintf(dims + kd, sizeof dims - kd, ", %%d%d", d);
    ks += (size_t)snprintf(strides + ks, sizeof strides - ks, ", %%s%d", d);
    ko += (size_t)snprintf(offs + ko, sizeof offs - ko, ", %%z");
  }
  /* in a loop of one iteration when c->loop (inside loops the wide path is the last candidate) */
  char body[1024];
  snprintf(body, sizeof body,
           "%s  %%a = load(%%vx%s) : tile<%s, %s>\n"
           "%s  %%b = convert_layout(%%a) : tile<%s, %s>\n"
           "%s  store(%%vy%s, %%b)\n",
           c->loop ? "  " : "", offs, shape, c->from, c->loop ? "  " : "", shape, c->to, c->loop ? "  " : "",
           offs);
  char *t = malloc(4096);
  snprintf(t, 4096,
           "kernel @cvt(%%x: ptr<%s>, %%y: ptr<%s>) {warps = 4} {\n"
           "  %%z = const() {value = 0} : i32\n  %%one = const() {value = 1} : i32\n%s"
           "  %%vx = view(%%x%s%s) : view<%dx%s>\n"
           "  %%vy = view(%%y%s%s) : view<%dx%s>\n"
           "%s%s%s"
           "}\n",
           c->elem, c->elem, consts, dims, strides, c->rank, c->elem, dims, strides, c->rank, c->elem,
           c->loop ? "  for(%z, %one, %one) {\n    ^(%i: i32):\n" : "", body,
           c->loop ? "    yield()\n  }\n" : "");
  return t;
}

/* Runs case c on the simulator (sm_80): 1 when it ran and every element arrived, with the
 * conversion's shared wavefronts and conflicts; 0 when the IR is refused (random cases skip those);
 * -1 on a failure (reported). */
static int run_case(const conv_case *c, uint64_t *wf, uint64_t *conflicts) {
  char *text = kernel_text(c), err[1024] = "";
  ir_func *fn = ir_parse(text, "cvt.ir", err, sizeof err, NULL);
  if (!fn || ir_verify(fn, err, sizeof err)) {
    if (fn) ir_func_destroy(fn);
    free(text);
    return 0;
  }
  cg_result r;
  int rc = cg_compile(fn, tg_target_lookup("sm_80"), CG_SIM, 0, &r, err, sizeof err);
  ir_func_destroy(fn);
  if (rc) {
    CHECK(0, "%s -> %s: codegen: %s", c->from, c->to, err);
    free(text);
    return -1;
  }
  size_t n = 1;
  for (int d = 0; d < c->rank; d++) n *= c->shape[d];
  size_t bytes = n * (size_t)c->bytes;
  unsigned char *x = aligned_alloc(128, (bytes + 127) / 128 * 128),
                *y = aligned_alloc(128, (bytes + 127) / 128 * 128);
  for (size_t i = 0; i < bytes; i++) x[i] = (unsigned char)test_rand(), y[i] = 0xa5;
  if (c->bytes == 2) /* finite f16: clear the exponent's top bit */
    for (size_t i = 1; i < bytes; i += 2) x[i] &= 0xbf;
  if (c->bytes == 4)
    for (size_t i = 3; i < bytes; i += 4) x[i] &= 0xbf;
  ir_elem e = c->bytes == 2 ? IR_F16 : IR_F32;
  if (!strcmp(c->elem, "u32")) e = IR_U32;
  sim_arg a[2] = {{.is_ptr = 1, .elem = e, .ptr = x, .bytes = bytes},
                  {.is_ptr = 1, .elem = e, .ptr = y, .bytes = bytes}};
  sim_profile p = {0};
  sim_opts o = {.workers = 1, .profile = &p};
  int64_t grid[3] = {1, 1, 1};
  int ok = sim_launch(&r, a, 2, grid, &o, err, sizeof err) == 0;
  CHECK(ok, "%s -> %s: %s\n%s", c->from, c->to, err, text);
  if (ok) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < bytes; i++)
      if (x[i] != y[i] && !bad++) first = i;
    CHECK(bad == 0, "%s %s -> %s: %zu bytes wrong, the first at byte %zu", c->elem, c->from, c->to, bad,
          first);
    ok = bad == 0;
    *wf = *conflicts = 0;
    for (int i = 0; i < p.nops; i++)
      if (!strncmp(p.ops[i].site, "convert_layout", 14)) {
        *wf += p.ops[i].c.smem_wavefronts;
        *conflicts += p.ops[i].c.smem_wavefronts - p.ops[i].c.smem_ideal_wavefronts;
      }
  }
  sim_profile_free(&p);
  cg_result_free(&r);
  free(x), free(y), free(text);
  return ok ? 1 : -1;
}

/* The recipes' conversions: wavefronts and conflicts at most these (measured when the choice went
 * in; docs/codegen.md has the figures before it). */
#define BNH_FROM "blocked<[1,4,1],[1,4,8],[1,1,4],[1,2,0]>"
#define BNH_TO "blocked<[1,1,4],[1,1,32],[1,4,1],[2,1,0]>"
#define W4_FROM "blocked<[1,16],[8,4],[4,1],[1,0]>"
#define W4_TO "blocked<[2,1],[8,4],[1,4],[0,1]>"
static void test_recipes(void) {
  static const struct {
    conv_case c;
    uint64_t wf, conflicts;
  } k[] = {
      /* fftconv layout = "bnh": channels along the lanes in, positions out */
      {{"f16", 2, 3, {1, 16, 256}, BNH_FROM, BNH_TO, 1}, 192, 0},
      /* fftconv kspec = "given": the spectrum's f32 rows read as an mma A operand, to the accumulator's */
      {{"f32", 4, 2, {16, 32}, "mma_a<[1,4],2>", "mma<[1,4]>"}, 32, 0},
      /* the accumulator to 16-byte rows (attention_decode's and the split-K GEMMs' epilogues) in a
         loop, and outside loops, where the wide path stays: its XOR in steps of one chunk took 96
         wavefronts (32 conflicts), in steps of two 64 */
      {{"f32", 4, 2, {16, 64}, "mma<[1,4]>", "blocked<[1,4],[2,16],[4,1],[1,0]>", 1}, 64, 0},
      {{"f32", 4, 2, {16, 64}, "mma<[1,4]>", "blocked<[1,4],[2,16],[4,1],[1,0]>", 0}, 64, 0},
      /* fftconv layout = "bnh" with N1 = 32: a [16, 16] product to its store's rows in the channel
         loop (the recipe's profile at B = 2, H = 3, N = 256: 768 conflicts with the best row-major
         plan, 256 with the wide path in steps of one chunk, none in steps of two) */
      {{"f32", 4, 2, {16, 16}, "mma<[1,2]>", "blocked<[1,4],[8,4],[4,1],[1,0]>", 1}, 24, 0},
      /* w4a16_pack: a word tile transposed */
      {{"u32", 4, 2, {16, 64}, W4_FROM, W4_TO, 1}, 96, 32},
      /* fftconv4: a tile the warps replicate (stores under the owner predicate) */
      {{"f32", 4, 2, {4, 128}, "blocked<[1,8],[2,16],[4,1],[1,0]>", "blocked<[1,4],[1,32],[4,1],[1,0]>", 1},
       48,
       16},
  };
  for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
    uint64_t wf = 0, cf = 0;
    CHECK(run_case(&k[i].c, &wf, &cf) == 1, "case %zu did not run", i);
    if (getenv("KILN_TEST_VERBOSE"))
      fprintf(stderr, "case %zu: %llu wavefronts, %llu conflicts\n", i, (unsigned long long)wf,
              (unsigned long long)cf);
    CHECK(wf <= k[i].wf && cf <= k[i].conflicts,
          "case %zu (%s -> %s): %llu wavefronts, %llu conflicts; at most %llu, %llu", i, k[i].c.from,
          k[i].c.to, (unsigned long long)wf, (unsigned long long)cf, (unsigned long long)k[i].wf,
          (unsigned long long)k[i].conflicts);
  }
}

/* A random blocked layout of 4 warps over shape (rank 2): spt, 32 lanes and 4 warps split over the
 * dims, either order. */
static void random_layout(const uint32_t *shape, char *out, size_t n) {
  uint32_t spt[2], tpw[2] = {1, 1}, wpc[2] = {1, 1};
  for (int d = 0; d < 2; d++) {
    uint32_t m = 1;
    while (m < shape[d] && m < 16 && test_rand() % 2) m *= 2;
    spt[d] = m;
  }
  for (int b = 0; b < 5; b++) tpw[test_rand() % 2] *= 2;
  for (int b = 0; b < 2; b++) wpc[test_rand() % 2] *= 2;
  int o = (int)(test_rand() % 2);
  snprintf(out, n, "blocked<[%u,%u],[%u,%u],[%u,%u],[%d,%d]>", spt[0], spt[1], tpw[0], tpw[1], wpc[0], wpc[1],
           o, 1 - o);
}

static void test_random(void) {
  static const char *const elems[] = {"f16", "f32", "u32"};
  static const int sizes[] = {2, 4, 4};
  int ran = 0;
  for (int it = 0; it < 400 && ran < 120; it++) {
    char from[96], to[96];
    conv_case c = {.rank = 2, .loop = (int)(test_rand() % 2)};
    int e = (int)(test_rand() % 3);
    c.elem = elems[e], c.bytes = sizes[e];
    do {
      c.shape[0] = 1u << (test_rand() % 7);
      c.shape[1] = 1u << (test_rand() % 9);
    } while (c.shape[0] * c.shape[1] > 8192 || c.shape[0] * c.shape[1] < 32);
    random_layout(c.shape, from, sizeof from);
    random_layout(c.shape, to, sizeof to);
    if (!strcmp(from, to)) continue;
    c.from = from, c.to = to;
    uint64_t wf, cf;
    int rc = run_case(&c, &wf, &cf);
    if (rc < 0) {
      fprintf(stderr, "  case: %s [%u, %u] %s -> %s\n", c.elem, c.shape[0], c.shape[1], from, to);
      break;
    }
    ran += rc;
  }
  CHECK(ran >= 60, "only %d random conversions compiled", ran);
}

int main(void) {
  test_recipes();
  test_random();
  return test_done("test_convert_scratch");
}
