/*
 * ref.c - the reference table: a recipe's `reference` name to its plain C function, and what every
 * reference uses: an argument by name, a setting, the call's precision.
 */
#include "ref.h"

#include <string.h>

static const struct {
  const char *name;
  ref_fn fn;
} refs[] = {
    {"vector_add", ref_vector_add},
    {"softmax", ref_softmax},
    {"matmul", ref_matmul},
    {"attention", ref_attention},
    {"attention_decode", ref_attention_decode},
    {"attention_decode_combine", ref_attention_decode_combine},
    {"bitgemm", ref_bitgemm},
    {"bitgemm_splitk", ref_bitgemm_splitk},
    {"bitgemm_reduce", ref_bitgemm_reduce},
    {"bitpack_w", ref_bitpack_w},
    {"bitpack_act", ref_bitpack_act},
    {"w4a16", ref_w4a16},
    {"w4a16_pack", ref_w4a16_pack},
    {"w4a16_splitk", ref_w4a16_splitk},
    {"w4a16_reduce", ref_w4a16_reduce},
    {"fftconv", ref_fftconv},
    {"fftconv_kspec", ref_fftconv_kspec},
    {"fftconv3", ref_fftconv3},
    {"fftconv4", ref_fftconv4},
    {"fftconv3_kspec", ref_fftconv3_kspec},
    {"fftconv4_kspec", ref_fftconv4_kspec},
};

ref_fn ref_lookup(const char *name) {
  for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
    if (!strcmp(refs[i].name, name)) return refs[i].fn;
  return NULL;
}

int ref_find(const ref_call *c, const char *name, int is_tensor, int rank) {
  for (int i = 0; i < c->nargs; i++) {
    const kiln_ref_arg *a = &c->args[i];
    if (strcmp(a->name, name)) continue;
    if (a->is_tensor != is_tensor || (is_tensor && a->rank != rank) || (is_tensor && !c->data[i])) return -1;
    return i;
  }
  return -1;
}

const char *ref_setting(const ref_call *c, const char *name) {
  for (int i = 0; i < c->nsettings; i++)
    if (!strcmp(c->settings[i].name, name)) return c->settings[i].value;
  return NULL;
}

int ref_is_lowp(const ref_call *c) { return c->precision && strcmp(c->precision, "f64") != 0; }

double ref_round(const ref_call *c, double x) { return ref_is_lowp(c) ? c->round(c->precision, x) : x; }
