/*
 * cmd_tune.c - `kiln tune`: sweeps over a recipe's tuning space kept in a SQLite database, their
 * merge, their report, and their distribution over a Slurm cluster (kiln_tune_* in include/kiln.h;
 * docs/tuning.md).
 *
 *   kiln tune RECIPE [--set NAME=VALUE]... [--space KNOB=v1,v2,...]... [--db FILE] [--jobs N]
 *             [--budget N|TIME] [--strategy exhaustive|random] [--seed S] [--accuracy TOL]
 *             [--shard I/N] [--target sm_XX] [--sim] [--check-set NAME=VALUE]... [--no-check]
 *             [--reps N] [--warmup N] [--flush-l2] [--timeout S] [--json] [--plot FILE.svg] [--top N]
 *             [--prune-model X|off] [--check-best N|all]
 *             [--slurm N [--partition P] [--slurm-dir DIR] [--dry-run]]
 *   kiln tune merge A.db B.db ... -o ALL.db
 *   kiln tune report DB [--json] [--plot FILE.svg] [--accuracy TOL] [--top N]
 *
 * Exit status: 0 when the sweep ran (whatever the variants' statuses), 1 for an error, 2 for bad usage.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { MAXSETS = 64 };

typedef struct {
  const char *recipe, *db, *jobs, *budget, *strategy, *seed, *accuracy, *shard, *target, *reps, *warmup,
      *timeout, *plot, *top, *slurm, *partition, *slurm_dir, *prune_model, *check_best;
  const char *sets[MAXSETS], *space[MAXSETS], *check_sets[MAXSETS];
  int nsets, nspace, ncheck_sets, sim, no_check, flush_l2, json, dry_run, help;
  kiln_recipe_opts ropts;
} tune_args;

static void usage(FILE *f) {
  fprintf(f,
          "usage: kiln tune RECIPE [--set NAME=VALUE]... [--space KNOB=v1,v2,...]... [--db FILE] [--jobs N]\n"
          "                 [--budget N|TIME] [--strategy exhaustive|random] [--seed S] [--accuracy TOL]\n"
          "                 [--shard I/N] [--target sm_XX] [--sim] [--check-set NAME=VALUE]... [--no-check]\n"
          "                 [--reps N] [--warmup N] [--flush-l2] [--timeout S] [--json] [--plot FILE.svg]\n"
          "                 [--top N] [--prune-model X|off] [--check-best N|all]\n"
          "                 [--slurm N [--partition P] [--slurm-dir DIR] [--dry-run]]\n"
          "       kiln tune merge A.db B.db ... -o ALL.db\n"
          "       kiln tune report DB [--json] [--plot FILE.svg] [--accuracy TOL] [--top N]\n");
}

static int bad_value(const char *what, const char *value) {
  fprintf(stderr, "kiln tune: %s, not '%s'\n", what, value);
  usage(stderr);
  return -1;
}

static int parse_args(int argc, char **argv, tune_args *a) {
  memset(a, 0, sizeof *a);
  const cli_option opts[] = {
      {"--set", CLI_LIST, .value = a->sets, .count = &a->nsets, .max = MAXSETS},
      {"--space", CLI_LIST, .value = a->space, .count = &a->nspace, .max = MAXSETS},
      {"--check-set", CLI_LIST, .value = a->check_sets, .count = &a->ncheck_sets, .max = MAXSETS},
      {"--db", CLI_VALUE, .value = &a->db},
      {"--jobs", CLI_VALUE, .value = &a->jobs},
      {"--budget", CLI_VALUE, .value = &a->budget},
      {"--strategy", CLI_VALUE, .value = &a->strategy},
      {"--seed", CLI_VALUE, .value = &a->seed},
      {"--accuracy", CLI_VALUE, .value = &a->accuracy},
      {"--shard", CLI_VALUE, .value = &a->shard},
      {"--target", CLI_VALUE, .value = &a->target},
      {"--reps", CLI_VALUE, .value = &a->reps},
      {"--warmup", CLI_VALUE, .value = &a->warmup},
      {"--timeout", CLI_VALUE, .value = &a->timeout},
      {"--plot", CLI_VALUE, .value = &a->plot},
      {"--top", CLI_VALUE, .value = &a->top},
      {"--slurm", CLI_VALUE, .value = &a->slurm},
      {"--partition", CLI_VALUE, .value = &a->partition},
      {"--slurm-dir", CLI_VALUE, .value = &a->slurm_dir},
      {"--prune-model", CLI_VALUE, .value = &a->prune_model},
      {"--check-best", CLI_VALUE, .value = &a->check_best},
      {"--sim", CLI_FLAG, .flag = &a->sim},
      {"--no-check", CLI_FLAG, .flag = &a->no_check},
      {"--flush-l2", CLI_FLAG, .flag = &a->flush_l2},
      {"--json", CLI_FLAG, .flag = &a->json},
      {"--dry-run", CLI_FLAG, .flag = &a->dry_run},
  };
  cli_spec spec = {.command = "tune",
                   .opts = opts,
                   .nopts = sizeof opts / sizeof *opts,
                   .input = &a->recipe,
                   .no_input = "no recipe given",
                   .help = &a->help,
                   .usage = usage};
  if (cli_recipe_opts(&spec, &argc, argv, &a->ropts)) return -1;
  return cli_parse(&spec, argc, argv);
}

/* A whole number from lo up, or -1 after the message. */
static int parse_count(const char *opt, const char *s, long lo, long *out) {
  char *end, what[64];
  long v = strtol(s, &end, 10);
  snprintf(what, sizeof what, "%s wants a whole number from %ld", opt, lo);
  if (!*s || *end || v < lo) return bad_value(what, s);
  *out = v;
  return 0;
}

