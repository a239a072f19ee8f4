/*
 * cmd_opt.c - `kiln opt`: IR text in, passes, IR text out. The test interface for the IR, the
 * verifier and every pass (tests/lit).
 *
 *   kiln opt FILE.ir|- [--pass NAME]... [--print-after-all] [--split-input-file]
 *                      [--verify-diagnostics] [--target sm_XX]
 *
 * 1. Read the input; with --split-input-file cut it into chunks at lines `// -----`.
 * 2. For each chunk, parse every kernel in it, verify it, run the named passes in order (each pass
 *    is verified after it runs), print the result to stdout (kiln_opt in include/kiln.h). Chunks are
 * separated by `// -----` in the output; an error in one chunk is reported and the next chunk still runs.
 * 3. With --verify-diagnostics, a comment `// expected-error {{text}}` states that the chunk must
 *    fail with a message whose first line contains text and names the comment's line
 *    (`expected-error@+N`, `@-N`, `@N` name another line, `@*` any line). The exit status is 0 iff
 *    every chunk met its expectations; a chunk without any must succeed.
 *
 * Chunks are parsed with their lines and columns as in the whole file, so every message names the
 * place in the file the user wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { MAXPASSES = 64, MAXEXPECT = 32 };

typedef struct {
  const char *file, *display; /* path ("-" for stdin), the name used in messages */
  const char *passes[MAXPASSES];
  int npasses;
  int print_after_all, split, diagnostics, help;
  const char *target;
} opt_opts;

typedef struct {
  int line; /* 0: any line */
  int src_line;
  char text[256];
} expectation;

static void list_passes(FILE *f) {
  for (int i = 0; kiln_pass_name(i); i++) fprintf(f, "  %-14s %s\n", kiln_pass_name(i), kiln_pass_help(i));
}

static void usage(FILE *f) {
  fprintf(f, "usage: kiln opt FILE.ir|- [--pass NAME]... [--print-after-all] [--split-input-file]\n"
             "                [--verify-diagnostics] [--target sm_XX]\n"
             "  --print-after-all prints the IR after each pass to stderr\n"
             "passes:\n");
  list_passes(f);
}

/* ---- options ---- */

static int check_passes(const opt_opts *o) {
  for (int i = 0; i < o->npasses; i++) {
    int known = 0;
    for (int k = 0; kiln_pass_name(k); k++) known |= !strcmp(kiln_pass_name(k), o->passes[i]);
    if (known) continue;
    fprintf(stderr, "kiln opt: unknown pass '%s'; the passes are:\n", o->passes[i]);
    list_passes(stderr);
    return -1;
  }
  return 0;
}

/* Returns 0, or 2 after printing a usage error. */
static int parse_args(opt_opts *o, int argc, char **argv) {
  const cli_option opts[] = {
      {"--pass", CLI_LIST, .value = o->passes, .count = &o->npasses, .max = MAXPASSES},
      {"--target", CLI_VALUE, .value = &o->target},
      {"--print-after-all", CLI_FLAG, .flag = &o->print_after_all},
      {"--split-input-file", CLI_FLAG, .flag = &o->split},
      {"--verify-diagnostics", CLI_FLAG, .flag = &o->diagnostics},
  };
  cli_spec spec = {.command = "opt",
                   .opts = opts,
                   .nopts = sizeof opts / sizeof *opts,
                   .input = &o->file,
                   .no_input = "no input file (use - for stdin)",
                   .help = &o->help,
                   .usage = usage};
  if (cli_parse(&spec, argc, argv)) return 2;
  if (o->help) return 0;
  if (check_passes(o)) return 2;
  o->display = strcmp(o->file, "-") ? o->file : "<stdin>";
  return 0;
}

/* ---- chunks ---- */

static int is_separator(const char *line, size_t len) {
  while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
  return len == 8 && !memcmp(line, "// -----", 8);
}

/* The chunk [s, e) of text as its own string, preceded by newlines so that its line numbers are
 * those of the whole file. */
static char *chunk_text(const char *text, size_t s, size_t e, int first_line) {
  char *c = malloc((size_t)first_line + (e - s) + 1);
  if (!c) abort();
  memset(c, '\n', (size_t)first_line - 1);
  memcpy(c + first_line - 1, text + s, e - s);
  c[first_line - 1 + (e - s)] = 0;
  return c;
}

/* ---- running one chunk ---- */

/* Runs the passes over every kernel of the chunk and prints them. Returns 0, or -1 with the first
 * error in err. Output for kernels before the error is printed. */
static int run_chunk(kiln_session *s, const char *text, const opt_opts *o, char *err, size_t errn) {
  kiln_opt_opts ko = {.target = o->target,
                      .passes = o->passes,
                      .npasses = o->npasses,
                      .print_after_all = o->print_after_all ? stderr : NULL};
  char *out = NULL;
  kiln_status st = kiln_opt(s, text, o->display, &ko, &out);
  if (out) fputs(out, stdout);
  kiln_free(out);
  if (st != KILN_OK) snprintf(err, errn, "%s", kiln_error(s));
  return st == KILN_OK ? 0 : -1;
}

/* ---- --verify-diagnostics ---- */

/* Reads "expected-error[@(+N|-N|N|*)] {{text}}" at p (just after "expected-error") on line `line`.
 * Without '@' the error must be reported on the comment's own line; '@*' accepts any line. */
