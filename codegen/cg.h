/*
 * cg.h - private to codegen: the lowering state and the entry points of each lower_*.c file.
 *
 * The lowering walks laid-out tile IR once, in program order. Each IR value becomes a cg_value: an
 * array of LLVM values, one per element the current thread owns under the tile's layout (a scalar, a
 * global or shared pointer is one value; a view is its pointer, its dims and its strides). Layouts
 * are read through cg_lay, which says how many elements a thread holds along each dim and where they
 * are. Everything GPU-specific goes through L->c.ops (devops.h); lower_*.c never names an NVVM
 * intrinsic. User errors (an op the target lacks, too much shared memory) longjmp to cg_compile.
 */
#ifndef KILN_CG_H
#define KILN_CG_H

#include <setjmp.h>

#include "codegen.h"
#include "devops.h"

typedef struct {
  uint32_t n; /* number of LLVM values */
  LLVMValueRef *v;
} cg_value;

/* A tile's elements as one thread sees them (see ir.h for blocked layouts). Element i of a thread's
 * array has a multi-index e[d] in [0, per[d]); dims are nested in layout order, order[0] innermost.
 * Its coordinate along d is cg_lay_const(e[d]) + the thread's offset along d. */
typedef struct {
  int rank;
  uint32_t shape[IR_MAXRANK];
  ir_layout l;
  uint32_t run[IR_MAXRANK];  /* consecutive elements per repetition: min(spt, shape) */
  uint32_t tile[IR_MAXRANK]; /* layout tile: spt * tpw * wpc */
  uint32_t per[IR_MAXRANK];  /* elements per thread: run * max(1, shape / tile) */
  uint32_t step[IR_MAXRANK]; /* index stride of e[d] in the thread's array */
  uint32_t n;                /* elements per thread */
  /* How the warp id splits: dim d's warp index is (warp >> wshift[d]) % wpc[d]. Blocked layouts:
   * l.wpc, split in layout order. mma layouts (ir.h): the wm x wn grid, warp = warp_m * wn + warp_n;
   * an operand takes only its own dim's share (mma_a: wpc = [wm, 1], mma_b: [1, wn]). */
  uint8_t wpc[IR_MAXRANK], wshift[IR_MAXRANK];
  uint8_t wlow; /* low warp-id bits that only make copies (mma_a: log2 wn) */
} cg_lay;

/* Per-thread values of one layout, hoisted into the prologue (see cg_lay_thread). */
typedef struct {
  ir_layout l;
  int rank;
  uint32_t shape[IR_MAXRANK];
  LLVMValueRef off[IR_MAXRANK]; /* the thread's coordinate offset along each dim */
  LLVMValueRef owner;           /* i1: this thread is the first holder of its elements; NULL = always */
} cg_thread_lay;

/* A tensor-map parameter of the kernel: the view the TMA copies read, their box and swizzle. */
typedef struct {
  ir_val view;
  uint32_t box[2];
  int swizzle;
  ir_elem elem;
  LLVMValueRef param;
} cg_tmap;

