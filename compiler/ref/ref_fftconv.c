/*
 * ref_fftconv.c - references for recipes/fftconv.lua, recipes/fftconv3.lua and fftconv4.lua
 * (orders 3 and 4: the given spectrum in their own layouts) and the spectrum recipes fftconv_kspec.lua,
 * fftconv3_kspec.lua and fftconv4_kspec.lua, in double with
 * FFTW: y = v * first N of iFFT(FFT(u w) K) at length L = 2N, K = FFT(k) at length L (or the given
 * spectrum kf). The spectrum layout of the recipes: bin k1 + N1 k2 at [k1, k2] of an [N1, N2]
 * matrix, L = N1 N2, real parts in rows 0..N1-1 and imaginary parts in rows N1..2N1-1 of a channel's
 * [2 N1, N2] block. u, w, v, y are [B, H, N], or [B, N, H] with the setting layout = bnh. At N <= 1024 the
 * FFTW result is checked against the direct O(N^2) causal sum (a failure names the element), so the FFTW path
 * is itself tested on every small check. The low-precision run of ref_fftconv is the plain FFT convolution in
 * the data's type: radix-2 transforms with every twiddle, product and butterfly sum rounded, the spectral
 * product rounded, the kernel's spectrum computed the same way (or given); the recipe is judged against it by
 * the vs_lowp criterion (docs/fftconv.md). The spectrum recipes' references (ref_fftconv_kspec,
 * ref_fftconv3_kspec, ref_fftconv4_kspec: kf in the order-2, 3 or 4 layout) compute only exactly.
 */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

/* FFTW's planner is not thread-safe; references of one process may run from several threads. */
#include <pthread.h>
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t setting_int(const ref_call *c, const char *name, int64_t dflt) {
  const char *s = ref_setting(c, name);
  return s ? strtoll(s, NULL, 10) : dflt;
}

static int setting_flag(const ref_call *c, const char *name) {
  const char *s = ref_setting(c, name);
  return s && (!strcmp(s, "1") || !strcmp(s, "true"));
}

/* The recipes' split of L = N1 N2 (N1 = 0: fft.split's, the squarest, with the larger half to N1
 * where log2(L) is odd and 7 or more). */
static int64_t split_n1(int64_t L, int64_t n1) {
  if (n1 > 0) return n1;
  int lg = 0;
  while (((int64_t)1 << lg) < L) lg++;
  return (int64_t)1 << (lg / 2 + (lg % 2 == 1 && lg >= 7));
}

static int fail(const ref_call *c, const char *msg) {
  if (c->err && c->errn) snprintf(c->err, c->errn, "%s", msg);
  return KILN_REF_FAILED;
}

/* x[0..L) in place: sign -1 forward, +1 backward (unscaled). */
static void dft(fftw_complex *x, int64_t L, int sign) {
  pthread_mutex_lock(&plan_lock);
  fftw_plan pl = fftw_plan_dft_1d((int)L, x, x, sign < 0 ? FFTW_FORWARD : FFTW_BACKWARD, FFTW_ESTIMATE);
  pthread_mutex_unlock(&plan_lock);
  fftw_execute(pl);
  pthread_mutex_lock(&plan_lock);
  fftw_destroy_plan(pl);
  pthread_mutex_unlock(&plan_lock);
}

/* complex a * b with each real product and sum rounded as the call's precision holds them */
static double complex cmul_round(const ref_call *c, double complex a, double complex b) {
  double re = ref_round(c, ref_round(c, creal(a) * creal(b)) - ref_round(c, cimag(a) * cimag(b)));
  double im = ref_round(c, ref_round(c, creal(a) * cimag(b)) + ref_round(c, cimag(a) * creal(b)));
  return re + I * im;
}

static double complex cround(const ref_call *c, double complex a) {
  return ref_round(c, creal(a)) + I * ref_round(c, cimag(a));
}

/* The textbook radix-2 transform (L a power of two) in the call's precision: x in place, sign -1
 * forward, +1 backward (unscaled). */
