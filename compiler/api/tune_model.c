/*
 * tune_model.c - the time the tuner ranks by where no GPU is present: the roofline model's estimate
 * (kiln_model_estimate: sampled programs on the simulator, scaled to the grid, against the target's
 * reference part). Every figure from here is labelled "model" in the database and the reports.
 */
#include <stdio.h>

#include "tune.h"

int tune_model_time(kiln_recipe *r, const char *target, double *time_s, char *err, size_t errn) {
  kiln_model_opts o = {.target = target};
  kiln_model_result res;
  if (kiln_model_estimate(r, &o, NULL, &res) != KILN_OK)
    return snprintf(err, errn, "the model: %s", kiln_error(r->s)), -1;
  *time_s = res.time_s;
  return 0;
}