typedef struct cg_lower {
  cg_ctx c; /* first member: the device ops see this part */
  ir_func *fn;
  ir_arena *A;
  cg_value *vals;     /* per IR value */
  const char **names; /* printed value names, for sites */
  const char **sites; /* per op, its site once made (site_of); NULL before */
  const char **texts; /* the sites made, hashed by text (site_of: one text per op) */
  uint32_t ntexts;    /* the table's size, a power of two */
  int warps;
  LLVMBasicBlockRef prologue; /* per-thread values (ids, layout offsets) are computed here */
  LLVMValueRef tid, lane, warp;
  LLVMValueRef warp_u; /* the warp index as lane 0 holds it (made in the prologue on first use) */
  int elect_warp;      /* the warp whose elected lane issues TMA boxes: 0, or the producer's first */
  int pingpong;        /* in the consumers of a warp_split {pingpong = 1}: wgmma dots take turns */
  cg_thread_lay *tl;   /* cache of per-layout thread values */
  int ntl, captl;
  int scratch_base; /* byte offset of the scratch area, after the planned shared memory */
  int scratch_max;  /* bytes of scratch the kernel needs at most */
  /* Scratch over the dead buffers: from the kernel body's op number `dead_from` on (0: never) no
   * shared buffer is used again and every thread has passed a barrier after their last use, so
   * scratch starts at offset 0; dead_max is the most it needs there. top: the body's op being
   * lowered (numbered from 1). */
  uint32_t dead_from, top;
  ir_opid dead_barrier; /* the barrier dead_from follows */
  int dead_max;
  const ir_val *yield; /* operands of the yield just lowered, and the block it ended */
  uint32_t nyield;
  LLVMBasicBlockRef yield_block;
  uint8_t *copy_aligned; /* per op: 1 = a copy the enclosing loop's version found aligned (lower_control.c) */
  LLVMValueRef *copy_test; /* per op: a copy's alignment tested before its loop {short} (lower_control.c) */
  cg_tmap *tmaps;          /* the tensor-map parameters, after the IR's */
  int ntmaps;
  uint64_t align_visit;  /* lower_align.c: the `aligned` parameters the proof under way has read */
  uint64_t aligned_used; /* the promised parameters of every proof that held (cg_result.aligned_used) */
  /* A staged dot's result kept in its grid's fragments for the staged dot that accumulates on it
   * (lower_mma.c, dot_staged): the result value and the fragments; chain_v 0: none */
  ir_val chain_v;
  LLVMValueRef *chain_fc;
  jmp_buf fail;
  char *err;
  size_t errn;
} cg_lower;

/* ---- codegen.c ---- */
/* The tensor-map parameter for copies {tma = 1} of view `view` with this box (codegen.c lists them
 * before the kernel is begun: cg_result.tmaps). */
LLVMValueRef cg_tmap_param(cg_lower *L, ir_val view, const uint32_t box[2], int swizzle, ir_elem e);
_Noreturn void cg_fail(cg_lower *L, ir_opid op, const char *fmt, ...);
void cg_require(cg_lower *L, ir_opid op, uint32_t feature);
void cg_lower_region(cg_lower *L, ir_reg r);
LLVMTypeRef cg_elem_type(cg_lower *L, ir_elem e); /* fp8 as i8 */
/* In memory i1 is a byte: the memory type, and values to and from it. */
LLVMTypeRef cg_mem_type(cg_lower *L, ir_elem e);
LLVMValueRef cg_to_mem(cg_lower *L, LLVMValueRef v, ir_elem e);
LLVMValueRef cg_from_mem(cg_lower *L, LLVMValueRef v, ir_elem e);
LLVMValueRef cg_i32(cg_lower *L, int64_t v);
LLVMValueRef cg_i64(cg_lower *L, int64_t v);
cg_value *cg_get(cg_lower *L, ir_val v);
LLVMValueRef *cg_def(cg_lower *L, ir_val v, uint32_t n); /* allocates v's n values */
LLVMValueRef cg_call(cg_lower *L, const char *name, LLVMTypeRef ret, LLVMValueRef *args, unsigned n);
void cg_enter_prologue(cg_lower *L, LLVMBasicBlockRef *saved);
void cg_leave_prologue(cg_lower *L, LLVMBasicBlockRef saved);
LLVMBasicBlockRef cg_block(cg_lower *L, const char *name);

