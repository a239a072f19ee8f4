/*
 * type_rules.c - the type rules that both the recipe front end (compiler/lua) and the verifier
 * apply, written once: dot's operand types, and the limits on a program's sizes (tile elements per
 * thread, warps, pipeline stages), and the ranges of integer attributes (the parser's and the
 * verifier's). Each check returns 0, or -1 with a message that names the operand and what is
 * wrong; the caller adds its own place (the recipe line, the op, or the text's line and column).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir.h"

static int fail(char *msg, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (msg && n) vsnprintf(msg, n, fmt, ap);
  va_end(ap);
  return -1;
}

static const char *ts(ir_type t, char *buf, size_t n) {
  ir_type_str(t, buf, n);
  return buf;
}

static int dot_input_ok(ir_elem e, const char *prec) {
  if (!strcmp(prec, "b1_and")) return e == IR_U32;
  if (!strcmp(prec, "tf32")) return e == IR_F32;
  return e == IR_F16 || e == IR_BF16 || e == IR_F32 || e == IR_E4M3 || e == IR_E5M2 || e == IR_I8 ||
         e == IR_U8;
}

static int dot_elems(ir_type a, ir_type b, ir_type c, const char *prec, char *msg, size_t n) {
  char sa[160], sb[160];
  if (strcmp(prec, "ieee") && strcmp(prec, "tf32") && strcmp(prec, "b1_and"))
    return fail(msg, n, "attribute 'precision' = \"%s\" is not one of: ieee tf32 b1_and", prec);
  if (a.elem != b.elem)
    return fail(msg, n, "operand 1 has type %s but operand 0 has type %s", ts(b, sb, sizeof sb),
                ts(a, sa, sizeof sa));
  if (!dot_input_ok(a.elem, prec))
    return fail(msg, n, "operand 0 has type %s; precision '%s' takes %s", ts(a, sa, sizeof sa), prec,
                !strcmp(prec, "b1_and") ? "u32 (packed bits)"
                : !strcmp(prec, "tf32") ? "f32"
                                        : "f16, bf16, f32, e4m3, e5m2, i8 or u8");
  int int_in = !ir_elem_is_float(a.elem);
  if (int_in ? c.elem != IR_I32 : c.elem != IR_F32 && !(c.elem == IR_F16 && a.elem == IR_F16))
    return fail(msg, n, "operand 2 has type %s; the accumulator for %s inputs must be %s",
                ts(c, sa, sizeof sa), ir_elem_name(a.elem),
                int_in             ? "i32"
                : a.elem == IR_F16 ? "f32 or f16"
                                   : "f32");
  return 0;
}

int ir_dot_check(ir_type a, ir_type b, ir_type c, const char *prec, char *msg, size_t n) {
  char sa[160], sb[160];
  const ir_type t[3] = {a, b, c};
  for (int i = 0; i < 3; i++)
    if (t[i].kind != IR_TTILE || t[i].rank != 2)
      return fail(msg, n, "operand %d has type %s; expected a rank-2 tile", i, ts(t[i], sa, sizeof sa));
  if (a.shape[1] != b.shape[0])
    return fail(msg, n, "operand 1 has type %s but operand 0 has type %s: K differs (%u vs %u)",
                ts(b, sb, sizeof sb), ts(a, sa, sizeof sa), b.shape[0], a.shape[1]);
  if (c.shape[0] != a.shape[0] || c.shape[1] != b.shape[1])
    return fail(msg, n, "operand 2 has type %s; expected shape %ux%u ([M,K]x[K,N] -> [M,N])",
                ts(c, sa, sizeof sa), a.shape[0], b.shape[1]);
  return dot_elems(a, b, c, prec ? prec : "ieee", msg, n);
}

int ir_warps_check(int64_t warps, char *msg, size_t n) {
  if (warps < 1 || warps > IR_MAX_WARPS || (warps & (warps - 1)))
    return fail(msg, n, "warps = %lld: must be a power of two from 1 to %d", (long long)warps, IR_MAX_WARPS);
  return 0;
}

int ir_tile_size_check(ir_type t, int warps, char *msg, size_t n) {
  if (t.kind != IR_TTILE) return 0;
  uint64_t limit = (uint64_t)IR_MAX_ELEMS_PER_THREAD * 32u * (uint64_t)(warps > 0 ? warps : 1);
  uint64_t numel = ir_type_numel(t);
  if (numel <= limit) return 0;
  char count[32] = "2^64 or more"; /* ir_type_numel saturates */
  if (numel != UINT64_MAX) snprintf(count, sizeof count, "%llu", (unsigned long long)numel);
  return fail(msg, n, "%s elements, more than a program of %d warps holds in a tile (%llu: %d per thread)",
              count, warps, (unsigned long long)limit, IR_MAX_ELEMS_PER_THREAD);
}

