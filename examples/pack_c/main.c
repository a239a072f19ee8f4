/*
 * main.c - a C program that launches a kernel from a kiln pack with no compiler at hand: the pack
 * (`kiln pack recipes/vector_add.lua ... -o kernels.kpack --header kernels.h`), the generated header
 * and libkiln_rt. docs/packs.md walks through it.
 *
 *   ./pack_demo kernels.kpack N X Y Z
 *
 * X, Y and Z are device addresses of N floats each, from whatever allocates device memory in the
 * host program (cuMemAlloc, cudaMalloc, a framework's tensors).
 */
#include <stdio.h>
#include <stdlib.h>

#include <kiln_rt.h>

#include "kernels.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s PACK N X Y Z\n", argv[0]);
    return 2;
  }
  char err[1024];
  kiln_pack *pack = NULL;
  if (kiln_pack_open(argv[1], &pack, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int64_t n = strtoll(argv[2], NULL, 0);
  uint64_t x = strtoull(argv[3], NULL, 0), y = strtoull(argv[4], NULL, 0), z = strtoull(argv[5], NULL, 0);
  kiln_pack_plan plan;
  int k = kiln_pack_kernel_find(pack, "vector_add");
  if (k < 0 || kiln_pack_plan_get(pack, k, &n, 0, &plan, err, sizeof err)) {
    fprintf(stderr, "%s\n", k < 0 ? "no vector_add in the pack" : err);
    kiln_pack_close(pack);
    return 1;
  }
  printf("vector_add n=%lld: bucket %d (%s), grid %lld x %lld x %lld, %d threads\n", (long long)n,
         plan.variant, plan.settings, (long long)plan.grid[0], (long long)plan.grid[1],
         (long long)plan.grid[2], plan.threads);
  int rc = kiln_vector_add(pack, n, x, y, z, 0, NULL, err, sizeof err); /* device 0, default stream */
  if (rc)
    fprintf(stderr, "%s\n", err);
  else
    printf("launched\n");
  kiln_pack_close(pack);
  return rc ? 1 : 0;
}
