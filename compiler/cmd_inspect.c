/*
 * cmd_inspect.c - `kiln inspect`: what a compiled kernel costs on one target without running it.
 *
 *   kiln inspect RECIPE|FILE.ir --target sm_XX [--set NAME=VALUE ...] [--no-sass] [--no-cache]
 *                [--model [--samples N]]
 *
 * Prints ptxas -v's registers, stack and spills, the shared memory (static and the launch's dynamic
 * bytes), the occupancy per SM by each limit and which binds, and, when a disassembler is found
 * (kiln_sass_tool), the innermost SASS loop holding matrix instructions: its instructions by class
 * and the non-MMA instructions per MMA. Without ptxas: one line naming where it looked, exit 1.
 * Given a cubin (FILE.cubin, from kiln or any other compiler) or SASS text (FILE.sass), it prints the
 * SASS part alone: the same loop summary, for comparing kernels compiled elsewhere.
 * --model adds the roofline model's estimate for the recipe's launch (kiln_model_estimate: N sampled
 * programs on the simulator, scaled to the grid), labelled as a model with its assumptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { MAXSETS = 64 };

static void usage(FILE *f) {
  fprintf(
      f, "usage: kiln inspect RECIPE|FILE.ir --target sm_XX [--set NAME=VALUE ...] [--no-sass] [--no-cache]\n"
         "                    [--specialize] [--model [--samples N]] [--unsafe-recipe] [--recipe-time S] "
         "[--recipe-mem MIB]\n");
}

static void print_sass(const char *tool, const kiln_sass_loop *l) {
  printf("sass (%s): %d instructions, %d MMA\n", tool, l->kernel_instructions, l->kernel_mma);
  if (!l->found) {
    printf("  no loop holds matrix instructions\n");
    return;
  }
  printf("  MMA loop /*%04x*/../*%04x*/: %d instructions per iteration:", l->start, l->end, l->instructions);
  for (int c = 0; c < KILN_SASS_NCLASS; c++)
    if (l->by_class[c]) printf(" %s %d", kiln_sass_class_name(c), l->by_class[c]);
  printf("\n  non-MMA instructions per MMA: %.2f\n", l->non_mma_per_mma);
  if (l->mma_units != l->by_class[KILN_SASS_MMA]) /* warpgroup MMAs: the count per unit of work too */
    printf("  non-MMA instructions per m16n8 MMA of work: %.2f (a warpgroup MMA .64xN counts N/8)\n",
           l->non_mma_per_unit);
  if (l->elected) /* an elected lane's block (bulk copies): what the other warps run */
    printf("  of them run by one elected lane only: %d; the other warps: %.2f per m16n8 MMA of work\n",
           l->elected, l->others_per_unit);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* kiln inspect FILE.cubin|FILE.sass: the loop summary of SASS compiled elsewhere. */
static int inspect_sass(const char *input) {
  kiln_session *s = kiln_session_new();
  if (!s) return fprintf(stderr, "kiln inspect: out of memory\n"), 1;
  char *text = NULL;
  int cubin = ends_with(input, ".cubin");
  kiln_status st = cubin ? kiln_sass_disassemble(s, input, &text) : kiln_read_file(s, input, &text);
  kiln_sass_loop loop;
  int rc = st == KILN_OK ? 0 : cli_fail("inspect", s, st);
  if (st == KILN_OK && (st = kiln_sass_loop_find(s, text, &loop)) != KILN_OK) {
    fprintf(stderr, "%s: %s\n", input, kiln_error(s)); /* the file, then what is wrong with its text */
    rc = 1;
  }
  if (st == KILN_OK) print_sass(cubin ? kiln_sass_tool() : input, &loop);
  kiln_free(text);
  kiln_session_free(s);
  return rc;
}

static void print_result(const kiln_inspect_result *r) {
  printf("kernel %s on %s: %d threads per block\n", r->kernel, r->target, r->threads);
  printf("registers: %d per thread\n", r->registers);
  printf("stack: %d bytes frame, %d bytes spill stores, %d bytes spill loads\n", r->stack_bytes,
         r->spill_store_bytes, r->spill_load_bytes);
  printf("shared memory: %d bytes static + %d bytes dynamic = %d bytes per block (+%d reserved)\n",
         r->static_shared_bytes, r->dynamic_shared_bytes, r->static_shared_bytes + r->dynamic_shared_bytes,
         r->smem_reserved);
  const kiln_occupancy *o = &r->occ;
  printf("occupancy (per SM: %d registers, %d bytes shared, %d threads, %d blocks):\n", r->regs_per_sm,
         r->smem_per_sm, r->max_threads_per_sm, r->max_blocks_per_sm);
  printf("  blocks by registers %d, by shared memory %d, by threads %d, by block slots %d\n", o->by_regs,
         o->by_smem, o->by_threads, o->by_slots);
  printf("  %d blocks per SM, limited by %s: %d of %d warps (%.0f%%)\n", o->blocks, o->limit, o->warps,
         o->max_warps, o->max_warps ? 100.0 * o->warps / o->max_warps : 0.0);
  if (!r->have_sass) {
    printf("sass: unavailable: %s\n", r->sass_tool);
    return;
  }
  print_sass(r->sass_tool, &r->loop);
}

