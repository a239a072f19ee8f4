/*
 * fuzz_ir.c - libFuzzer target: IR text through the parser, the verifier and the default pass
 * pipeline (everything before codegen), for sm_80.
 *
 * Oracles besides the sanitizers:
 * 1. Text the parser accepts prints to text that parses again and prints the same (a fixed point).
 * 2. A function the verifier accepts stays valid after every pass (verify_each): "IR invalid after
 *    pass" is a compiler bug. A pass may still refuse its input with a user error (shared memory
 *    overflow, an unsupported shape): that is a clean rejection, not a finding.
 * Any oracle failure aborts with both texts on stderr, so libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/passes/pass.h"
#include "ir/ir.h"
#include "target/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *a, const char *b) {
  fprintf(stderr, "fuzz_ir: %s\n--- first\n%s\n--- second\n%s\n", what, a ? a : "(null)", b ? b : "(null)");
  abort();
}

/* Oracle 1: print, parse the print, print again; the two prints must agree. */
static void check_roundtrip(ir_func *fn) {
  char err[2048];
  char *first = ir_print(fn);
  if (!first) fail("ir_print returned NULL", "", "");
  ir_func *again = ir_parse(first, "<printed>", err, sizeof err, NULL);
  if (!again) fail("printed IR does not parse", first, err);
  char *second = ir_print(again);
  if (!second || strcmp(first, second)) fail("print(parse(print(f))) != print(f)", first, second);
  free(second);
  free(first);
  ir_func_destroy(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  char err[2048];
  ir_func *fn = ir_parse(text, "<fuzz>", err, sizeof err, NULL);
  free(text);
  if (!fn) return 0;
  check_roundtrip(fn);
  if (ir_verify(fn, err, sizeof err) == 0) {
    pass_ctx pc = {.target = tg_target_lookup("sm_80"), .verify_each = 1};
    if (pass_run_default(fn, &pc) != 0 && strstr(pc.err, "IR invalid after pass")) {
      char *now = ir_print(fn);
      fail(pc.err, now, "");
    }
  }
  ir_func_destroy(fn);
  return 0;
}