static int parse_real(const char *opt, const char *s, double *out) {
  char *end, what[64];
  *out = strtod(s, &end);
  snprintf(what, sizeof what, "%s wants a positive number", opt);
  return !*s || *end || !(*out > 0) || isinf(*out) ? bad_value(what, s) : 0;
}

/* --budget N (variants) or TIME: a number with s, m or h. */
static int parse_budget(const char *s, kiln_tune_opts *o) {
  char *end;
  double v = strtod(s, &end);
  double unit = !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : 0;
  if (*s && !*end && v >= 1 && v == floor(v)) return o->budget_variants = (long)v, 0;
  if (*s && unit > 0 && v > 0) return o->budget_seconds = v * unit, 0;
  return bad_value("--budget wants a count of variants or a time (30s, 5m, 1h)", s);
}

static int parse_shard(const char *s, kiln_tune_opts *o) {
  int i, n, len = 0;
  if (sscanf(s, "%d/%d%n", &i, &n, &len) != 2 || s[len] || n < 1 || i < 0 || i >= n)
    return bad_value("--shard wants I/N with 0 <= I < N", s);
  o->shard = i, o->nshards = n;
  return 0;
}

static int parse_values(const tune_args *a, kiln_tune_opts *o) {
  long v;
  o->target = a->target, o->sim = a->sim, o->no_check = a->no_check, o->flush_l2 = a->flush_l2;
  o->strategy = a->strategy, o->space = a->space, o->nspace = a->nspace;
  o->check_sets = a->check_sets, o->ncheck_sets = a->ncheck_sets;
  o->progress = isatty(2) ? KILN_TUNE_PROGRESS_TERMINAL : KILN_TUNE_PROGRESS_LINES;
  if (a->strategy && strcmp(a->strategy, "exhaustive") && strcmp(a->strategy, "random"))
    return bad_value("--strategy wants exhaustive or random", a->strategy);
  if (a->jobs && parse_count("--jobs", a->jobs, 1, &v)) return -1;
  if (a->jobs) o->jobs = (int)(v < 256 ? v : 256);
  if (a->prune_model && !strcmp(a->prune_model, "off"))
    o->prune_model = -1;
  else if (a->prune_model) {
    char *end;
    o->prune_model = strtod(a->prune_model, &end);
    if (!*a->prune_model || *end || !(o->prune_model >= 1) || isinf(o->prune_model))
      return bad_value("--prune-model wants a factor of at least 1 or off", a->prune_model);
  }
  if (a->check_best && !strcmp(a->check_best, "all"))
    o->check_best = -1;
  else if (a->check_best) {
    if (parse_count("--check-best", a->check_best, 1, &v)) return -1;
    o->check_best = (int)(v < 1000000 ? v : 1000000);
  }
  if (a->reps && parse_count("--reps", a->reps, 1, &v)) return -1;
  if (a->reps) o->reps = (int)v;
  if (a->warmup && parse_count("--warmup", a->warmup, 1, &v)) return -1;
  if (a->warmup) o->warmup = (int)v;
  if (a->seed && parse_count("--seed", a->seed, 0, &v)) return -1;
  if (a->seed) o->seed = (uint64_t)v;
  if (a->budget && parse_budget(a->budget, o)) return -1;
  if (a->shard && parse_shard(a->shard, o)) return -1;
  if (a->accuracy && parse_real("--accuracy", a->accuracy, &o->accuracy)) return -1;
  if (a->timeout && parse_real("--timeout", a->timeout, &o->variant_timeout)) return -1;
  return 0;
}

