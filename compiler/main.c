/*
 * main.c - the kiln command line: dispatches to one subcommand per file. Like every file of the
 * command line it uses the public API (include/kiln.h) only.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* `kiln targets [-v]`: the target table, one row per line (names only unless -v). */
static int cmd_targets(int argc, char **argv) {
  int verbose = argc > 1 && !strcmp(argv[1], "-v");
  kiln_target_info t;
  for (int i = 0; kiln_target_get(i, &t) == KILN_OK; i++) {
    if (!verbose)
      printf("%s\n", t.name);
    else
      printf("%-8s smem %6d B  regs %3d  %s\n", t.name, t.smem_per_block, t.regs_per_thread, t.features);
  }
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: kiln <command> [options]\n"
          "  compile RECIPE|FILE.ir --target sm_XX [--set NAME=VALUE ...] [--emit "
          "ir|ir-opt|llvm|ptx|cubin|launch|sass]\n"
          "          [-o FILE] [--print-after-all] [--verify-each] [--no-cache] [-v]\n"
          "  opt FILE.ir [--pass NAME ...] [--print-after-all] [--split-input-file] [--verify-diagnostics]\n"
          "          [--target sm_XX]\n"
          "  run RECIPE [--set NAME=VALUE ...] [--sim] [--target sm_XX] [--check-all] [--reps N] [--seed S]\n"
          "          [--tol X] [--no-check] [--profile[=json]]\n"
          "  inspect RECIPE --target sm_XX [--set NAME=VALUE ...] [--no-sass] [--no-cache]\n"
          "  (compile, run and inspect also take [--unsafe-recipe] [--recipe-time S] [--recipe-mem MIB]: "
          "docs/recipes.md)\n"
          "  tune RECIPE [--set NAME=VALUE ...] [--space KNOB=v1,v2,...] [--db FILE] [--jobs N] [--budget "
          "N|TIME]\n"
          "          [--shard I/N] [--accuracy TOL] [--slurm N] ... (kiln tune --help; merge, report: "
          "docs/tuning.md)\n"
          "  pack RECIPE... --targets sm_XX[,sm_YY...] -o NAME.kpack [--header NAME.h] [--shapes ...] [--set "
          "...]\n"
          "  targets [-v]\n"
          "  version\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "compile")) return cmd_compile(argc - 1, argv + 1);
  if (!strcmp(cmd, "opt")) return cmd_opt(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 1, argv + 1);
  if (!strcmp(cmd, "tune")) return cmd_tune(argc - 1, argv + 1);
  if (!strcmp(cmd, "pack")) return cmd_pack(argc - 1, argv + 1);
  if (!strcmp(cmd, "targets")) return cmd_targets(argc - 1, argv + 1);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("kiln %s\n", kiln_version());
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "kiln: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
