/*
 * tune_model.c - the time the tuner ranks by where no GPU is present: the roofline model's estimate
 * from the work counted on the tile IR (kiln_model_static) with the SASS MMA loop's issue bound; where
 * the count cannot follow the IR (a loop bound known only at launch), the sampled programs on the
 * simulator (kiln_model_estimate). Every figure from here is labelled "model" in the database and the
 * reports.
 */
#include <stdio.h>

#include "tune.h"

int tune_model_time(kiln_recipe *r, const char *target, const kiln_sass_loop *loop, double *time_s, char *err,
                    size_t errn) {
  kiln_model_result res;
  if (kiln_model_static(r, target, loop, NULL, NULL, &res) != KILN_OK)
    return snprintf(err, errn, "the model: %s", kiln_error(r->s)), -1;
  if (!res.bound) {
    kiln_model_opts o = {.target = target};
    if (kiln_model_estimate(r, &o, NULL, &res) != KILN_OK)
      return snprintf(err, errn, "the model: %s", kiln_error(r->s)), -1;
  }
  *time_s = res.time_s;
  return 0;
}