static int report(kiln_session *s, const char *db_path, int json, const char *plot, double accuracy,
                  int top) {
  kiln_tune_db *db = NULL;
  kiln_tune_report_opts ro = {.json = json, .accuracy = accuracy, .top = top};
  kiln_status st = kiln_tune_db_open(s, db_path, 0, &db);
  if (st == KILN_OK) st = kiln_tune_report(db, &ro, stdout);
  if (st == KILN_OK && plot) {
    FILE *f = fopen(plot, "w");
    if (!f) {
      kiln_tune_db_close(db);
      return fprintf(stderr, "kiln tune: cannot write %s\n", plot), 1;
    }
    st = kiln_tune_plot(db, &ro, f);
    if (fclose(f) && st == KILN_OK) st = KILN_ERR_SYSTEM;
  }
  kiln_tune_db_close(db);
  return st == KILN_OK ? 0 : cli_fail("tune", s, st);
}

/* ---- Slurm: one array task per shard, each with its own database, then a dependent merge ---- */

static void shell_word(FILE *f, const char *w) {
  fputc('\'', f);
  for (; *w; w++)
    if (*w == '\'')
      fputs("'\\''", f);
    else
      fputc(*w, f);
  fputc('\'', f);
}

/* Options that stay in the shard's command: everything but the Slurm, output and database ones. */
static int dropped(const char *arg, int *takes_value) {
  static const char *const with_value[] = {"--slurm", "--partition", "--slurm-dir", "--db",
                                           "--plot",  "--shard",     NULL};
  *takes_value = 0;
  for (int i = 0; with_value[i]; i++) {
    size_t n = strlen(with_value[i]);
    if (!strncmp(arg, with_value[i], n) && (arg[n] == 0 || arg[n] == '='))
      return *takes_value = arg[n] == 0, 1;
  }
  return !strcmp(arg, "--dry-run") || !strcmp(arg, "--json");
}

static void write_array(FILE *f, const tune_args *a, long n, const char *dir, const char *kiln, int argc,
                        char **argv) {
  char path[PATH_MAX];
  fprintf(
      f,
      "#!/bin/sh\n#SBATCH --job-name=kiln-tune\n#SBATCH --array=0-%ld\n#SBATCH --output=%s/shard-%%a.log\n",
      n - 1, dir);
  if (a->partition) fprintf(f, "#SBATCH --partition=%s\n", a->partition);
  fputs("# One shard of the sweep per array task, each in its own database (kiln tune --shard).\nexec ", f);
  shell_word(f, kiln);
  fputs(" tune", f);
  for (int i = 1; i < argc; i++) {
    int skip;
    if (dropped(argv[i], &skip)) {
      i += skip;
      continue;
    }
    fputc(' ', f);
    shell_word(f, argv[i] == a->recipe && realpath(a->recipe, path) ? path : argv[i]);
  }
  fprintf(f, " --shard \"$SLURM_ARRAY_TASK_ID/%ld\" --db \"%s/shard-$SLURM_ARRAY_TASK_ID.db\"\n", n, dir);
}

static void write_merge(FILE *f, long n, const char *dir, const char *kiln, const char *db) {
  fprintf(f, "#!/bin/sh\n#SBATCH --job-name=kiln-tune-merge\n#SBATCH --output=%s/merge.log\n", dir);
  fputs("# Runs after every shard succeeded (--dependency=afterok).\nexec ", f);
  shell_word(f, kiln);
  fputs(" tune merge", f);
  for (long i = 0; i < n; i++) fprintf(f, " '%s/shard-%ld.db'", dir, i);
  fputs(" -o ", f);
  shell_word(f, db);
  fputc('\n', f);
}