static void print_model(const kiln_model_work *w, const kiln_model_result *m) {
  printf("model (%s):\n", m->assumptions);
  printf("  work: %.0f blocks, %.4g tensor ops (16-bit %.4g, 8-bit %.4g, 1-bit %.4g; by wgmma %.4g), %.4g "
         "shared "
         "wavefronts, %.4g DRAM bytes, %.4g warp instructions\n",
         w->blocks, w->mma_ops16 + w->mma_ops8 + w->mma_ops1, w->mma_ops16, w->mma_ops8, w->mma_ops1,
         w->wgmma_ops16 + w->wgmma_ops8, w->smem_wavefronts, w->dram_bytes, w->warp_instructions);
  printf(
      "  waves %.2f (efficiency %.2f); tensor %.2f us, shared memory %.2f us, DRAM %.2f us, issue %.2f us\n",
      m->waves, m->wave_eff, m->tensor_s * 1e6, m->smem_s * 1e6, m->dram_s * 1e6, m->issue_s * 1e6);
  printf("  estimate: %.2f us, %s-bound", m->time_s * 1e6, m->bound);
  if (m->tensor_tflops > 0) printf(", %.1f tensor TFLOP/s", m->tensor_tflops);
  printf(" (model)\n");
}

/* --samples: 1 .. 4096. */
static int parse_samples(const char *text, int *out) {
  char *end;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 1 || v > 4096) {
    fprintf(stderr, "kiln inspect: --samples needs a whole number from 1 to 4096, got '%s'\n", text);
    return -1;
  }
  *out = (int)v;
  return 0;
}

int cmd_inspect(int argc, char **argv) {
  const char *input = NULL, *target = NULL, *sets[MAXSETS];
  const char *samples_text = NULL;
  int nsets = 0, no_sass = 0, no_cache = 0, help = 0, model = 0, samples = 0, specialize = 0;
  kiln_recipe_opts ropts = {0};
  const cli_option opts[] = {
      {"--target", CLI_VALUE, .value = &target},
      {"--set", CLI_LIST, .value = sets, .count = &nsets, .max = MAXSETS},
      {"--no-sass", CLI_FLAG, .flag = &no_sass},
      {"--no-cache", CLI_FLAG, .flag = &no_cache},
      {"--specialize", CLI_FLAG, .flag = &specialize},
      {"--model", CLI_FLAG, .flag = &model},
      {"--samples", CLI_VALUE, .value = &samples_text},
  };
  cli_spec spec = {.command = "inspect",
                   .opts = opts,
                   .nopts = sizeof opts / sizeof *opts,
                   .input = &input,
                   .no_input = "no input",
                   .help = &help,
                   .usage = usage};
  if (cli_recipe_opts(&spec, &argc, argv, &ropts) || cli_parse(&spec, argc, argv)) return 2;
  if (help) return usage(stdout), 0;
  if (samples_text && (parse_samples(samples_text, &samples) || !model)) {
    if (!model) fprintf(stderr, "kiln inspect: --samples goes with --model\n");
    return 2;
  }
  if (ends_with(input, ".cubin") || ends_with(input, ".sass")) {
    if (target || nsets || model || no_cache || no_sass || specialize) {
      fprintf(stderr,
              "kiln inspect: %s is compiled already: --target, --set, --model, --no-sass, --no-cache and "
              "--specialize do not apply\n",
              input);
      return 2;
    }
    return inspect_sass(input);
  }
  kiln_session *s = kiln_session_new();
  if (!s) return fprintf(stderr, "kiln inspect: out of memory\n"), 1;
  kiln_recipe *r = NULL;
  kiln_status st = target ? kiln_target_check(s, target) : KILN_OK;
  if (st == KILN_OK) st = kiln_recipe_load_opts(s, input, &ropts, &r);
  for (int i = 0; st == KILN_OK && i < nsets; i++) st = kiln_recipe_set(r, sets[i]);
  kiln_inspect_opts io = {
      .target = target, .no_cache = no_cache, .no_sass = no_sass, .specialize = specialize};
  kiln_inspect_result res;
  if (st == KILN_OK) st = kiln_inspect(r, &io, &res);
  if (st == KILN_OK) print_result(&res);
  kiln_model_work work;
  kiln_model_result mres;
  kiln_model_opts mo = {.target = target, .samples = samples, .no_cache = no_cache};
  if (st == KILN_OK && model && (st = kiln_model_estimate(r, &mo, &work, &mres)) == KILN_OK)
    print_model(&work, &mres);
  int rc = st == KILN_OK ? 0 : cli_fail("inspect", s, st);
  kiln_recipe_free(r);
  kiln_session_free(s);
  return rc;
}