static void dft_lowp(const ref_call *c, fftw_complex *x, int64_t L, int sign) {
  for (int64_t i = 1, j = 0; i < L; i++) { /* bit reversal */
    int64_t bit = L >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      fftw_complex t = x[i];
      x[i] = x[j], x[j] = t;
    }
  }
  for (int64_t len = 2; len <= L; len <<= 1)
    for (int64_t i = 0; i < L; i += len)
      for (int64_t j = 0; j < len / 2; j++) {
        double a = sign * 2 * M_PI * (double)j / (double)len;
        double complex w = cround(c, cos(a) + I * sin(a));
        double complex t = cmul_round(c, w, x[i + j + len / 2]), e = x[i + j];
        x[i + j] = cround(c, e + t), x[i + j + len / 2] = cround(c, e - t);
      }
}

/* Where bin m of a channel's spectrum sits in kf (its real part; the imaginary part L further):
 * order 2 (n3 = 0): [k1, k2] of [N1, N2], m = k1 + N1 k2; order 3 (n4 = 0): [N2 k1 + k2, k3] of
 * [N1 N2, N3], m = k1 + N1 k2 + N1 N2 k3; order 4: [(N2 k1 + k2) N3 + k3, k4] of [N1 N2 N3, N4],
 * m = k1 + N1 k2 + N1 N2 k3 + N1 N2 N3 k4. */
static int64_t kf_pos(int64_t m, int64_t n1, int64_t n2, int64_t n3, int64_t n4) {
  if (!n3) return (m % n1) * n2 + m / n1;
  if (!n4) return ((m % n1) * n2 + (m / n1) % n2) * n3 + m / (n1 * n2);
  return (((m % n1) * n2 + (m / n1) % n2) * n3 + (m / (n1 * n2)) % n3) * n4 + m / (n1 * n2 * n3);
}

/* The recipes' splits of L = 2N (n[0..3] = N1 .. N4, 0 past the order), from the settings N1, N2,
 * N3 as the recipes read them: order 2 (recipes/fftconv.lua, fft.split) the squarest unless N1 is
 * given; order 3 (fft.split3) 2^floor(log2(L)/3) each for N1, N2 unless given, N3 the rest; order 4
 * (fft.split4) 2^floor(log2(L)/4) each, the rest to N4, N3, N2, unless given. half (L then the
 * packed row's length N): order 3 gives the rest to N3, then N2. */
static void split(const ref_call *c, int order, int64_t L, int64_t n[4], int half) {
  int lg = 0;
  while (((int64_t)1 << lg) < L) lg++;
  n[0] = n[1] = n[2] = n[3] = 0;
  if (order == 2) {
    n[0] = split_n1(L, setting_int(c, "N1", 0)), n[1] = L / n[0];
    return;
  }
  int e[4] = {lg / order, lg / order, lg / order, lg / order};
  if (order == 4)
    for (int i = 0; i < lg % 4; i++) e[3 - i]++;
  if (order == 3 && half && lg % 3 == 2) e[1]++; /* fft.split3 with half: the rest to N3, then N2 */
  const char *names[3] = {"N1", "N2", "N3"};
  int64_t prod = 1;
  for (int i = 0; i < order - 1; i++) {
    n[i] = setting_int(c, names[i], 0);
    /* fft.split3: an N2 below 16 beside a larger N3 takes the larger half of the inner block */
    if (!n[i] && order == 3 && i == 1) {
      int r = 0;
      while (((int64_t)1 << r) < L / n[0]) r++;
      if (e[1] < 4 && r - e[1] > e[1]) e[1] = (r + 1) / 2;
    }
    if (!n[i]) n[i] = (int64_t)1 << e[i];
    prod *= n[i];
  }
  n[order - 1] = L / prod;
}

/* The spectrum of row k[0..n) zero-padded to L into a channel's block of kf in the layout of split
 * n (kf_pos): real parts first, imaginary parts L later. */
