/*
 * cli.h - the kiln command line: one subcommand per file (cmd_compile.c, cmd_opt.c, cmd_run.c,
 * cmd_inspect.c), all clients of the public API (include/kiln.h) and of nothing deeper, and the one option
 * parser they share (cli_options.c).
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stdio.h>

#include "../include/kiln.h"

int cmd_compile(int argc, char **argv);
int cmd_opt(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_pack(int argc, char **argv);

/* ---- options: each command describes its options in a table, cli_parse fills them in ---- */

typedef enum {
  CLI_FLAG,  /* --name: *flag = 1 */
  CLI_VALUE, /* --name VALUE or --name=VALUE: *value = VALUE (the last one given wins) */
  CLI_LIST,  /* --name VALUE, repeatable: appended to list[*count], at most max */
  CLI_OPT,   /* --name: *value = ""; --name=VALUE: *value = VALUE (never takes the next argument) */
} cli_kind;

typedef struct {
  const char *name; /* "--target", "-o" */
  cli_kind kind;
  int *flag;          /* CLI_FLAG */
  const char **value; /* CLI_VALUE, CLI_OPT: where the value goes; CLI_LIST: the array */
  int *count, max;    /* CLI_LIST */
} cli_option;

typedef struct {
  const char *command;    /* "run": messages begin "kiln run: " */
  const cli_option *opts; /* the table */
  int nopts;
  const char **input;       /* the one positional argument ("-" counts as one) */
  const char *no_input;     /* the message when it is missing */
  int *help;                /* non-NULL: --help and -h set it and the input may be missing */
  void (*usage)(FILE *out); /* printed after every usage error */
} cli_spec;

/* Parses argv[1 .. argc-1] by spec. Returns 0, or -1 after printing one line "kiln CMD: unknown option
 * X" / "missing value after X" / "unexpected argument X" / "too many X (at most N)" / the no_input
 * text, and the usage, on stderr: the caller exits with 2. */
int cli_parse(const cli_spec *spec, int argc, char **argv);

/* Takes the recipe options (--unsafe-recipe, --recipe-time, --recipe-mem: kiln_recipe_opts_arg) out of
 * argv into o, leaving the rest in argv (argc updated). -1 after printing "kiln CMD: MESSAGE" and
 * the usage for a bad value: the caller exits with 2. */
int cli_recipe_opts(const cli_spec *spec, int *argc, char **argv, kiln_recipe_opts *o);

/* Reports a failed API call on stderr: input and compile errors as they are (they begin with their
 * file), the others as "kiln CMD: MESSAGE". Returns the exit status for st (2 for KILN_ERR_USAGE,
 * else 1). */
int cli_fail(const char *command, kiln_session *s, kiln_status st);

#endif
