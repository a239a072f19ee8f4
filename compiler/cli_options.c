/*
 * cli_options.c - the one option parser of the kiln command line, driven by each command's table
 * (cli.h). Every option that takes a value takes it as the next argument or after '='; a lone "-"
 * is an input (standard input); every mistake is one line naming the argument, then the usage.
 */
#include <string.h>

#include "cli.h"

static int usage_error(const cli_spec *spec, const char *what, const char *arg) {
  fprintf(stderr, "kiln %s: %s%s%s\n", spec->command, what, arg ? " " : "", arg ? arg : "");
  if (spec->usage) spec->usage(stderr);
  return -1;
}

/* The option named by arg ("--name" or "--name=value"), or NULL. */
static const cli_option *find(const cli_spec *spec, const char *arg, const char **inline_value) {
  size_t n = strcspn(arg, "=");
  *inline_value = arg[n] ? arg + n + 1 : NULL;
  for (int i = 0; i < spec->nopts; i++)
    if (strlen(spec->opts[i].name) == n && !strncmp(spec->opts[i].name, arg, n)) return &spec->opts[i];
  return NULL;
}

/* One option at argv[*i]; advances *i past its value. */
static int take_option(const cli_spec *spec, int argc, char **argv, int *i) {
  const char *arg = argv[*i], *value;
  const cli_option *o = find(spec, arg, &value);
  if (!o || (o->kind == CLI_FLAG && value)) return usage_error(spec, "unknown option", arg);
  if (o->kind == CLI_FLAG) {
    *o->flag = 1;
    return 0;
  }
  if (o->kind == CLI_OPT) {
    *o->value = value ? value : "";
    return 0;
  }
  if (!value) {
    if (*i + 1 >= argc) return usage_error(spec, "missing value after", arg);
    value = argv[++*i];
  }
  if (o->kind == CLI_VALUE) {
    *o->value = value;
    return 0;
  }
  if (*o->count == o->max) {
    char what[64];
    snprintf(what, sizeof what, "too many %s (at most %d):", o->name, o->max);
    return usage_error(spec, what, value);
  }
  o->value[(*o->count)++] = value;
  return 0;
}

int cli_parse(const cli_spec *spec, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (spec->help && (!strcmp(arg, "--help") || !strcmp(arg, "-h")))
      *spec->help = 1;
    else if (arg[0] == '-' && arg[1]) {
      if (take_option(spec, argc, argv, &i)) return -1;
    } else if (*spec->input)
      return usage_error(spec, "unexpected argument", arg);
    else
      *spec->input = arg;
  }
  if (!*spec->input && !(spec->help && *spec->help)) return usage_error(spec, spec->no_input, NULL);
  return 0;
}

int cli_recipe_opts(const cli_spec *spec, int *argc, char **argv, kiln_recipe_opts *o) {
  kiln_session *s = kiln_session_new();
  int n = 1, rc = 0;
  for (int i = 1; i < *argc;) {
    int used = s ? kiln_recipe_opts_arg(s, o, *argc - i, argv + i) : 0;
    if (used < 0) {
      fprintf(stderr, "kiln %s: %s\n", spec->command, kiln_error(s));
      spec->usage(stderr);
      rc = -1;
      break;
    }
    if (used == 0) argv[n++] = argv[i++];
    i += used;
  }
  if (rc == 0) *argc = n;
  kiln_session_free(s);
  return rc;
}

int cli_fail(const char *command, kiln_session *s, kiln_status st) {
  if (st == KILN_ERR_INPUT || st == KILN_ERR_COMPILE)
    fprintf(stderr, "%s\n", kiln_error(s)); /* these name their file (and line) first */
  else
    fprintf(stderr, "kiln %s: %s\n", command, kiln_error(s));
  return st == KILN_ERR_USAGE ? 2 : 1;
}