static void spectrum(const ref_call *c, const double *k, int64_t n, int64_t L, const int64_t sp[4],
                     fftw_complex *buf, double *out) {
  for (int64_t i = 0; i < L; i++) buf[i] = i < n ? k[i] : 0;
  if (ref_is_lowp(c))
    dft_lowp(c, buf, L, -1);
  else
    dft(buf, L, -1);
  for (int64_t m = 0; m < L; m++) {
    int64_t pos = kf_pos(m, sp[0], sp[1], sp[2], sp[3]);
    out[pos] = creal(buf[m]), out[L + pos] = cimag(buf[m]);
  }
}

/* half = 1 (order 2; fft.half_spectrum): the twisted transforms, bin m at frequency m + 1/2,
 * X[m] = sum_n x[n] exp(-2 pi i n (m + 1/2) / L): twist(x, L, -1) before a forward DFT makes it, and
 * twist(y, L, +1) after a backward one its inverse (unscaled); the convolution through them is the
 * negacyclic one, the linear one with the zero padding. In the call's precision with lowp (each
 * twist factor and product rounded). A real filter's twisted spectrum has K[L - 1 - m] = conj K[m]:
 * kf holds bins m < M = L/2 at kf_pos(m) of the split of M (real parts, imaginary parts M later),
 * and half_bin reads bin m < L back. */
static void twist(const ref_call *c, fftw_complex *x, int64_t L, int sign, int lowp) {
  for (int64_t n = 0; n < L; n++) {
    double a = sign * M_PI * (double)n / (double)L;
    x[n] = lowp ? cmul_round(c, x[n], cround(c, cos(a) + I * sin(a))) : x[n] * (cos(a) + I * sin(a));
  }
}

static double complex half_bin(const double *kf, int64_t m, int64_t L, const int64_t sp[4]) {
  int64_t M = L / 2, b = m < M ? m : L - 1 - m, pos = kf_pos(b, sp[0], sp[1], sp[2], sp[3]);
  double complex z = kf[pos] + I * kf[M + pos];
  return m < M ? z : conj(z);
}

/* The spectrum recipes (fftconv_kspec, fftconv3_kspec, fftconv4_kspec): kf [H, 2 L / Nlast, Nlast]
 * in the order's layout, exactly (FFTW in double); each with half = 1:
 * [H, 2 N / Nlast, Nlast] of the split of M = N, the twisted spectrum's bins 0 .. N-1 (twist). */
static int kspec(const ref_call *c, int order, const char *who, const char *shape) {
  char msg[160];
  int k = ref_find(c, "k", 1, 2), kf = ref_find(c, "kf", 1, 3);
  if (k < 0 || kf < 0) {
    snprintf(msg, sizeof msg, "%s: needs tensors k [H, N] and kf %s", who, shape);
    return fail(c, msg);
  }
  if (ref_is_lowp(c)) return KILN_REF_EXACT_ONLY;
  int64_t H = c->args[k].dims[0], N = c->args[k].dims[1], L = 2 * N, sp[4];
  int half = setting_flag(c, "half");
  int64_t block = half ? L : 2 * L; /* a channel's elements of kf */
  split(c, order, half ? N : L, sp, half);
  const int64_t *d = c->args[kf].dims;
  if (d[0] != H || d[2] != sp[order - 1] || d[1] * d[2] != block) {
    snprintf(msg, sizeof msg, "%s: kf is not %s", who, shape);
    return fail(c, msg);
  }
  fftw_complex *buf = fftw_malloc(sizeof *buf * (size_t)L);
  if (!buf) return fail(c, "fftconv_kspec: out of memory");
  for (int64_t h = 0; h < H; h++) {
    if (!half) {
      spectrum(c, c->data[k] + h * N, N, L, sp, buf, c->data[kf] + h * block);
      continue;
    }
    for (int64_t i = 0; i < L; i++) buf[i] = i < N ? c->data[k][h * N + i] : 0;
    twist(c, buf, L, -1, 0);
    dft(buf, L, -1);
    double *out = c->data[kf] + h * block;
    for (int64_t m = 0; m < N; m++) {
      int64_t pos = kf_pos(m, sp[0], sp[1], sp[2], sp[3]);
      out[pos] = creal(buf[m]), out[N + pos] = cimag(buf[m]);
    }
  }
  fftw_free(buf);
  return KILN_REF_OK;
}

