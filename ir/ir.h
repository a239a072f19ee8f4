/*
 * ir.h - kiln's tile IR: types, values, ops, regions, attributes and the C builder.
 *
 * Design (see docs/ir.md for every op):
 *   - One kernel is an ir_func. Values, ops and regions live in flat arrays inside it and are named by
 *     32-bit handles (index 0 means "none"). Everything is allocated from the function's arena and
 *     freed at once with ir_func_destroy; passes never free.
 *   - A value is a scalar, a tile (rank 1..3, static power-of-two shape, element type, optional
 *     register layout), a global pointer, a view of a global tensor, or a shared-memory buffer.
 *   - An op has operands (value handles), results (value handles), attributes (key/value list) and
 *     0..2 regions. A region is a doubly linked list of ops plus block arguments (for: induction
 *     variable then loop-carried values). Region 1 is the kernel body; its arguments are the kernel
 *     parameters.
 *   - Opcodes come from ops.def, nowhere else.
 *
 * Register layouts (filled in by the layout pass; printed inside the tile type):
 *   blocked<[spt],[tpw],[wpc],[order]>: a thread holds spt[d] consecutive elements along dim d; a
 *   warp is tpw[d] threads along d (prod tpw = 32); the block is wpc[d] warps along d (prod wpc =
 *   warps). order lists dims fastest first (lane and warp ids are split across dims in that order).
 *   The layout tile L[d] = spt*tpw*wpc. If shape[d] >= L[d] the pattern repeats shape[d]/L[d]
 *   times; if shape[d] < L[d] coordinates wrap modulo shape[d] (several threads hold the same
 *   element: replication). A reduce along d keeps its operand's layout with shape[d] = 1, so a
 *   broadcast back to the parent shape is a register copy.
 *
 *   The fragments of the warp-level matrix instruction (mma.sync m16n8kK, docs/tensor-cores.md), for
 *   rank-2 tiles. The warps form a wm x wn grid (warp = warp_m * wn + warp_n); with lane = 4g + t:
 *   mma<[wm,wn]>: dot's accumulator [M,N]. Rows 8*warp_m + g + 8*wm*i, columns 8*warp_n + 2t +
 *     {0,1} + 8*wn*j: exactly blocked<[1,2],[8,4],[wm,wn],[1,0]>. Row groups i = 2q, 2q+1 make the
 *     16 rows of one instruction, column pairs j one 8-column tile.
 *   mma_a<[wm,wn],kw>: the A operand [M,K]. Rows as mma's; along K, kw elements (one 32-bit
 *     register: 2 of 16 bits, 4 of 8 bits, 1 u32 word of bits) at 4*kw*j + kw*t. As
 *     blocked<[1,kw],[8,4],[wm,1],[1,0]>, the wn warps of a warp row holding copies.
 *   mma_b<[wm,wn],kw>: the B operand [K,N]. Columns 8*warp_n + g + 8*wn*j; along K as mma_a's.
 *     As blocked<[kw,1],[4,8],[1,wn],[0,1]>, the wm warps of a warp column holding copies.
 *   ir_layout stores the blocked fields above (spt, tpw, order) with wpc = [wm, wn]. wm*wn may be
 *   less than the kernel's warps (the others hold copies). Whole fragments need M >= 16*wm, N >=
 *   8*wn, K >= 4*kw; on a smaller shape (a reduce's result) coordinates wrap as in a blocked layout.
 */
#ifndef KILN_IR_H
#define KILN_IR_H

#include <stddef.h>
#include <stdint.h>

/* ---- arena ---- */

typedef struct ir_arena ir_arena;
ir_arena *ir_arena_new(void);
void ir_arena_free(ir_arena *a);
void *ir_alloc(ir_arena *a, size_t n); /* zeroed, 16-byte aligned */
char *ir_strdup(ir_arena *a, const char *s);

/* ---- element and value types ---- */

typedef enum {
  IR_I1,
  IR_I8,
  IR_U8,
  IR_I16,
  IR_I32,
  IR_U32,
  IR_I64,
  IR_F16,
  IR_BF16,
  IR_F32,
  IR_F64,
  IR_E4M3,
  IR_E5M2,
  IR_NELEM
} ir_elem;

