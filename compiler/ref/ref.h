/*
 * ref.h - the C references built into kiln, looked up by name (a recipe's `reference = "NAME"`), and
 * the running of any recipe's reference: built in, a Lua function in the recipe, or a C function in
 * a shared object beside the recipe (ref_run.c).
 *
 * Every C reference has the signature of include/kiln_ref.h: it gets the kernel's argument list with
 * every tensor converted to double (inputs filled, outputs to be written), the settings and a
 * precision ("f64": exact; otherwise round intermediates to that type with ref_round); it writes
 * every output element.
 */
#ifndef KILN_REF_H
#define KILN_REF_H

#include "../../include/kiln_ref.h"

#include "../lua/kl_recipe.h"

typedef kiln_ref_call ref_call;
typedef kiln_ref_fn ref_fn;

ref_fn ref_lookup(const char *name); /* NULL if unknown */

/* Index of the argument `name` if it is a tensor of that rank (is_tensor = 1) or a scalar
 * (is_tensor = 0, rank ignored); else -1. */
int ref_find(const ref_call *c, const char *name, int is_tensor, int rank);

/* Element i of tensor argument a, named for a message: "y[3,17] (element 2360)". */
void ref_name_element(const kl_arg *a, size_t i, char *buf, size_t n);
/* The setting `name` as text, or NULL. */
const char *ref_setting(const ref_call *c, const char *name);
/* x as the call's precision holds it: x itself when exact ("f64"). */
double ref_round(const ref_call *c, double x);
/* Is this the low-precision run? */
int ref_is_lowp(const ref_call *c);

/* ---- running a recipe's reference (ref_run.c) ---- */

typedef struct {
  int nargs;
  const kl_arg *args; /* as kl_recipe_args returns them */
  double **data;      /* data[i]: tensor i, inputs filled; outputs are overwritten */
  const kl_settings *set;
  ir_elem precision; /* IR_F64: exact; else the low-precision reference in that type */
  double (*round)(const char *elem, double v); /* v as type elem holds it */
} ref_job;

enum { REF_OK = 0, REF_FAILED = -1, REF_EXACT_ONLY = -2 };

/* Runs the reference the recipe declares (built-in name, Lua function or shared object) on job:
 * outputs start as NaN and must all be written; the low-precision run's outputs are rounded to their
 * element types. REF_OK; REF_EXACT_ONLY when the reference does not do precision; REF_FAILED with
 * one line in err naming the recipe and the reference (an unwritten element included). */
int ref_run(kl_recipe *r, const ref_job *job, char *err, size_t errn);
/* "reference 'softmax'", "Lua reference (recipes/x.lua:12)", "reference myref in ./myref.so" */
void ref_describe(kl_recipe *r, char *buf, size_t n);

/* The references (one file each). */
int ref_vector_add(const ref_call *c);
int ref_softmax(const ref_call *c);
int ref_matmul(const ref_call *c);
int ref_attention(const ref_call *c);
int ref_attention_decode(const ref_call *c);
int ref_attention_decode_combine(const ref_call *c);
int ref_bitgemm(const ref_call *c);
int ref_bitgemm_splitk(const ref_call *c);
int ref_bitgemm_reduce(const ref_call *c);
int ref_bitpack_w(const ref_call *c);
int ref_bitpack_act(const ref_call *c);
int ref_w4a16(const ref_call *c);
int ref_w4a16_pack(const ref_call *c);
int ref_w4a16_splitk(const ref_call *c);
int ref_w4a16_reduce(const ref_call *c);
/* The code of element (k, col) in w4a16's packed words wq [., n] (ref_w4a16.c). */
int64_t w4a16_code(const double *wq, int64_t kq, int64_t col, int64_t k, int bits, int bkw);
int ref_fftconv(const ref_call *c);
int ref_fftconv_kspec(const ref_call *c);
int ref_fftconv3_kspec(const ref_call *c);
int ref_fftconv4_kspec(const ref_call *c);
int ref_fftconv3(const ref_call *c);
int ref_fftconv4(const ref_call *c);

#endif
