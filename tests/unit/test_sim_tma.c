/*
 * test_sim_tma.c - the simulator's tensor maps, bulk tensor copies and mbarriers (sim/sim_tma.c,
 * sim/sim_mbarrier.c) against C references.
 *
 *   loads:     random rank 1..5, element sizes 1..8 bytes, dimensions, padded strides, boxes placed at
 *              ragged edges (negative coordinates, past the end); shared memory poisoned; every byte
 *              of the box checked against a C gather (zero outside the tensor) and every byte around
 *              it left alone. Swizzled 2D boxes (32/64/128 B) checked by the chunk-XOR pattern, with
 *              the swizzle tags set. NaN fill for floats.
 *   stores:    every in-bounds element written, every out-of-bounds one and every byte outside the
 *              box left alone.
 *   maps:      encode/decode round trip; each rule of the encoder refused with its message.
 *   misuse:    a store box wholly outside the tensor (a load box fills), shared offsets misaligned or
 * overrunning, rank mismatch, a map the simulator did not make. mbarrier:  phases and parity, arrivals and
 * transaction bytes in either order, re-init, limits, the description a deadlock report prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_mbarrier.h"
#include "sim/sim_tma.h"
#include "test.h"

static _Alignas(64) unsigned char map[CG_TMAP_BYTES];

/* A random valid map over a fresh random global buffer (*g, freed by the caller). */
static sim_tma_params rand_params(unsigned char **g, size_t *gbytes) {
  sim_tma_params p = {0};
  static const int ebs[4] = {1, 2, 4, 8};
  p.elem_bytes = ebs[test_rand() % 4];
  p.rank = 1 + (int)(test_rand() % 5);
  uint64_t stride = 0;
  for (int i = 0; i < p.rank; i++) {
    p.dims[i] = 1 + test_rand() % (i ? 6 : 40);
    p.elem_strides[i] = 1;
    p.box[i] = i ? 1 + test_rand() % 5 : (uint32_t)(16 / p.elem_bytes) * (1 + test_rand() % 3);
    if (i) {
      p.strides[i - 1] = i == 1 ? (p.dims[0] * (uint64_t)p.elem_bytes + 15) / 16 * 16 + 16 * (test_rand() % 2)
                                : p.strides[i - 2] * p.dims[i - 1] + 16 * (test_rand() % 2);
      stride = p.strides[i - 1];
    }
  }
  (void)stride;
  *gbytes = sim_tma_span(&p) + 16;
  *g = aligned_alloc(64, (*gbytes + 63) / 64 * 64);
  for (size_t i = 0; i < *gbytes; i++) (*g)[i] = (unsigned char)test_rand();
  p.gaddr = *g;
  return p;
}

static void rand_coords(const sim_tma_params *p, int32_t *c) {
  for (int i = 0; i < p->rank; i++) /* anywhere the box still touches the tensor */
    c[i] = (int32_t)(test_rand() % (uint32_t)(p->dims[i] + p->box[i] - 1)) - (int32_t)p->box[i] + 1;
}

/* The global address of box element idx, or NULL when it lies outside the tensor. */
static const unsigned char *ref_src(const sim_tma_params *p, const int32_t *c, const uint32_t *idx) {
  const unsigned char *a = p->gaddr;
  for (int i = 0; i < p->rank; i++) {
    long long x = (long long)c[i] + idx[i];
    if (x < 0 || x >= (long long)p->dims[i]) return NULL;
    a += i ? (size_t)x * p->strides[i - 1] : (size_t)x * (size_t)p->elem_bytes;
  }
  return a;
}

static void test_loads(void) {
  for (int iter = 0; iter < 300; iter++) {
    unsigned char *g;
    size_t gbytes;
    sim_tma_params p = rand_params(&g, &gbytes);
    char err[256] = "";
    CHECK(sim_tma_encode(&p, map, err, sizeof err) == 0, "%s", err);
    sim_tma_params q;
    CHECK(sim_tma_decode(map, &q, err, sizeof err) == 0, "%s", err);
    int32_t c[5];
    rand_coords(&p, c);
    uint32_t box = sim_tma_box_bytes(&p), off = 128 * (test_rand() % 3);
    size_t sbytes = off + box + 64;
    unsigned char *smem = malloc(sbytes);
    memset(smem, 0xA5, sbytes);
    if (sim_tma_load(&q, p.rank, c, smem, sbytes, off, NULL, err, sizeof err)) {
      CHECK(0, "load: %s", err);
      free(smem), free(g);
      return;
    }
    int bad = 0;
    uint32_t idx[5] = {0};
    for (uint32_t e = 0; e < box / (uint32_t)p.elem_bytes && !bad; e++) {
      const unsigned char *src = ref_src(&p, c, idx);
      for (int b = 0; b < p.elem_bytes; b++) {
        unsigned char want = src ? src[b] : 0, got = smem[off + e * (uint32_t)p.elem_bytes + (uint32_t)b];
        if (got != want) {
          CHECK(0, "rank %d element %u byte %d: got 0x%02x want 0x%02x", p.rank, e, b, got, want);
          bad = 1;
          break;
        }
      }
      for (int i = 0; i < p.rank && ++idx[i] == p.box[i]; i++) idx[i] = 0;
    }
    for (size_t i = 0; i < sbytes && !bad; i++)
      if ((i < off || i >= off + box) && smem[i] != 0xA5) {
        CHECK(0, "load wrote shared byte %zu outside the box [%u, %u)", i, off, off + box);
        bad = 1;
      }
    free(smem), free(g);
    if (bad) return;
  }
}

