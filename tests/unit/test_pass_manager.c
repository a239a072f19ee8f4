/*
 * test_pass_manager.c - a pass that breaks the IR is a compiler bug: pass_run (with verify_each)
 * aborts, naming the pass, the verifier's message and the file it dumped the IR to. Each case runs
 * in a forked child whose stderr comes back through a pipe; the dump goes to a scratch TMPDIR this
 * test owns. Also: the same broken pass without verify_each goes unnoticed (the check is the
 * verifier's), and a pass that refuses its input is still an ordinary error.
 * Exits non-zero if any check fails.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/passes/pass.h"
#include "ir/file.h"
#include "test.h"

/* Adds an i32 + i64: the verifier rejects it. */
static int break_ir(ir_func *fn, pass_ctx *pc) {
  ir_builder b = ir_builder_at_end(fn, fn->body);
  ir_b_binary(&b, IR_OP_ADD, ir_b_const_i(&b, ir_t_scalar(IR_I32), 1),
              ir_b_const_i(&b, ir_t_scalar(IR_I64), 2));
  return 0;
}

static int refuse(ir_func *fn, pass_ctx *pc) {
  snprintf(pc->err, sizeof pc->err, "refused");
  return -1;
}

static ir_func *load(const char *path) {
  char err[1024];
  char *text = ir_read_file(path, NULL, err, sizeof err);
  ir_func *fn = text ? ir_parse(text, path, err, sizeof err, NULL) : NULL;
  if (!fn) fprintf(stderr, "%s\n", err);
  free(text);
  return fn;
}

/* Runs pass p over fn in a child with TMPDIR=dir; returns the wait status, the child's stderr in
 * out. */
static int run_in_child(ir_func *fn, const pass_info *p, const char *dir, char *out, size_t outn) {
  int fds[2];
  if (pipe(fds)) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    setenv("TMPDIR", dir, 1);
    signal(SIGABRT, SIG_DFL);
    pass_ctx pc = {.verify_each = 1};
    int rc = pass_run(fn, &pc, p);
    _exit(rc == 0 ? 0 : 3);
  }
  close(fds[1]);
  size_t n = 0;
  for (ssize_t k; n + 1 < outn && (k = read(fds[0], out + n, outn - n - 1)) > 0;) n += (size_t)k;
  out[n] = 0;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

static void test_broken_pass_aborts(void) {
  char *dir = test_scratch_dir("pass-manager");
  ir_func *fn = load("tests/sim/empty.ir");
  CHECK(fn != NULL);
  if (!fn) return;
  pass_info broken = {"breaker", break_ir, ""};
  char out[4096];
  int st = run_in_child(fn, &broken, dir, out, sizeof out);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(out, "internal error: IR invalid after pass 'breaker': ") != NULL);
  CHECK(strstr(out, "op 'add'") != NULL);
  /* the dump: named in the message, in TMPDIR, holding the broken IR */
  char *at = strstr(out, dir);
  CHECK(at != NULL);
  if (at) {
    char path[512];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(at, "\n"), at);
    CHECK(strstr(path, "/kiln-ir-after-breaker-") && strstr(path, ".ir"));
    char err[512];
    char *dump = ir_read_file(path, NULL, err, sizeof err);
    CHECK(dump && strstr(dump, "kernel @empty") && strstr(dump, "add"));
    free(dump);
    unlink(path);
  }
  test_rmtree(dir);
  free(dir);
  ir_func_destroy(fn);
}

/* The dump cannot be written: the abort still names the pass and says so. */
static void test_dump_fails(void) {
  ir_func *fn = load("tests/sim/empty.ir");
  CHECK(fn != NULL);
  if (!fn) return;
  pass_info broken = {"breaker", break_ir, ""};
  char out[4096];
  int st = run_in_child(fn, &broken, "/nonexistent", out, sizeof out);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(out, "IR invalid after pass 'breaker'") &&
        strstr(out, "could not write the IR after 'breaker' to /nonexistent/kiln-ir-after-breaker-"));
  ir_func_destroy(fn);
}

/* Assertions and the verifier after every pass are on in every build type (CMake's KILN_ASSERTS). */
static void test_asserts_on(void) {
#ifdef NDEBUG
  CHECK(!"built with NDEBUG: assertions are off");
#endif
}

static void test_other_outcomes(void) {
  ir_func *fn = load("tests/sim/empty.ir");
  CHECK(fn != NULL);
  if (!fn) return;
  pass_info refusing = {"refusing", refuse, ""}, broken = {"breaker", break_ir, ""};
  pass_ctx pc = {.verify_each = 1};
  CHECK(pass_run(fn, &pc, &refusing) == -1 && !strcmp(pc.err, "refused")); /* a user error */
  pc.verify_each = 0;
  CHECK(pass_run(fn, &pc, &broken) == 0); /* unverified: nothing notices */
  char err[1024];
  CHECK(ir_verify(fn, err, sizeof err) != 0);
  ir_func_destroy(fn);
}

int main(void) {
  test_broken_pass_aborts();
  test_dump_fails();
  test_other_outcomes();
  test_asserts_on();
  return test_done("test_pass_manager");
}