typedef enum {
  IR_TNONE,   /* no value */
  IR_TSCALAR, /* elem */
  IR_TTILE,   /* tile<SxSxelem[, layout]> */
  IR_TPTR,    /* ptr<elem>: global memory */
  IR_TVIEW,   /* view<Rxelem>: global tensor view with shape, strides, bounds */
  IR_TSMEM    /* smem<Sxelem>: shared-memory buffer */
} ir_tkind;

typedef enum { IR_LNONE, IR_LBLOCKED, IR_LMMA, IR_LMMA_A, IR_LMMA_B } ir_lkind;

typedef struct {
  uint8_t kind; /* ir_lkind */
  uint8_t spt[3], tpw[3], wpc[3], order[3];
} ir_layout;

enum { IR_MAXRANK = 3 };

typedef struct {
  uint8_t kind; /* ir_tkind */
  uint8_t elem; /* ir_elem */
  uint8_t rank; /* tiles and smem: 1..3; views: 1..3 */
  uint32_t shape[IR_MAXRANK];
  ir_layout layout; /* tiles only; kind IR_LNONE until the layout pass */
} ir_type;

const char *ir_elem_name(ir_elem e);     /* "f32" */
int ir_elem_parse(const char *s, int n); /* -1 if unknown */
int ir_elem_bits(ir_elem e);             /* 1, 8, 16, 32, 64 */
int ir_elem_is_float(ir_elem e);         /* f16 bf16 f32 f64 e4m3 e5m2 */
int ir_elem_is_signed(ir_elem e);        /* i8 i16 i32 i64 (i1 is not) */
int ir_elem_is_fp8(ir_elem e);           /* e4m3 e5m2 */
int ir_elem_bytes(ir_elem e);            /* in memory: 1 (i1 and 8-bit types), 2, 4, 8 */

ir_type ir_t_none(void);
ir_type ir_t_scalar(ir_elem e);
ir_type ir_t_tile(ir_elem e, int rank, const uint32_t *shape);
ir_type ir_t_ptr(ir_elem e);
ir_type ir_t_view(ir_elem e, int rank);
ir_type ir_t_smem(ir_elem e, int rank, const uint32_t *shape);
/* The layout of kind IR_LMMA, IR_LMMA_A or IR_LMMA_B for a wm x wn warp grid (kw: operand elements
 * per 32-bit register; ignored for IR_LMMA). */
ir_layout ir_layout_mma(ir_lkind kind, int wm, int wn, int kw);
/* bitsplit's layouts: the layout of a tile whose elements along `axis` each split into f (a thread
 * holding element i holds elements f*i .. f*i + f - 1): l with f times the elements per thread along
 * axis. 1 and *out where that is a layout (blocked; mma_a along K = dim 1; mma_b along K = dim 0;
 * their kw times f, at most 4), else 0. ir_layout_unsplit is the inverse (l's elements per thread
 * along axis a multiple of f). */
int ir_layout_split(ir_layout l, int axis, int f, ir_layout *out);
int ir_layout_unsplit(ir_layout l, int axis, int f, ir_layout *out);
int ir_type_eq(ir_type a, ir_type b); /* layouts compared too */
int ir_type_eq_nolayout(ir_type a, ir_type b);
uint64_t ir_type_numel(ir_type t);               /* product of shape (1 for scalars) */
int ir_type_str(ir_type t, char *buf, size_t n); /* printed form; returns length */

/* ---- type rules shared by the recipe front end and the verifier (type_rules.c) ---- */

/* Limits of one program (docs/ir.md, "Limits"). A tile holds at most IR_MAX_ELEMS_PER_THREAD
 * elements per thread (numel <= that x 32 x warps): four times the 255 registers a thread has on
 * every target row; codegen gives each thread its elements as separate values, so a larger tile
 * would spill and make codegen grow without bound. Warps: a power of two up to 32 (1024 threads,
 * every row's max_threads). Stages: a loop's pipeline depth (each stage a copy of its buffers). */