/* Runs cmd and reads the job id sbatch --parsable prints. */
static int submit(const char *cmd, char *id, size_t n) {
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  char line[256] = "";
  int ok = fgets(line, sizeof line, p) != NULL;
  int rc = pclose(p);
  line[strcspn(line, ";\n")] = 0;
  if (!ok || rc != 0 || !line[0]) return -1;
  snprintf(id, n, "%s", line);
  return 0;
}

static int write_file(const char *path, void (*fill)(FILE *, const void *), const void *ctx) {
  FILE *f = fopen(path, "w");
  if (!f) return fprintf(stderr, "kiln tune: cannot write %s\n", path), -1;
  fill(f, ctx);
  return fclose(f) ? -1 : 0;
}

typedef struct {
  const tune_args *a;
  long n;
  const char *dir, *kiln, *db;
  int argc;
  char **argv;
} slurm_job;

static void fill_array(FILE *f, const void *ctx) {
  const slurm_job *j = ctx;
  write_array(f, j->a, j->n, j->dir, j->kiln, j->argc, j->argv);
}

static void fill_merge(FILE *f, const void *ctx) {
  const slurm_job *j = ctx;
  write_merge(f, j->n, j->dir, j->kiln, j->db);
}

static int slurm(const tune_args *a, int argc, char **argv) {
  char kiln[PATH_MAX], dir[PATH_MAX], db[PATH_MAX], array[PATH_MAX + 32], merge[PATH_MAX + 32];
  char cmd[3 * PATH_MAX], id[64], mid[64];
  long n;
  if (parse_count("--slurm", a->slurm, 1, &n)) return 2;
  const char *d = a->slurm_dir ? a->slurm_dir : "kiln-tune-slurm";
  ssize_t len = readlink("/proc/self/exe", kiln, sizeof kiln - 1);
  if (len <= 0) return fprintf(stderr, "kiln tune: cannot find the kiln binary\n"), 1;
  kiln[len] = 0;
  if ((mkdir(d, 0777), !realpath(d, dir))) return fprintf(stderr, "kiln tune: cannot make %s\n", d), 1;
  const char *dbn = a->db ? a->db : "kiln-tune.db";
  if (dbn[0] == '/' || !getcwd(db, sizeof db))
    snprintf(db, sizeof db, "%s", dbn);
  else
    snprintf(db + strlen(db), sizeof db - strlen(db), "/%s", dbn);
  snprintf(array, sizeof array, "%s/array.sbatch", dir);
  snprintf(merge, sizeof merge, "%s/merge.sbatch", dir);
  slurm_job j = {a, n, dir, kiln, db, argc, argv};
  if (a->dry_run) {
    printf("# %s\n", array);
    fill_array(stdout, &j);
    printf("# %s (sbatch --dependency=afterok:ARRAY_JOB)\n", merge);
    fill_merge(stdout, &j);
    return 0;
  }
  if (write_file(array, fill_array, &j) || write_file(merge, fill_merge, &j)) return 1;
  snprintf(cmd, sizeof cmd, "sbatch --parsable '%s'", array);
  if (submit(cmd, id, sizeof id)) return fprintf(stderr, "kiln tune: sbatch refused %s\n", array), 1;
  snprintf(cmd, sizeof cmd, "sbatch --parsable --dependency=afterok:%s '%s'", id, merge);
  if (submit(cmd, mid, sizeof mid)) return fprintf(stderr, "kiln tune: sbatch refused %s\n", merge), 1;
  printf("submitted array job %s (%ld shards) and merge job %s; the merged database will be %s\n", id, n, mid,
         db);
  return 0;
}

/* ---- merge and report ---- */

static int cmd_merge(int argc, char **argv) {
  const char *in[256], *out = NULL;
  int n = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-o") && i + 1 < argc)
      out = argv[++i];
    else if (argv[i][0] == '-' && argv[i][1])
      return fprintf(stderr, "kiln tune merge: unknown option %s\n", argv[i]), usage(stderr), 2;
    else if (n == 256)
      return fprintf(stderr, "kiln tune merge: more than 256 inputs\n"), 2;
    else
      in[n++] = argv[i];
  }
  if (!out || !n) return fprintf(stderr, "kiln tune merge: needs inputs and -o OUT\n"), usage(stderr), 2;
  kiln_session *s = kiln_session_new();
  if (!s) return 1;
  kiln_status st = kiln_tune_merge(s, in, n, out);
  int rc = st == KILN_OK ? 0 : cli_fail("tune merge", s, st);
  kiln_session_free(s);
  return rc;
}