static int parse_expectation(const char *p, int line, expectation *x, const char *display) {
  x->line = line;
  x->src_line = line;
  if (p[0] == '@' && p[1] == '*') {
    x->line = 0;
    p += 2;
  } else if (*p == '@') {
    char *endp;
    long n = strtol(p + 1, &endp, 10);
    if (endp == p + 1) {
      fprintf(stderr, "%s:%d: expected a line (+N, -N, N or *) after 'expected-error@'\n", display, line);
      return -1;
    }
    x->line = (p[1] == '+' || p[1] == '-') ? line + (int)n : (int)n;
    p = endp;
  }
  p += strspn(p, " \t");
  const char *close = strncmp(p, "{{", 2) ? NULL : strstr(p + 2, "}}");
  const char *eol = strchr(p, '\n');
  if (!close || (eol && close > eol)) {
    fprintf(stderr, "%s:%d: expected '{{text}}' after 'expected-error'\n", display, line);
    return -1;
  }
  snprintf(x->text, sizeof x->text, "%.*s", (int)(close - p - 2), p + 2);
  return 0;
}

/* Collects the expectations in the chunk text (whole-file line numbers). Returns the count or -1. */
static int collect_expectations(const char *text, expectation *xs, const char *display) {
  int n = 0, line = 1;
  for (const char *p = text; *p; p++) {
    if (*p == '\n')
      line++;
    else if (!strncmp(p, "expected-error", 14)) {
      if (n == MAXEXPECT) {
        fprintf(stderr, "%s:%d: more than %d expected errors in one chunk\n", display, line, MAXEXPECT);
        return -1;
      }
      if (parse_expectation(p + 14, line, &xs[n++], display)) return -1;
      p += 13;
    }
  }
  return n;
}

/* The line the message names ("DISPLAY:LINE:"), or 0. */
static int message_line(const char *msg, const char *display) {
  size_t n = strlen(display);
  for (const char *p = strstr(msg, display); p; p = strstr(p + 1, display))
    if (p[n] == ':' && p[n + 1] >= '0' && p[n + 1] <= '9') return atoi(p + n + 1);
  return 0;
}

/* Compares the chunk's outcome with its expectations; reports each mismatch. Returns 0 if all met. */
static int check_expectations(const expectation *xs, int n, int rc, const char *msg, const char *display) {
  if (n == 0 && rc) {
    fprintf(stderr, "%s\n%s: unexpected error (no expected-error in this chunk)\n", msg, display);
    return -1;
  }
  int bad = 0, got = message_line(msg, display);
  char first[2048]; /* the message's first line: a parse error's echo of the source line would hold
                       the expectation's own text */
  snprintf(first, sizeof first, "%.*s", (int)strcspn(msg, "\n"), msg);
  for (int i = 0; i < n; i++) {
    const expectation *x = &xs[i];
    if (rc == 0)
      fprintf(stderr, "%s:%d: expected error \"%s\" was not produced\n", display, x->src_line, x->text);
    else if (!strstr(first, x->text))
      fprintf(stderr, "%s:%d: expected error \"%s\", got:\n%s\n", display, x->src_line, x->text, msg);
    else if (x->line && x->line != got)
      fprintf(stderr, "%s:%d: expected error \"%s\" on line %d, but it names %s:\n%s\n", display, x->src_line,
              x->text, x->line, got ? "another line" : "no line", msg);
    else
      continue;
    bad = 1;
  }
  return bad ? -1 : 0;
}

/* ---- driver ---- */

static int run_one(kiln_session *ks, const char *text, size_t s, size_t e, int first_line,
                   const opt_opts *o) {
  char *chunk = chunk_text(text, s, e, first_line);
  expectation xs[MAXEXPECT];
  int nx = o->diagnostics ? collect_expectations(chunk, xs, o->display) : 0;
  char err[2048] = "";
  int rc = nx < 0 ? -1 : run_chunk(ks, chunk, o, err, sizeof err);
  free(chunk);
  fflush(stdout);
  if (nx < 0) return -1;
  if (o->diagnostics) return check_expectations(xs, nx, rc, err, o->display);
  if (rc) fprintf(stderr, "%s\n", err);
  return rc;
}

int cmd_opt(int argc, char **argv) {
  opt_opts o = {0};
  if (parse_args(&o, argc, argv)) return 2;
  if (o.help) {
    usage(stdout);
    return 0;
  }
  kiln_session *ks = kiln_session_new();
  if (!ks) return fprintf(stderr, "kiln opt: out of memory\n"), 1;
  char *text = NULL;
  kiln_status st = o.target ? kiln_target_check(ks, o.target) : KILN_OK;
  if (st == KILN_OK) st = kiln_read_file(ks, o.file, &text);
  if (st != KILN_OK) {
    int rc = cli_fail("opt", ks, st);
    kiln_session_free(ks);
    return rc;
  }
  int failed = 0, line = 1, first_line = 1, nchunk = 0;
  size_t start = 0;
  for (size_t p = 0;; line++) {
    size_t eol = p + strcspn(text + p, "\n");
    int last = !text[eol];
    if (last || (o.split && is_separator(text + p, eol - p))) {
      if (nchunk++) printf("// -----\n");
      failed |= run_one(ks, text, start, last ? eol : p, first_line, &o) != 0;
      if (last) break;
      start = eol + 1;
      first_line = line + 1;
    }
    p = eol + 1;
  }
  kiln_free(text);
  kiln_session_free(ks);
  return failed ? 1 : 0;
}