enum { IR_MAX_ELEMS_PER_THREAD = 1024, IR_MAX_WARPS = 32, IR_MAX_STAGES = 8, IR_MAX_PENDING = 255 };
/* A kernel's `min_blocks` (blocks per SM ptxas must fit: .minnctapersm; 0 = no bound) is at most this. */
enum { IR_MAX_MIN_BLOCKS = 32 };
/* A shared buffer is at most 1 GiB: far above every target row's shared memory per block (whose
 * limit is checked where the target is known: shared-memory planning, codegen), and small enough
 * that their byte arithmetic never wraps. */
enum { IR_MAX_SMEM_BYTES = 1 << 30 };

/* Each returns 0, or -1 with a message in msg naming the operand or value and what is wrong. */
int ir_dot_check(ir_type a, ir_type b, ir_type c, const char *precision, char *msg,
                 size_t n); /* NULL: ieee */
int ir_tile_size_check(ir_type t, int warps, char *msg, size_t n);
int ir_warps_check(int64_t warps, char *msg, size_t n);
int ir_int_fits(ir_elem e, int64_t v, char *msg, size_t n); /* v in the range of integer type e */
/* The fixed range of integer attribute `key` of op `code`; 0 when it has none. ir_attr_int_check: "attribute
 * 'stages' = 9 is out of range 1..8". */
int ir_attr_int_range(int code, const char *key, int64_t *lo, int64_t *hi);
int ir_attr_int_check(int code, const char *key, int64_t v, char *msg, size_t n);

/* ---- opcodes ---- */

enum {
  IR_F_PURE = 1,
  IR_F_ELEMENTWISE = 2,
  IR_F_TERM = 4,
  IR_F_COMMUTATIVE = 8,
};

/* The element types an op's operand 0 may have (ops.def's elems column). */
typedef enum { IR_EC_ANY, IR_EC_NUM, IR_EC_INT, IR_EC_FLOAT } ir_eclass;
int ir_elem_in_class(ir_eclass c, ir_elem e); /* NUM: every type but i1 */

typedef enum {
  IR_OP_NONE,
#define OP(E, name, nopnd, nres, nregion, flags, elems, verify, lower, lua, lua_name, lua_meta) IR_OP_##E,
#include "ops.def"
#undef OP
  IR_NOPS
} ir_opcode;

typedef struct {
  const char *name;
  int nopnd, nres, nregion, flags;
  int elems; /* ir_eclass */
} ir_opinfo;

extern const ir_opinfo ir_opinfo_table[IR_NOPS];
int ir_opcode_parse(const char *s, int n); /* -1 if unknown */

/* ---- attributes ---- */

typedef enum { IR_AINT, IR_AFLOAT, IR_ASTR, IR_ALIST } ir_akind;

typedef struct ir_attr {
  const char *key;
  uint8_t kind; /* ir_akind */
  int64_t i;
  double f;
  const char *s;
  int64_t *list;
  int nlist;
  struct ir_attr *next; /* in insertion order */
} ir_attr;

/* ---- values, ops, regions, functions ---- */

typedef uint32_t ir_val;  /* handle into fn->vals; 0 = none */
typedef uint32_t ir_opid; /* handle into fn->ops; 0 = none */
typedef uint32_t ir_reg;  /* handle into fn->regions; 0 = none; 1 = kernel body */

typedef struct {
  ir_type type;
  ir_opid def;      /* defining op, or 0 for a block argument */
  ir_reg arg_of;    /* region whose block argument this is, or 0 */
  uint32_t index;   /* result index in def, or argument index in arg_of */
  const char *name; /* optional: kernel parameters keep their names */
} ir_value;

typedef struct {
  uint16_t code; /* ir_opcode */
  uint8_t dead;  /* unlinked from its region */
  uint8_t nregion;
  uint32_t nopnd, nres;
  ir_val *opnd;
  ir_val *res;
  ir_reg region[2];
  ir_reg parent; /* region that holds this op */
  ir_opid prev, next;
  ir_attr *attrs;
  const char *file; /* source location (recipe or IR file), may be NULL */
  int line;
} ir_op;

typedef struct {
  ir_opid first, last;
  ir_opid parent_op; /* 0 for the kernel body */
  uint32_t nargs;
  ir_val *args;
} ir_region;

