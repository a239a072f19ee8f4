/*
 * ref_w4a16.c - reference for recipes/w4a16.lua: y = x W with W[k, n] = (code[k, n] - 2^(b-1)) *
 * scale[k / G, n], the codes unpacked from wq in the recipe's layout (per = 2 * (16 / b) codes a
 * word, 16 / b in each 16-bit half; block t of BLOCK_KW * per elements; field j of half h of word
 * t * BLOCK_KW + r holds element t * BLOCK_KW * per + j * 2 * BLOCK_KW + 2r + h), summed in double. The
 * low-precision run rounds each dequantised weight to the input type (as the kernel does) and the result; the
 * sum itself is wide (the tensor cores accumulate in f32).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref.h"

static int setting_int(const ref_call *c, const char *name, int def) {
  const char *v = ref_setting(c, name);
  return v ? atoi(v) : def;
}

/* Codes per word of the layout (bits 2..8). */
static int per_word(int bits) { return 2 * (16 / bits); }

/* Where element k of a column is: the word's row in wq and the bit of its field. */
static void w4a16_place(int64_t k, int bits, int bkw, int64_t *row, int *bit) {
  int64_t kb = (int64_t)bkw * per_word(bits), t = k / kb, j = k % kb / (2 * bkw), u = k % (2 * bkw);
  *row = t * bkw + u / 2;
  *row = (*row & ~(int64_t)15) | (*row & 3) << 2 | (*row >> 2 & 3); /* 16 words as a 4 x 4 transpose */
  *bit = (int)(u % 2) * 16 + (int)j * bits;
}

/* The code of element (k, col) of packed words wq [n, kq]. */
int64_t w4a16_code(const double *wq, int64_t kq, int64_t col, int64_t k, int bits, int bkw) {
  int64_t row;
  int bit;
  w4a16_place(k, bits, bkw, &row, &bit);
  return ((uint32_t)wq[col * kq + row] >> bit) & ((1u << bits) - 1);
}

/* y = x W (split = 0) or, for recipes/w4a16_splitk.lua, its partial sums over the chunks of CQ word
 * rows (whole blocks of BLOCK_KW rows) into part [M, split*N], f32, unrounded. */
static int w4a16_gemm(const ref_call *c, int split) {
  int x = ref_find(c, "x", 1, 2), wq = ref_find(c, "wq", 1, 2), sc = ref_find(c, "scale", 1, 2);
  int y = ref_find(c, split ? "part" : "y", 1, 2);
  if (x < 0 || wq < 0 || sc < 0 || y < 0) return -1;
  int bits = setting_int(c, "bits", 4), g = setting_int(c, "G", 128), bkw = setting_int(c, "BLOCK_KW", 16);
  int64_t m = c->args[x].dims[0], K = c->args[x].dims[1], n = c->args[wq].dims[0], kq = c->args[wq].dims[1];
  int64_t kb = (int64_t)bkw * (bits >= 2 && bits <= 8 ? per_word(bits) : 1);
  int64_t nz = split ? split : 1, cq = (kq + nz - 1) / nz;
  cq = bkw > 0 ? (cq + bkw - 1) / bkw * bkw : cq;
  if (bits < 2 || bits > 8 || g < 1 || bkw < 1 || kq != (K + kb - 1) / kb * bkw || c->args[y].dims[0] != m ||
      c->args[y].dims[1] != nz * n || c->args[sc].dims[0] != (K + g - 1) / g || c->args[sc].dims[1] != n) {
    snprintf(c->err, c->errn, "%s reference: shapes do not match bits, G, BLOCK_KW, split_k, M, N, K",
             split ? "w4a16_splitk" : "w4a16");
    return -1;
  }
  double *w = malloc((size_t)(K ? K : 1) * (size_t)(n ? n : 1) * sizeof *w);
  if (!w) return -1;
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < n; j++) {
      int64_t code = w4a16_code(c->data[wq], kq, j, k, bits, bkw) - ((int64_t)1 << (bits - 1));
      w[k * n + j] = ref_round(c, (double)code * c->data[sc][k / g * n + j]);
    }
  const double *X = c->data[x];
  for (int64_t z = 0; z < nz; z++) {
    /* chunk z: word rows z*cq .. (z+1)*cq - 1, blocks of bkw rows holding kb elements each */
    int64_t k0 = z * cq / bkw * kb, k1 = (z + 1) * cq / bkw * kb;
    if (k0 > K) k0 = K;
    if (k1 > K || !split) k1 = K;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t k = k0; k < k1; k++) s += X[i * K + k] * w[k * n + j];
        c->data[y][i * nz * n + z * n + j] = split ? s : ref_round(c, s);
      }
  }
  free(w);
  return 0;
}