int ref_fftconv_kspec(const ref_call *c) { return kspec(c, 2, "fftconv_kspec", "[H, 2 N1, N2]"); }
int ref_fftconv3_kspec(const ref_call *c) { return kspec(c, 3, "fftconv3_kspec", "[H, 2 N1 N2, N3]"); }
int ref_fftconv4_kspec(const ref_call *c) { return kspec(c, 4, "fftconv4_kspec", "[H, 2 N1 N2 N3, N4]"); }

static int conv(const ref_call *c, int order) {
  int u = ref_find(c, "u", 1, 3), k = ref_find(c, "k", 1, 2), kf = ref_find(c, "kf", 1, 3);
  int w = ref_find(c, "w", 1, 1), v = ref_find(c, "v", 1, 1), y = ref_find(c, "y", 1, 3);
  if (u < 0 || k < 0 || kf < 0 || w < 0 || v < 0 || y < 0)
    return fail(c, "fftconv: needs tensors u, y [B, H, N] (or [B, N, H]), k [H, N], kf, w, v");
  int lowp = ref_is_lowp(c);
  /* layout = bnh: u, w, v, y are [B, N, H]; element i of row bh = b H + h at (b N + i) H + h */
  const char *lay = ref_setting(c, "layout");
  int bnh = lay && !strcmp(lay, "bnh");
  if (lay && !bnh && strcmp(lay, "bhn")) return fail(c, "fftconv: layout must be bhn or bnh");
  int64_t B = c->args[u].dims[0], H = c->args[u].dims[bnh ? 2 : 1], N = c->args[u].dims[bnh ? 1 : 2],
          L = 2 * N;
  for (int d = 0; d < 3; d++)
    if (c->args[y].dims[d] != c->args[u].dims[d]) return fail(c, "fftconv: y and u differ in shape");
  if (c->args[k].dims[0] != H || c->args[k].dims[1] != N)
    return fail(c, bnh ? "fftconv: layout = bnh needs u, y [B, N, H] and k [H, N]"
                       : "fftconv: needs u, y [B, H, N] and k [H, N]");
  int gate = setting_flag(c, "gate");
  const char *ks = ref_setting(c, "kspec");
  int given = order >= 3 || (ks && !strcmp(ks, "given"));
  /* half = 1 (order 2 with a given spectrum, orders 3 and 4): kf the twisted spectrum's bins
   * 0 .. N-1 on the split of M = N (half_bin), the transforms twisted */
  int half = given && setting_flag(c, "half");
  int64_t sp[4];
  split(c, order, half ? N : L, sp, half);
  int64_t n1 = sp[0], n2 = sp[1], n3 = sp[2], n4 = sp[3];
  if (order == 3 &&
      (c->args[kf].dims[0] != H || c->args[kf].dims[1] != 2 * n1 * n2 || c->args[kf].dims[2] != n3))
    return fail(c, "fftconv3: needs kf [H, 2 N1 N2, N3]");
  if (order == 4 &&
      (c->args[kf].dims[0] != H || c->args[kf].dims[1] != 2 * n1 * n2 * n3 || c->args[kf].dims[2] != n4))
    return fail(c, "fftconv4: needs kf [H, 2 N1 N2 N3, N4]");
  if (gate && (c->args[w].dims[0] != B * H * N || c->args[v].dims[0] != B * H * N))
    return fail(c, "fftconv: gate = 1 needs w and v of B*H*N elements");
  if (order == 2 && given &&
      (c->args[kf].dims[0] != H || c->args[kf].dims[1] != 2 * n1 || c->args[kf].dims[2] != n2))
    return fail(c, half ? "fftconv: kspec = given with half = 1 needs kf [H, 2 N1, N2] (the split of N)"
                        : "fftconv: kspec = given needs kf [H, 2 N1, N2]");
  fftw_complex *x = fftw_malloc(sizeof *x * (size_t)L);
  double *spec = malloc(sizeof *spec * (size_t)(2 * L)), *g = malloc(sizeof *g * (size_t)N);
  if (!x || !spec || !g) {
    fftw_free(x), free(spec), free(g);
    return fail(c, "fftconv: out of memory");
  }
  int rc = KILN_REF_OK;
  for (int64_t bh = 0; bh < B * H && rc == KILN_REF_OK; bh++) {
    int64_t h = bh % H;
    const double *kr = c->data[k] + h * N;
    /* the index of element i of row bh in u, w, v, y */
#define AT(i) (bnh ? ((bh / H) * N + (i)) * H + h : bh * N + (i))
    const double *kfr = spec;
    if (given)
      kfr = c->data[kf] + h * (half ? L : 2 * L);
    else
      spectrum(c, kr, N, L, sp, x, spec);
    for (int64_t i = 0; i < N; i++) {
      double ui = c->data[u][AT(i)];
      g[i] = gate ? ref_round(c, ui * c->data[w][AT(i)]) : ui;
    }
    for (int64_t i = 0; i < L; i++) x[i] = i < N ? g[i] : 0;
    if (half) twist(c, x, L, -1, lowp);
    if (lowp)
      dft_lowp(c, x, L, -1);
    else
      dft(x, L, -1);
    for (int64_t m = 0; m < L; m++) {
      int64_t pos = half ? 0 : kf_pos(m, n1, n2, n3, n4);
      double complex kk = half ? half_bin(kfr, m, L, sp) : kfr[pos] + I * kfr[L + pos];
      x[m] = lowp ? cmul_round(c, x[m], cround(c, kk / (double)L)) : x[m] * kk / (double)L;
    }
    if (lowp)
      dft_lowp(c, x, L, 1);
    else
      dft(x, L, 1);
    if (half) twist(c, x, L, 1, lowp);
    for (int64_t i = 0; i < N; i++)
      c->data[y][AT(i)] = ref_round(c, creal(x[i])) * (gate ? c->data[v][AT(i)] : 1);
    if (lowp || given || N > 1024) continue;
    /* the direct causal sum, against which FFTW's answer must agree to rounding. FFTW's rounding is
     * relative to the whole row's scale, not to one output's terms: an early output whose few terms
     * are small carries the error of the row's large ones (row 11's y[0], one term of 3.3e-7, off by
     * 2.6e-16: 8e-10 of itself), so the bound has a term of the row's scale too (||g||_1 ||k||_max,
     * at least every output's magnitude), 1e-13 of it: far above double rounding, far below a
     * wrong answer. */
    double gsum = 0, kmax = 0;
    for (int64_t j = 0; j < N; j++) gsum += fabs(g[j]), kmax = fmax(kmax, fabs(kr[j]));
    for (int64_t i = 0; i < N && rc == KILN_REF_OK; i++) {
      double s = 0, mag = 0, row = gsum * kmax;
      for (int64_t j = 0; j <= i; j++) s += g[j] * kr[i - j], mag += fabs(g[j] * kr[i - j]);
      double yi = c->data[y][AT(i)];
      if (gate) s *= c->data[v][AT(i)], mag *= fabs(c->data[v][AT(i)]), row *= fabs(c->data[v][AT(i)]);
      if (fabs(s - yi) > 1e-10 * (mag + 1e-300) + 1e-13 * row + 1e-300) {
        char msg[160];
        snprintf(msg, sizeof msg, "fftconv: FFTW gives %.17g for y[%lld, %lld], the direct sum %.17g", yi,
                 (long long)bh, (long long)i, s);
        rc = fail(c, msg);
      }
    }
  }
#undef AT
  fftw_free(x), free(spec), free(g);
  return rc;
}

int ref_fftconv(const ref_call *c) { return conv(c, 2); }
int ref_fftconv3(const ref_call *c) { return conv(c, 3); }
int ref_fftconv4(const ref_call *c) { return conv(c, 4); }