/* ---- lower_layout.c: layouts per thread, scratch, convert_layout, broadcast ---- */
int cg_log2(uint32_t x); /* x a power of two */
void cg_lay_init(cg_lay *y, ir_type t);
/* Same thread -> element map for tiles of one shape (kinds aside: mma<[wm,1]> is mma_a<[wm,1],2>). */
int cg_lay_same(const cg_lay *a, const cg_lay *b);
uint32_t cg_lay_index(const cg_lay *y, const uint32_t *e);
void cg_lay_multi(const cg_lay *y, uint32_t i, uint32_t *e);
uint32_t cg_lay_const(const cg_lay *y, int d, uint32_t ed);
const cg_thread_lay *cg_lay_thread(cg_lower *L, const cg_lay *y);
/* In the current block: the thread's lane and warp index along dim d; the lane shift of dim d. */
void cg_lay_pos(cg_lower *L, const cg_lay *y, int d, LLVMValueRef *lane, LLVMValueRef *warp);
int cg_lay_lane_shift(const cg_lay *y, int d);
/* i1: the thread is the first holder along d (NULL: always); warps beyond the layout's (NULL: none). */
LLVMValueRef cg_lay_owner_dim(cg_lower *L, const cg_lay *y, int d);
LLVMValueRef cg_lay_warps_owner(cg_lower *L, const cg_lay *y);
LLVMValueRef cg_and_pred(cg_lower *L, LLVMValueRef a, LLVMValueRef b); /* NULL = true */
/* coords[i * rank + d]: the i32 coordinate of element i along d. Allocated in L->A. */
LLVMValueRef *cg_lay_coords(cg_lower *L, const cg_lay *y);
LLVMValueRef cg_scratch(cg_lower *L, int bytes); /* shared pointer to the scratch area */
/* Row-major index in a buffer of shape mem of element i: cg_buffer_base (per thread) + cg_buffer_const. */
LLVMValueRef cg_buffer_base(cg_lower *L, const cg_lay *y, const uint32_t *mem);
uint32_t cg_buffer_const(const cg_lay *y, uint32_t i, const uint32_t *mem);
/* Elements v[0], v[step], ... v[(w - 1) step] of a thread from or to shared memory at ptr: one access of
 * w elements (w > 1: cg_wide_type's integer or vector), a store under `owner` when not NULL. */
void cg_shared_group(cg_lower *L, ir_elem e, uint32_t w, LLVMValueRef ptr, LLVMValueRef *v, uint32_t step,
                     int store, LLVMValueRef owner);
/* Tile v (layout y) into a row-major shared buffer at base; only first holders store. */
void cg_tile_to_shared(cg_lower *L, const cg_lay *y, ir_elem e, LLVMValueRef *v, LLVMValueRef base);
/* The same into a row-major buffer of shape mem (at least y's shape in every dim: rows padded). */
void cg_tile_to_buffer(cg_lower *L, const cg_lay *y, ir_elem e, LLVMValueRef *v, LLVMValueRef base,
                       const uint32_t *mem);
/* Elements per shared-memory access of a thread in layout y along dim d (eb-byte elements): the
 * largest power of two dividing its run, spt and the extent, at most 16 bytes. */
uint32_t cg_wide_elems(const cg_lay *y, int d, int eb);
/* The memory type of n elements of e accessed at once: an integer up to 8 bytes, else <4 x i32>. */
LLVMTypeRef cg_wide_type(cg_lower *L, ir_elem e, uint32_t n);
void cg_lower_convert_layout(cg_lower *L, ir_opid op);
void cg_lower_broadcast(cg_lower *L, ir_opid op);

/* ---- lower_elementwise.c ---- */
LLVMValueRef cg_const_elem(cg_lower *L, ir_elem e, ir_attr *value); /* NULL attr: zero */
void cg_lower_const(cg_lower *L, ir_opid op);
void cg_lower_splat(cg_lower *L, ir_opid op);
void cg_lower_iota(cg_lower *L, ir_opid op);
void cg_lower_elementwise(cg_lower *L, ir_opid op);
LLVMValueRef cg_binary(cg_lower *L, ir_opcode code, ir_elem e, LLVMValueRef a, LLVMValueRef b);

