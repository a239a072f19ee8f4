/*
 * cmd_pack.c - `kiln pack`: recipes compiled for several targets and shape buckets into one pack
 * file that libkiln_rt loads without a compiler (docs/packs.md).
 *
 *   kiln pack RECIPE... --targets sm_80,sm_90a [--shapes [RECIPE:]NAME=V,...]... [--set [RECIPE:]NAME=V]...
 *             [--no-cubin] -o NAME.kpack [--header NAME.h]
 *   kiln pack --header NAME.h NAME.kpack          (the header of an existing pack)
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { MAXITEMS = 64 };

typedef struct {
  const char *recipes[MAXITEMS], *shapes[MAXITEMS], *sets[MAXITEMS], *targets[MAXITEMS];
  int nrecipes, nshapes, nsets, ntargets, no_cubin;
  const char *out, *header, *tuned;
  char target_buf[1024];
  kiln_recipe_opts ropts;
} pack_args;

static void usage(FILE *f) {
  fprintf(
      f, "usage: kiln pack RECIPE... --targets sm_XX[,sm_YY...] -o NAME.kpack [--header NAME.h]\n"
         "                 [--shapes [RECIPE:]NAME=VALUE[,NAME=VALUE...]]... [--set [RECIPE:]NAME=VALUE]...\n"
         "                 [--tuned DB] [--no-cubin] [--unsafe-recipe] [--recipe-time S] [--recipe-mem MIB]\n"
         "       kiln pack --header NAME.h NAME.kpack\n");
}

static int split_targets(pack_args *a, const char *list) {
  snprintf(a->target_buf, sizeof a->target_buf, "%s", list);
  a->ntargets = 0;
  for (char *save = NULL, *t = strtok_r(a->target_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (a->ntargets == MAXITEMS) return -1;
    a->targets[a->ntargets++] = t;
  }
  return a->ntargets ? 0 : -1;
}

/* The value of option argv[*i] ("--x V" or "--x=V"), or NULL after a message. */
static const char *value(int argc, char **argv, int *i, const char *name) {
  size_t n = strlen(name);
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (*i + 1 < argc) return argv[++*i];
  fprintf(stderr, "kiln pack: missing value after %s\n", name);
  return NULL;
}

static int is_opt(const char *arg, const char *name) {
  size_t n = strlen(name);
  return !strncmp(arg, name, n) && (arg[n] == 0 || arg[n] == '=');
}

static int add(const char **list, int *n, const char *v, const char *what) {
  if (!v) return -1;
  if (*n == MAXITEMS) return fprintf(stderr, "kiln pack: too many %s (at most %d)\n", what, MAXITEMS), -1;
  list[(*n)++] = v;
  return 0;
}

static int parse_one(pack_args *a, int argc, char **argv, int *i) {
  const char *arg = argv[*i], *v;
  if (is_opt(arg, "--targets")) {
    if (!(v = value(argc, argv, i, "--targets"))) return -1;
    if (split_targets(a, v)) return fprintf(stderr, "kiln pack: bad --targets '%s'\n", v), -1;
    return 0;
  }
  if (is_opt(arg, "--shapes"))
    return add(a->shapes, &a->nshapes, value(argc, argv, i, "--shapes"), "--shapes");
  if (is_opt(arg, "--set")) return add(a->sets, &a->nsets, value(argc, argv, i, "--set"), "--set");
  if (is_opt(arg, "-o")) return (a->out = value(argc, argv, i, "-o")) ? 0 : -1;
  if (is_opt(arg, "--header")) return (a->header = value(argc, argv, i, "--header")) ? 0 : -1;
  if (!strcmp(arg, "--no-cubin")) return a->no_cubin = 1, 0;
  if (is_opt(arg, "--tuned")) return (a->tuned = value(argc, argv, i, "--tuned")) ? 0 : -1;
  if (arg[0] == '-' && arg[1]) return fprintf(stderr, "kiln pack: unknown option %s\n", arg), -1;
  return add(a->recipes, &a->nrecipes, arg, "recipes");
}

static int parse_args(kiln_session *s, int argc, char **argv, pack_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    int used = kiln_recipe_opts_arg(s, &a->ropts, argc - i, argv + i);
    if (used < 0) return fprintf(stderr, "kiln pack: %s\n", kiln_error(s)), -1;
    if (used > 0) {
      i += used - 1;
      continue;
    }
    if (parse_one(a, argc, argv, &i)) return -1;
  }
  if (!a->nrecipes) return fprintf(stderr, "kiln pack: no recipe (or pack, with --header)\n"), -1;
  if (!a->out && !(a->header && a->nrecipes == 1))
    return fprintf(stderr, "kiln pack: no output: -o NAME.kpack\n"), -1;
  return 0;
}

static int run(kiln_session *s, pack_args *a) {
  if (!a->out) { /* kiln pack --header NAME.h NAME.kpack */
    kiln_status st = kiln_pack_header(s, a->recipes[0], a->header);
    return st == KILN_OK ? 0 : cli_fail("pack", s, st);
  }
  kiln_pack_opts o = {.recipes = a->recipes,
                      .nrecipes = a->nrecipes,
                      .targets = a->targets,
                      .ntargets = a->ntargets,
                      .shapes = a->shapes,
                      .nshapes = a->nshapes,
                      .sets = a->sets,
                      .nsets = a->nsets,
                      .no_cubin = a->no_cubin,
                      .tuned = a->tuned,
                      .ropts = &a->ropts};
  kiln_status st = kiln_pack_write(s, &o, a->out);
  if (st == KILN_OK && a->header) st = kiln_pack_header(s, a->out, a->header);
  return st == KILN_OK ? 0 : cli_fail("pack", s, st);
}

int cmd_pack(int argc, char **argv) {
  kiln_session *s = kiln_session_new();
  if (!s) return fprintf(stderr, "kiln pack: out of memory\n"), 1;
  pack_args a;
  int rc = parse_args(s, argc, argv, &a) ? (usage(stderr), 2) : run(s, &a);
  kiln_session_free(s);
  return rc;
}
