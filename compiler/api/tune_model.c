/*
 * tune_model.c - the time the tuner ranks by where no GPU is present. Every figure from here is
 * labelled "model" in the database and the reports.
 *
 * PLACEHOLDER until the roofline model (kiln_model_estimate) is in the tree: the score is waves of
 * programs (the grid over PLACEHOLDER_SMS multiprocessors times the blocks one holds by the
 * occupancy calculation) times the kernel's static PTX instruction count, at one nanosecond per
 * instruction. It orders variants by how many rounds of work the machine needs and how long each
 * program's code is; it knows nothing of memory traffic or tensor-core rates.
 */
#include <math.h>
#include <string.h>

#include "tune.h"

enum { PLACEHOLDER_SMS = 108 };

/* Statements in PTX text: lines that end in ';' outside declarations. */
static long ptx_instructions(const char *ptx) {
  long n = 0;
  for (const char *line = ptx; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\r')) len--;
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (len && line[len - 1] == ';' && *p != '.' && *p != '/') n++;
    line = end ? end + 1 : NULL;
  }
  return n;
}

static int tune_placeholder_score(kiln_recipe *r, const kiln_inspect_result *res, const char *ptx, double *t,
                                  char *err, size_t errn) {
  int64_t grid[3];
  if (kl_recipe_grid(r->lua, &r->set, grid, err, errn)) return -1;
  double programs = (double)grid[0] * (double)grid[1] * (double)grid[2];
  int per_sm = res && res->occ.blocks > 0 ? res->occ.blocks : 1;
  double waves = ceil(programs / ((double)PLACEHOLDER_SMS * per_sm));
  *t = waves * (double)ptx_instructions(ptx) * 1e-9;
  return 0;
}

int tune_model_time(kiln_recipe *r, const char *target, const kiln_inspect_result *res, const char *ptx,
                    double *time_s, char *err, size_t errn) {
  (void)target;
  return tune_placeholder_score(r, res, ptx, time_s, err, errn);
}