/* ---- lower_cast.c ---- */
LLVMValueRef cg_convert(cg_lower *L, LLVMValueRef v, ir_elem from, ir_elem to);
/* One fp8 (e: IR_E4M3 or IR_E5M2) as i8 to f32, and f32 to it, in plain LLVM IR (the simulator's
 * fp8x2 device ops are made of these). */
LLVMValueRef cg_fp8_decode(cg_ctx *c, LLVMValueRef x, ir_elem e);
LLVMValueRef cg_fp8_encode(cg_ctx *c, LLVMValueRef x, ir_elem e);
void cg_lower_cast(cg_lower *L, ir_opid op);
void cg_lower_bitcast(cg_lower *L, ir_opid op);
void cg_lower_bitsplit(cg_lower *L, ir_opid op);

/* ---- lower_align.c ---- */
/* 1 when the i1 t is proven true: true, an and of proven tests, or (x & m) == 0 with m below x's
 * known zero bits. */
int cg_proven(cg_lower *L, LLVMValueRef t);

/* ---- lower_memory.c ---- */
void cg_lower_view(cg_lower *L, ir_opid op);
void cg_lower_bounded(cg_lower *L, ir_opid op);
void cg_lower_load(cg_lower *L, ir_opid op);
void cg_lower_store(cg_lower *L, ir_opid op);
void cg_lower_alloc_shared(cg_lower *L, ir_opid op);
void cg_lower_copy(cg_lower *L, ir_opid op);
/* Copy op of the body of loop `loop_op`: the i1 "its cp.async chunks are aligned" computed here, before
 * the loop (the view is defined outside it and the column offset is outside or a known multiple of the
 * chunk), or NULL when the copy has no such test. */
LLVMValueRef cg_copy_alignment_before(cg_lower *L, ir_opid op, ir_opid loop_op);
void cg_lower_load_shared(cg_lower *L, ir_opid op);
void cg_lower_gather_shared(cg_lower *L, ir_opid op);
/* The buffer element where load_shared op's block starts, into at[rank]; 0 when it reads the whole buffer. */
int cg_load_shared_at(cg_lower *L, ir_opid op, uint32_t *at);
void cg_lower_store_shared(cg_lower *L, ir_opid op);
void cg_lower_async_wait(cg_lower *L, ir_opid op);
void cg_lower_mbar(cg_lower *L, ir_opid op);
void cg_lower_store_tma(cg_lower *L, ir_opid op);
/* The box a copy {tma = 1} into buf moves (elements: box[0] along a row, box[1] rows) and the
 * swizzle of its tensor map (bytes). */
void cg_tma_box(cg_lower *L, ir_val buf, uint32_t box[2], int *swizzle);
void cg_lower_barrier(cg_lower *L, ir_opid op);

/* ---- smem_swizzle.c: where an element of a shared buffer lives ---- */
/* The swizzle N of shared buffer `buf` (its alloc_shared's `swizzle` attribute, found through
 * loop-carried buffers; 0 = none). */
int cg_smem_swizzle_of(cg_lower *L, ir_val buf);
/* Byte offset, from the buffer's start, of the element of `buf` at coordinates idx[0..rank) (i32
 * values, one per dim): row-major, rows = the last dim; with swizzle N the 16-byte chunk c of row r
 * is at chunk c ^ ((r / max(1, 128 / row_bytes)) % N). Use it for every access to a shared buffer;
 * a 16-byte-aligned run of 16 bytes along a row stays contiguous. */
/* The byte offset of byte col of row r in rows of row_bytes swizzled with N = n (0 or 1: none); with
 * `wide` (4-byte elements) the keys of the lines permuted (see smem_swizzle.c). */
LLVMValueRef cg_swizzle_at(cg_lower *L, LLVMValueRef row, LLVMValueRef col, uint32_t row_bytes, int n,
                           int wide);
