/*
 * profile_print.h - the simulator's profile (sim_profile) as `kiln run --profile` prints it: a short
 * table or JSON (docs/profiling.md).
 */
#ifndef KILN_PROFILE_PRINT_H
#define KILN_PROFILE_PRINT_H

#include <stdio.h>

#include "../../sim/sim.h"

/* Splits a site "OP (FILE:LINE)" into op and line (line "" when the site has no parenthesis). */
void profile_split_site(const char *site, char *op, size_t opn, char *line, size_t linen);
/* The totals and the five ops with the most shared wavefronts per request (ties: more wavefronts,
 * then site order), after `label`. */
void profile_print_table(FILE *f, const char *label, const sim_profile *p);
/* Every counter, totals and per op, as one JSON object on one line, with `label`. */
void profile_print_json(FILE *f, const char *label, const sim_profile *p);

#endif
