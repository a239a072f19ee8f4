/*
 * kiln_ref.h - the reference ABI: the one function signature every C reference has, built into kiln
 * (compiler/ref/) or built by a recipe's author as a shared object beside the recipe
 * (`reference = { c = "myref.so", symbol = "myref" }`, docs/recipes.md). Self-contained: an
 * out-of-tree reference includes only this header and the C library.
 *
 * `kiln run` calls a reference with the kernel's arguments as the kernel saw them: every tensor as a
 * row-major array of doubles over its dims (inputs filled, already rounded to their element types;
 * outputs NaN), every scalar as a number. The reference computes and writes every element of every
 * output ("out" and "inout" tensors); an element it leaves NaN is reported as a reference bug.
 *
 * It is called twice per check:
 *   precision "f64": the exact reference, in double;
 *   precision "f16" (or "bf16", "e4m3", ...: the narrowest float type among the kernel's tensors):
 *     the low-precision reference, a plain computation in that type: each intermediate that a
 *     plain implementation would store in the type (scores, probabilities, products' results)
 *     goes through round(precision, x); kiln rounds the outputs to their element types itself.
 * A reference that only computes exactly returns KILN_REF_EXACT_ONLY when precision is not "f64";
 * a recipe that asks for the vs_lowp criterion then fails with a message saying so.
 */
#ifndef KILN_REF_ABI_H
#define KILN_REF_ABI_H

#include <stddef.h>
#include <stdint.h>

#define KILN_REF_ABI_VERSION 1

enum { KILN_REF_OK = 0, KILN_REF_FAILED = -1, KILN_REF_EXACT_ONLY = -2 };
enum { KILN_REF_IN = 1, KILN_REF_OUT = 2, KILN_REF_INOUT = 3 };

typedef struct {
  const char *name; /* as the recipe declares it: "x", "M" */
  int is_tensor;    /* 1: a tensor; 0: a scalar */
  const char *elem; /* element type: "f16", "i32", ... */
  int rank;         /* tensors: 1 to 3 */
  int64_t dims[3];  /* tensors */
  int role;         /* tensors: KILN_REF_IN / _OUT / _INOUT */
  int64_t ival;     /* scalars of integer type */
  double fval;      /* scalars of float type */
} kiln_ref_arg;

typedef struct {
  const char *name, *value; /* "N", "781"; "dtype", "f16" */
} kiln_ref_setting;

typedef struct kiln_ref_call {
  int abi_version; /* KILN_REF_ABI_VERSION */
  int nargs;
  const kiln_ref_arg *args;
  double **data; /* data[i]: tensor i, row-major contiguous over args[i].dims; NULL for scalars */
  int nsettings;
  const kiln_ref_setting *settings;            /* every parameter and knob of the variant */
  const char *precision;                       /* "f64": exact; else the type to round intermediates to */
  double (*round)(const char *elem, double v); /* v as type elem holds it (nearest, ties to even) */
  char *err;                                   /* a reference may say why it failed: err[0..errn) */
  size_t errn;
} kiln_ref_call;

/* 0 (KILN_REF_OK), KILN_REF_FAILED (with a message in err when it can), or KILN_REF_EXACT_ONLY. */
typedef int (*kiln_ref_fn)(const kiln_ref_call *c);

#endif