LLVMValueRef cg_smem_swizzle(cg_lower *L, ir_val buf, const LLVMValueRef *idx);
/* 1 if buf is a wgmma operand stored in 128-byte panels when its rows are wider (see smem_swizzle.c). */
int cg_smem_panels(cg_lower *L, ir_val buf);
/* Bytes between the addresses of element (r, c) and (r + rows, c) of rank-2 buffer buf for every r
 * and c where both are in the buffer, when that is one constant (the swizzle repeats); else -1. */
int64_t cg_smem_row_step(cg_lower *L, ir_val buf, uint32_t rows);
int cg_smem_wgmma_rows(cg_lower *L, ir_val buf); /* warps of a wgmma A buffer's row order; 0: none */

/* ---- lower_reduce.c, lower_dot.c ---- */
void cg_lower_reduce(cg_lower *L, ir_opid op);
void cg_lower_dot(cg_lower *L, ir_opid op);
LLVMValueRef cg_shfl_any(cg_lower *L, cg_shfl mode, LLVMValueRef v, LLVMValueRef arg);

/* ---- lower_mma.c: dot on mma.sync, operands in mma layouts from shared memory ---- */
int cg_lower_dot_mma(cg_lower *L, ir_opid op); /* 0: the target has no instruction for this dot */
/* ---- lower_dot_wgmma.c: dot {wgmma = 1} as warpgroup MMA reading the operands' shared buffers ---- */
/* The wgmma accumulator's register order of a wgmma dot's result: perm[j] is the layout's element
 * that wgmma register j holds (lower_dot_wgmma.c). */
uint32_t *cg_wgmma_acc_perm(cg_lower *L, ir_opid dot);
/* The warp index as lane 0 holds it (shuffled once in the prologue: uniform for ptxas). */
LLVMValueRef cg_warp_uniform(cg_lower *L);
/* Ping-pong: the running warpgroup's turn at warpgroup MMA begins (end = 0) or ends (end = 1). */
void cg_pingpong_turn(cg_lower *L, int end);
/* wgmma.wait_group 0 on v, the loop-carried result of dot (an `inflight` wgmma dot), in place. */
void cg_wgmma_wait_carried(cg_lower *L, ir_opid dot, cg_value *v);
int cg_lower_dot_wgmma(cg_lower *L, ir_opid op);   /* 0: the dot is not marked wgmma */
int cg_wgmma_load_shared(cg_lower *L, ir_opid op); /* a wgmma operand's load_shared: nothing to load */
/* The thread's 4 registers of an A operand in mma_a<[warps,1]> (one m16 tile a warp; elements v) for
 * k16 step s, in mma.sync's m16n8k16 A-fragment order: register j is row j & 1 of the thread's two,
 * K tile 2 s + (j >> 1) (wgmma's register form takes the same fragments). */
void cg_mma_a_step_regs(cg_lower *L, const cg_lay *ya, ir_elem e, const LLVMValueRef *v, uint32_t s,
                        LLVMValueRef out[4]);
/* A tile to an mma_a/mma_b layout holding whole fragments, through scratch and ldmatrix; 0 if yd is
 * not such a layout. */
int cg_mma_convert_operand(cg_lower *L, ir_opid op, const cg_lay *ys, ir_elem e, const LLVMValueRef *src,
                           const cg_lay *yd, LLVMValueRef *out);
int cg_mma_load_shared(cg_lower *L, ir_opid op); /* load_shared into such a layout; 0 if not one */

/* ---- lower_control.c ---- */
void cg_lower_program_id(cg_lower *L, ir_opid op);
void cg_lower_for(cg_lower *L, ir_opid op);
void cg_lower_if(cg_lower *L, ir_opid op);
void cg_lower_warp_split(cg_lower *L, ir_opid op);
void cg_lower_yield(cg_lower *L, ir_opid op);
void cg_keep_loop_rolled(cg_lower *L, LLVMValueRef latch_br); /* llvm.loop.unroll.disable */

#endif