static void test_swizzled_loads(void) {
  static const int swz[3] = {32, 64, 128};
  for (int s = 0; s < 3; s++) {
    int W = swz[s];
    uint16_t *g = aligned_alloc(64, 64 * 128);
    for (int i = 0; i < 64 * 64; i++) g[i] = (uint16_t)test_rand();
    sim_tma_params p = {2, 0, 2, g, {64, 64}, {128}, {(uint32_t)W / 2, 16}, {1, 1}, W, 0};
    char err[256] = "";
    CHECK(sim_tma_encode(&p, map, err, sizeof err) == 0, "%s", err);
    int32_t c[2] = {(int32_t)(test_rand() % 64) - 8, (int32_t)(test_rand() % 64) - 8};
    static unsigned char smem[4096];
    static uint8_t tags[4096 / 16];
    memset(smem, 0xA5, sizeof smem), memset(tags, 0xff, sizeof tags);
    CHECK(sim_tma_load(&p, 2, c, smem, sizeof smem, 1024, tags, err, sizeof err) == 0, "%s", err);
    int bad = 0;
    for (int r = 0; r < 16 && !bad; r++)
      for (int x = 0; x < W / 2 && !bad; x++) {
        int gx = c[0] + x, gy = c[1] + r;
        uint16_t want = gx < 0 || gx >= 64 || gy < 0 || gy >= 64 ? 0 : g[gy * 64 + gx];
        int kb = 2 * x, chunk = (kb / 16) ^ (((r % 8) * W / 128) & (W / 16 - 1));
        uint32_t at = 1024 + (uint32_t)(r / 8) * 8u * (uint32_t)W + (uint32_t)(r % 8) * (uint32_t)W +
                      (uint32_t)chunk * 16 + (uint32_t)kb % 16;
        uint16_t got;
        memcpy(&got, smem + at, 2);
        if (got != want) {
          CHECK(0, "swizzle %d row %d col %d: got 0x%04x want 0x%04x", W, r, x, got, want);
          bad = 1;
        }
      }
    CHECK(tags[1024 / 16] == W && tags[(1024 + 16 * (uint32_t)W) / 16 - 1] == W && tags[1008 / 16] == 0xff &&
              tags[(1024 + 16 * (uint32_t)W) / 16] == 0xff,
          "swizzle tags of the box, and only the box");
    free(g);
  }
  /* NaN fill for f32 out of bounds; zero for ints with the same request. */
  float *f = aligned_alloc(64, 64);
  for (int i = 0; i < 16; i++) f[i] = (float)i;
  sim_tma_params p = {4, 1, 1, f, {16}, {0}, {8}, {1}, 0, 1};
  static unsigned char smem[256];
  char err[256];
  CHECK(sim_tma_load(&p, 1, (int32_t[]){12}, smem, sizeof smem, 0, NULL, err, sizeof err) == 0, "%s", err);
  uint32_t u[8];
  memcpy(u, smem, 32);
  CHECK(u[0] == 0x41400000u && u[3] == 0x41700000u && u[4] == 0x7fffffffu && u[7] == 0x7fffffffu);
  p.is_float = 0;
  CHECK(sim_tma_load(&p, 1, (int32_t[]){12}, smem, sizeof smem, 0, NULL, err, sizeof err) == 0, "%s", err);
  memcpy(u, smem, 32);
  CHECK(u[4] == 0 && u[7] == 0);
  free(f);
}