typedef struct ir_func {
  ir_arena *A;
  const char *name;
  ir_attr *attrs; /* kernel attributes: warps, shared_bytes, target, ... */
  ir_value *vals;
  uint32_t nvals, capvals;
  ir_op *ops;
  uint32_t nops, capops;
  ir_region *regions;
  uint32_t nregions, capregions;
  ir_reg body; /* == 1 */
} ir_func;

ir_func *ir_func_new(const char *name);
void ir_func_destroy(ir_func *fn);

static inline ir_value *ir_v(ir_func *fn, ir_val v) { return &fn->vals[v]; }
static inline ir_op *ir_o(ir_func *fn, ir_opid o) { return &fn->ops[o]; }
static inline ir_region *ir_r(ir_func *fn, ir_reg r) { return &fn->regions[r]; }
static inline ir_type ir_vtype(ir_func *fn, ir_val v) { return fn->vals[v].type; }
/* The region that holds v's definition, or whose block argument v is. */
ir_reg ir_val_region(ir_func *fn, ir_val v);
/* 1 if region outer is inner or encloses it. */
int ir_region_encloses(ir_func *fn, ir_reg outer, ir_reg inner);

/* Kernel parameters are the body region's block arguments. */
ir_val ir_add_param(ir_func *fn, const char *name, ir_type t);
/* The index of kernel parameter v, or -1 when v is not one. */
int ir_param_index(const ir_func *fn, ir_val v);
/* v, an integer scalar, as a postfix expression of the kernel's integer parameters for the host to
 * evaluate at launch: tokens "$i" (parameter i's value), decimal constants and "+ - *", separated by
 * commas (runtime/pack_expr.c's tokens). Returns 0, or -1 when v depends on anything else (an op
 * other than const, add, sub, mul and integer casts; a float; a computed value in a loop) or the
 * text does not fit in n bytes. */
int ir_param_expr(const ir_func *fn, ir_val v, char *buf, size_t n);
/* TMA (docs/hopper.md). The coordinates of a view's base, for a tensor map of rank 2 + n: a base
 * written as a sum of terms bounded(index, count) * stride (k.view's base given as coordinates),
 * count and stride expressions of the parameters (ir_param_expr). */
enum { IR_TMA_MAXCOORDS = 3 };
typedef struct {
  int n;
  ir_val index[IR_TMA_MAXCOORDS], count[IR_TMA_MAXCOORDS], stride[IR_TMA_MAXCOORDS];
} ir_tma_coords;
/* 0 with c filled if view v can be a tensor map's: a rank-2 view of a kernel parameter with unit
 * inner stride, dims and row stride that ir_param_expr writes, and no base or a base of such
 * coordinates; -1 if not. */
int ir_tma_view_coords(const ir_func *fn, ir_val view, ir_tma_coords *c);
/* 1 if ir_tma_view_coords accepts v; 1 if a shared
 * buffer of type t, allocated with this swizzle and {wgmma = 1} or not, is laid out as TMA boxes
 * leave it (rank 2, at most 256 rows, a multiple of 8; 1-byte, f16, bf16, f32 or i32 elements; rows
 * of 32 or 64 bytes swizzled 2 or 4, or a multiple of 128 bytes swizzled 8 in 128-byte panels). */
int ir_tma_view_ok(const ir_func *fn, ir_val view);
int ir_tma_buffer_ok(ir_type t, int64_t swizzle, int wgmma);

/* ---- building ---- */

/* Where new ops go: appended at the end of region `reg`, or before op `before` if non-zero. */
typedef struct {
  ir_func *fn;
  ir_reg reg;
  ir_opid before;
  const char *file; /* stamped on each new op */
  int line;
} ir_builder;

ir_builder ir_builder_at_end(ir_func *fn, ir_reg reg);
ir_builder ir_builder_before(ir_func *fn, ir_opid op);

/* Generic creation: nres result types, nregion empty regions. Returns the op. */
ir_opid ir_build(ir_builder *b, ir_opcode code, const ir_val *opnds, uint32_t nopnd, const ir_type *restypes,
                 uint32_t nres, int nregion);
static inline ir_val ir_res(ir_func *fn, ir_opid op, int i) { return fn->ops[op].res[i]; }

/* Adds a block argument to a region (for loop iv and carried values). */
ir_val ir_region_add_arg(ir_func *fn, ir_reg reg, ir_type t);

