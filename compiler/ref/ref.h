/*
 * ref.h - plain C references for the recipes, looked up by name (a recipe's `reference` field).
 *
 * A reference gets the kernel's argument list with every tensor converted to double (inputs filled,
 * outputs to be written) and the settings; it computes in double and writes every output element.
 */
#ifndef KILN_REF_H
#define KILN_REF_H

#include "../lua/kl_recipe.h"

typedef struct {
  int nargs;
  const kl_arg *args; /* as kl_recipe_args returns them */
  double **data;      /* data[i]: tensor i, row-major contiguous over args[i].dims; NULL for scalars */
  const kl_settings *set;
} ref_call;

typedef int (*ref_fn)(const ref_call *c); /* 0 ok */

ref_fn ref_lookup(const char *name); /* NULL if unknown */

/* Index of the argument `name` if it is a tensor of that rank (is_tensor = 1) or a scalar
 * (is_tensor = 0, rank ignored); else -1. */
int ref_find(const ref_call *c, const char *name, int is_tensor, int rank);

/* The references (one file each). */
int ref_vector_add(const ref_call *c);
int ref_softmax(const ref_call *c);
int ref_matmul(const ref_call *c);
int ref_attention(const ref_call *c);
int ref_attention_decode(const ref_call *c);
int ref_attention_decode_combine(const ref_call *c);

#endif