static void test_stores(void) {
  for (int iter = 0; iter < 200; iter++) {
    unsigned char *g;
    size_t gbytes;
    sim_tma_params p = rand_params(&g, &gbytes);
    unsigned char *before = malloc(gbytes);
    memcpy(before, g, gbytes);
    int32_t c[5];
    rand_coords(&p, c);
    uint32_t box = sim_tma_box_bytes(&p);
    unsigned char *smem = malloc(box);
    for (uint32_t i = 0; i < box; i++) smem[i] = (unsigned char)test_rand();
    char err[256] = "";
    CHECK(sim_tma_store(&p, p.rank, c, smem, box, 0, err, sizeof err) == 0, "%s", err);
    /* The expected image: the old bytes, with each in-bounds box element replaced. */
    unsigned char *want = malloc(gbytes);
    memcpy(want, before, gbytes);
    uint32_t idx[5] = {0};
    for (uint32_t e = 0; e < box / (uint32_t)p.elem_bytes; e++) {
      const unsigned char *dst = ref_src(&p, c, idx);
      if (dst) memcpy(want + (dst - g), smem + e * (uint32_t)p.elem_bytes, (size_t)p.elem_bytes);
      for (int i = 0; i < p.rank && ++idx[i] == p.box[i]; i++) idx[i] = 0;
    }
    int bad = 0;
    for (size_t i = 0; i < gbytes && !bad; i++)
      if (g[i] != want[i]) {
        CHECK(0, "store rank %d: global byte %zu = 0x%02x, want 0x%02x", p.rank, i, g[i], want[i]);
        bad = 1;
      }
    free(want), free(before), free(smem), free(g);
    if (bad) return;
  }
}

static void expect_encode_error(sim_tma_params p, const char *want) {
  char err[256] = "";
  CHECK(sim_tma_encode(&p, map, err, sizeof err) == -1, "accepted, want '%s'", want);
  CHECK_CONTAINS(err, want);
}