/* Convenience builders (each returns the single result, or the op for no-result ops). */
ir_val ir_b_const_i(ir_builder *b, ir_type t, int64_t v);
ir_val ir_b_const_f(ir_builder *b, ir_type t, double v);
ir_val ir_b_unary(ir_builder *b, ir_opcode code, ir_val x, ir_type t);
ir_val ir_b_binary(ir_builder *b, ir_opcode code, ir_val x, ir_val y); /* result type of x (i1 for cmp) */
ir_val ir_b_cmp(ir_builder *b, const char *pred, ir_val x, ir_val y);
ir_val ir_b_program_id(ir_builder *b, int axis);

/* Attributes (set replaces an existing key). */
void ir_attr_set_i(ir_arena *A, ir_attr **list, const char *key, int64_t v);
void ir_attr_set_f(ir_arena *A, ir_attr **list, const char *key, double v);
void ir_attr_set_s(ir_arena *A, ir_attr **list, const char *key, const char *v);
void ir_attr_set_list(ir_arena *A, ir_attr **list, const char *key, const int64_t *v, int n);
ir_attr *ir_attr_get(ir_attr *list, const char *key);
int64_t ir_attr_i(ir_attr *list, const char *key, int64_t dflt);

/* The kernel attributes in which a launch promises its parameters' alignment (docs/ir.md), strongest
 * first: bit i of `aligned` says parameter i is 16-byte aligned (a pointer) or a multiple of 16 (an
 * integer); of `aligned8`, `aligned4` that integer parameter i is a multiple of 8, of 4. `bits`: the
 * low bits each makes known to be zero. */
enum { IR_NPROMISE = 3 };
typedef struct {
  const char *attr;
  int bits;
} ir_promise;
extern const ir_promise ir_promises[IR_NPROMISE];
double ir_attr_f(ir_attr *list, const char *key, double dflt); /* ints read as floats too */
const char *ir_attr_s(ir_attr *list, const char *key, const char *dflt);
#define ir_op_set_i(fn, op, k, v) ir_attr_set_i((fn)->A, &ir_o(fn, op)->attrs, k, v)
#define ir_op_set_f(fn, op, k, v) ir_attr_set_f((fn)->A, &ir_o(fn, op)->attrs, k, v)
#define ir_op_set_s(fn, op, k, v) ir_attr_set_s((fn)->A, &ir_o(fn, op)->attrs, k, v)

/* ---- editing ---- */

void ir_op_unlink(ir_func *fn, ir_opid op);                    /* marks dead */
void ir_op_move(ir_func *fn, ir_opid op, ir_reg reg);          /* to the end of region reg, live */
void ir_replace_all_uses(ir_func *fn, ir_val from, ir_val to); /* every operand in the function */
uint32_t *ir_use_counts(ir_func *fn, ir_arena *A);             /* per value, live ops only */

/* Walk every live op in program order (pre-order: an op before the ops of its regions). */
typedef void (*ir_walk_fn)(ir_func *fn, ir_opid op, void *ctx);
void ir_walk(ir_func *fn, ir_reg reg, ir_walk_fn f, void *ctx);

/* ---- text form (print.c, parse.c) and verifier (verify.c) ---- */

/* Prints the function; returns a string allocated with malloc (caller frees). */
char *ir_print(ir_func *fn);
/* Each value's printed name ("%x" for a parameter, "%5"), indexed by handle; NULL for values the
 * printer does not reach (results of unlinked ops). Allocated in A. */
const char **ir_value_names(ir_func *fn, ir_arena *A);

/* Parses one kernel from text. On error returns NULL and writes "file:line:col: message\n  line\n  ^"
 * into err. `file` is used in messages only. `*end` (if non-NULL) receives the offset after the kernel,
 * so that a caller can parse several kernels from one buffer. */
ir_func *ir_parse(const char *text, const char *file, char *err, size_t errn, size_t *end);

/* Checks types and structure. Returns 0 if valid; else -1 with a one-line message naming the op, the
 * operand and what is wrong (prefixed by file:line when the op has a location). */
int ir_verify(ir_func *fn, char *err, size_t errn);

#endif