int ir_int_fits(ir_elem e, int64_t v, char *msg, size_t n) {
  if (ir_elem_is_float(e) || e == IR_I64) return 0;
  int bits = ir_elem_bits(e), sgn = ir_elem_is_signed(e);
  int64_t lo = sgn ? -((int64_t)1 << (bits - 1)) : 0;
  int64_t hi = sgn ? ((int64_t)1 << (bits - 1)) - 1 : ((int64_t)1 << bits) - 1;
  if (v >= lo && v <= hi) return 0;
  return fail(msg, n, "%lld is outside %s's range %lld..%lld", (long long)v, ir_elem_name(e), (long long)lo,
              (long long)hi);
}

/* Integer attributes with a fixed range that later stages read into narrower integers; the other
 * ranges (the axis of program_id, iota and reduce, const's value, alloc_shared's swizzle beyond
 * its bound here) are the verifier's rules alone. */
static const struct {
  int code;
  const char *key;
  int64_t lo, hi;
} int_attrs[] = {
    {IR_OP_FOR, "stages", 1, IR_MAX_STAGES},
    {IR_OP_FOR, "inflight", 0, 1}, /* warpgroup MMA groups kept in flight across iterations */
    {IR_OP_FOR, "tma", 0, 1},      /* the pipelined copies as TMA boxes (sm_90a) */
    {IR_OP_FOR, "release", 0, 1},  /* 0: keep the body's barrier instead of release mbarriers (tma) */
    {IR_OP_FOR, "ws", 0, 1},       /* a producer warpgroup issues the TMA ring's copies (warp_split) */
    {IR_OP_WARP_SPLIT, "producer_regs", 0, 256}, /* setmaxnreg counts (0: none) */
    {IR_OP_WARP_SPLIT, "consumer_regs", 0, 256},
    {IR_OP_FOR, "pingpong", 0, 1},        /* with ws: the consumer warpgroups' MMAs take turns */
    {IR_OP_FOR, "short", 0, 1},           /* a hint: few iterations, one version of the body (codegen) */
    {IR_OP_WARP_SPLIT, "pingpong", 0, 1}, /* the consumers' two warpgroups take turns at wgmma */
    {IR_OP_COPY, "tma", 0, 1},
    {IR_OP_COPY, "by_tma", 0, 1}, /* a hint: a copy outside loops by TMA where it can (sm_90a) */
    {IR_OP_STORE, "tma", 0, 1},   /* a hint: the store through shared memory and a TMA box (sm_90a) */
    {IR_OP_ASYNC_WAIT, "pending", 0, IR_MAX_PENDING}, /* groups: a loop copies several per stage */
    {IR_OP_ALLOC_SHARED, "swizzle", 0, INT32_MAX},
    {IR_OP_ALLOC_SHARED, "offset", 0, INT32_MAX},
    {IR_OP_COPY, "async", 0, 1},
    {IR_OP_MBAR_INIT, "count", 1, (1 << 20) - 1}, /* the arrivals that complete a phase */
    {IR_OP_MBAR_WAIT, "elected", 0, 1},           /* only the lane that issues the TMA boxes waits */
};

int ir_attr_int_range(int code, const char *key, int64_t *lo, int64_t *hi) {
  for (size_t i = 0; i < sizeof int_attrs / sizeof *int_attrs; i++)
    if (int_attrs[i].code == code && !strcmp(int_attrs[i].key, key)) {
      *lo = int_attrs[i].lo, *hi = int_attrs[i].hi;
      return 1;
    }
  return 0;
}

int ir_attr_int_check(int code, const char *key, int64_t v, char *msg, size_t n) {
  int64_t lo, hi;
  if (!ir_attr_int_range(code, key, &lo, &hi) || (v >= lo && v <= hi)) return 0;
  return fail(msg, n, "attribute '%s' = %lld is out of range %lld..%lld", key, (long long)v, (long long)lo,
              (long long)hi);
}