static void test_map_errors(void) {
  static _Alignas(64) unsigned char buf[4096];
  sim_tma_params ok = {2, 1, 2, buf, {32, 32}, {64}, {8, 8}, {1, 1}, 0, 0}, p;
  char err[256] = "";
  CHECK(sim_tma_encode(&ok, map, err, sizeof err) == 0, "%s", err);
  p = ok, p.elem_bytes = 3, expect_encode_error(p, "element size 3 bytes");
  p = ok, p.rank = 6, expect_encode_error(p, "rank 6 (want 1..5)");
  p = ok, p.gaddr = buf + 8, expect_encode_error(p, "is not 16-byte aligned");
  p = ok, p.dims[1] = 0, expect_encode_error(p, "dimension 1 has 0 elements");
  p = ok, p.box[1] = 257, expect_encode_error(p, "box dimension 1 is 257 (want 1..256)");
  p = ok, p.elem_strides[0] = 9, expect_encode_error(p, "element stride 0 is 9 (want 1..8)");
  p = ok, p.strides[0] = 72, expect_encode_error(p, "stride of dimension 1 is 72 bytes");
  p = ok, p.box[0] = 4, expect_encode_error(p, "inner dimension is 8 bytes (want a multiple of 16)");
  p = ok, p.swizzle = 48, expect_encode_error(p, "swizzle 48 (want 0, 32, 64 or 128 bytes)");
  p = ok, p.box[0] = 32, p.swizzle = 32,
  expect_encode_error(p, "inner dimension is 64 bytes, wider than its 32");
  unsigned char junk[CG_TMAP_BYTES] = {1, 2, 3};
  CHECK(sim_tma_decode(junk, &p, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "was not made for the simulator");
}

static void test_copy_errors(void) {
  static _Alignas(64) unsigned char buf[4096], smem[1024];
  sim_tma_params p = {2, 1, 2, buf, {32, 32}, {64}, {8, 8}, {1, 1}, 0, 0};
  char err[256] = "";
  memset(smem, 0x5a, sizeof smem); /* a box wholly outside fills its bytes */
  CHECK(sim_tma_load(&p, 2, (int32_t[]){-8, 0}, smem, sizeof smem, 0, NULL, err, sizeof err) == 0, "%s", err);
  for (int i = 0; i < 128; i++) CHECK(smem[i] == 0, "byte %d of a box wholly outside is %d", i, smem[i]);
  CHECK(smem[128] == 0x5a);
  CHECK(sim_tma_load(&p, 2, (int32_t[]){-7, 31}, smem, sizeof smem, 0, NULL, err, sizeof err) == 0, "%s",
        err);
  CHECK(sim_tma_store(&p, 2, (int32_t[]){0, 32}, smem, sizeof smem, 0, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "cp.async.bulk.tensor store: the box at (0, 32) lies wholly outside the tensor");
  CHECK(sim_tma_load(&p, 2, (int32_t[]){0, 0}, smem, sizeof smem, 64, NULL, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "shared offset 64 is not 128-byte aligned");
  CHECK(sim_tma_load(&p, 2, (int32_t[]){0, 0}, smem, sizeof smem, 1024, NULL, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "the box's 128 bytes at shared offset 1024 overrun the block's 1024 bytes");
  CHECK(sim_tma_load(&p, 3, (int32_t[]){0, 0, 0}, smem, sizeof smem, 0, NULL, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "load of 3D on a tensor map of rank 2");
  p.elem_strides[1] = 2;
  CHECK(sim_tma_load(&p, 2, (int32_t[]){0, 0}, smem, sizeof smem, 0, NULL, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "element stride 2 in dimension 1 is not modelled");
}

static void test_mbarrier(void) {
  sim_mbar_table t = {0};
  char err[256] = "";
  uint64_t tok;
  CHECK(sim_mbar_init(&t, 12, 1, "s", err, sizeof err) == -1);
  CHECK_CONTAINS(err, "mbarrier at shared offset 12 is not 8-byte aligned");
  CHECK(sim_mbar_init(&t, 16, 0, "s", err, sizeof err) == -1);
  CHECK_CONTAINS(err, "mbarrier.init count 0 is outside 1..1048575");
  CHECK(sim_mbar_init(&t, 16, 2, "init %1", err, sizeof err) == 0);
  CHECK(sim_mbar_init(&t, 24, 1, "init %2", err, sizeof err) == 0);
  sim_mbar *b = sim_mbar_find(&t, 16), *c = sim_mbar_find(&t, 24);
  CHECK(b && c && !sim_mbar_find(&t, 32));
  /* Phase 0: two arrivals and 4096 bytes, the bytes landing between the arrivals. */
  CHECK(!sim_mbar_test_parity(b, 0) && sim_mbar_test_parity(b, 1), "parity 1 counts as the phase before 0");
  CHECK(sim_mbar_arrive(b, 4096, &tok, err, sizeof err) == 0 && tok == 0);
  CHECK(sim_mbar_complete_tx(b, 4096, err, sizeof err) == 0);
  CHECK(!sim_mbar_test_parity(b, 0), "one arrival still outstanding");
  char d[256];
  sim_mbar_describe(b, d, sizeof d);
  CHECK_STR(d, "mbarrier at shared offset 16 (initialised at 'init %1'), phase 0: 1 of 2 arrivals and 0 "
               "transaction bytes outstanding");
  CHECK(sim_mbar_arrive(b, 0, &tok, err, sizeof err) == 0);
  CHECK(sim_mbar_test_parity(b, 0) && !sim_mbar_test_parity(b, 1) && b->phase == 1 && b->pending == 2);
  /* Phase 1: bytes land before expect_tx (the count dips below zero), then both arrive. */
  CHECK(sim_mbar_complete_tx(b, 100, err, sizeof err) == 0 && b->tx == -100 && b->phase == 1);
  CHECK(sim_mbar_expect_tx(b, 100, err, sizeof err) == 0 && b->phase == 1, "no arrival yet");
  CHECK(sim_mbar_arrive(b, 0, &tok, err, sizeof err) == 0 && tok == 1);
  CHECK(sim_mbar_arrive(b, 0, &tok, err, sizeof err) == 0);
  CHECK(b->phase == 2 && !sim_mbar_test_parity(b, 0) && sim_mbar_test_parity(b, 1));
  /* A phase waiting on bytes never sent: the description names them. */
  CHECK(sim_mbar_arrive(c, 512, &tok, err, sizeof err) == 0 && !sim_mbar_test_parity(c, 0));
  sim_mbar_describe(c, d, sizeof d);
  CHECK_CONTAINS(d, "phase 0: 0 of 1 arrivals and 512 transaction bytes outstanding");
  CHECK(sim_mbar_expect_tx(c, SIM_MBAR_MAX_TX, err, sizeof err) == -1);
  CHECK_CONTAINS(err, "mbarrier at shared offset 24: transaction count 1049087 is outside +-1048575");
  CHECK(sim_mbar_init(&t, 24, 3, "re", err, sizeof err) == 0 && c->expected == 3 && c->phase == 0 && !c->tx);
  sim_mbar_forget(&t, 20, 32);
  CHECK(sim_mbar_find(&t, 16) && !sim_mbar_find(&t, 24));
  for (uint32_t o = 0; o < 800; o += 8) CHECK(sim_mbar_init(&t, 1024 + o, 1, "many", err, sizeof err) == 0);
  CHECK(t.n == 101);
  sim_mbar_table_free(&t);
}

int main(void) {
  test_loads();
  test_swizzled_loads();
  test_stores();
  test_map_errors();
  test_copy_errors();
  test_mbarrier();
  return test_done("test_sim_tma");
}