int ref_w4a16(const ref_call *c) { return w4a16_gemm(c, 0); }

int ref_w4a16_splitk(const ref_call *c) {
  int split = setting_int(c, "split_k", 4);
  if (split < 1 || split > 64) {
    snprintf(c->err, c->errn, "w4a16_splitk reference: split_k = %d is out of range 1..64", split);
    return -1;
  }
  return w4a16_gemm(c, split);
}

/* recipes/w4a16_reduce.lua: y = the sum over z of part[:, z*N + j], rounded. */
int ref_w4a16_reduce(const ref_call *c) {
  int part = ref_find(c, "part", 1, 2), y = ref_find(c, "y", 1, 2);
  if (part < 0 || y < 0) return -1;
  int split = setting_int(c, "split_k", 4);
  int64_t m = c->args[y].dims[0], n = c->args[y].dims[1];
  if (split < 1 || c->args[part].dims[0] != m || c->args[part].dims[1] != split * n) {
    snprintf(c->err, c->errn, "w4a16_reduce reference: shapes do not match split_k, M, N");
    return -1;
  }
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t z = 0; z < split; z++) s += c->data[part][i * split * n + z * n + j];
      c->data[y][i * n + j] = ref_round(c, s);
    }
  return 0;
}

/* recipes/w4a16_pack.lua: the words from the codes; `back` (roundtrip = 1) the codes again. */
int ref_w4a16_pack(const ref_call *c) {
  int w = ref_find(c, "w", 1, 2), wq = ref_find(c, "wq", 1, 2), back = ref_find(c, "back", 1, 2);
  if (w < 0 || wq < 0 || back < 0) return -1;
  int bits = setting_int(c, "bits", 4), bkw = setting_int(c, "BLOCK_KW", 16),
      rt = setting_int(c, "roundtrip", 0);
  int64_t K = c->args[w].dims[0], n = c->args[w].dims[1];
  int64_t kb = (int64_t)bkw * (bits >= 2 && bits <= 8 ? per_word(bits) : 1);
  if (bits < 2 || bits > 8 || bkw < 1 || c->args[wq].dims[1] != (K + kb - 1) / kb * bkw ||
      c->args[wq].dims[0] != n || (rt && (c->args[back].dims[0] != K || c->args[back].dims[1] != n))) {
    snprintf(c->err, c->errn, "w4a16_pack reference: shapes do not match bits, BLOCK_KW, N, K");
    return -1;
  }
  double *WQ = c->data[wq];
  int64_t kq = c->args[wq].dims[1];
  for (int64_t i = 0; i < kq * n; i++) WQ[i] = 0;
  uint32_t mask = (1u << bits) - 1;
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < n; j++) {
      uint32_t code = (uint32_t)c->data[w][k * n + j] & mask;
      int64_t row;
      int bit;
      w4a16_place(k, bits, bkw, &row, &bit);
      double *word = &WQ[j * kq + row];
      *word = (double)((uint32_t)*word | code << bit);
      if (rt) c->data[back][k * n + j] = code;
    }
  return 0;
}