static int cmd_report(int argc, char **argv) {
  tune_args a;
  kiln_tune_opts o = {0};
  long top = 0;
  if (parse_args(argc, argv, &a) || parse_values(&a, &o) || (a.top && parse_count("--top", a.top, 1, &top)))
    return 2;
  if (a.help) return usage(stdout), 0;
  kiln_session *s = kiln_session_new();
  if (!s) return 1;
  int rc = report(s, a.recipe, a.json, a.plot, o.accuracy, (int)top);
  kiln_session_free(s);
  return rc;
}

/* ---- the sweep ---- */

static int sweep(kiln_session *s, const tune_args *a, const kiln_tune_opts *o, int top) {
  kiln_recipe *r = NULL;
  kiln_tune_db *db = NULL;
  kiln_tune_summary sum;
  const char *path = a->db ? a->db : "kiln-tune.db";
  kiln_status st = o->target ? kiln_target_check(s, o->target) : KILN_OK;
  if (st == KILN_OK) st = kiln_recipe_load_opts(s, a->recipe, &a->ropts, &r);
  for (int i = 0; st == KILN_OK && i < a->nsets; i++) st = kiln_recipe_set(r, a->sets[i]);
  if (st == KILN_OK) st = kiln_tune_db_open(s, path, 1, &db);
  if (st == KILN_OK) st = kiln_tune_run(r, db, o, &sum);
  kiln_tune_db_close(db);
  kiln_recipe_free(r);
  if (st != KILN_OK) return cli_fail("tune", s, st);
  fprintf(
      stderr,
      "kiln tune: %ld variants in the space, %ld in this shard: %ld already in %s, %ld measured (%ld ok, %ld "
      "refused, %ld spilled, %ld wrong, %ld timeout, %ld pruned)\n",
      sum.space, sum.in_shard, sum.done, path, sum.measured, sum.ok, sum.refused, sum.spilled, sum.wrong,
      sum.timeout, sum.pruned);
  fprintf(stderr,
          "kiln tune: %.1f s: %ld counted (%.1f s), %ld compiled (%.1f s), %ld checked (%.1f s) "
          "(seconds of the workers' wall time, summed)\n",
          sum.wall_s, sum.counted, sum.count_s, sum.compiled, sum.compile_s, sum.checked, sum.check_s);
  int rc = report(s, path, a->json, a->plot, o->accuracy, top);
  /* a sweep that measured variants, none of them usable, and found none before: a failure to see */
  if (!rc && sum.measured > 0 && sum.ok == 0 && sum.done == 0) {
    fprintf(
        stderr,
        "kiln tune: no variant passed: %ld measured, %ld refused, %ld spilled, %ld wrong, %ld timeout, %ld "
        "pruned (reasons in %s)\n",
        sum.measured, sum.refused, sum.spilled, sum.wrong, sum.timeout, sum.pruned, path);
    rc = 1;
  }
  return rc;
}

int cmd_tune(int argc, char **argv) {
  tune_args a;
  kiln_tune_opts o = {0};
  long top = 0;
  if (argc > 1 && !strcmp(argv[1], "merge")) return cmd_merge(argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "report")) return cmd_report(argc - 1, argv + 1);
  char **copy =
      malloc((size_t)(argc + 1) * sizeof *copy); /* cli_recipe_opts edits argv; Slurm needs it whole */
  if (!copy) return 1;
  memcpy(copy, argv, (size_t)(argc + 1) * sizeof *copy);
  if (parse_args(argc, argv, &a) || parse_values(&a, &o) || (a.top && parse_count("--top", a.top, 1, &top)))
    return free(copy), 2;
  if (a.help) return free(copy), usage(stdout), 0;
  if (a.slurm) {
    int rc = slurm(&a, argc, copy);
    return free(copy), rc;
  }
  free(copy);
  if (a.partition || a.dry_run || a.slurm_dir)
    return fprintf(stderr, "kiln tune: --partition, --slurm-dir and --dry-run go with --slurm N\n"), 2;
  kiln_session *s = kiln_session_new();
  if (!s) return 1;
  int rc = sweep(s, &a, &o, (int)top);
  kiln_session_free(s);
  return rc;
}
