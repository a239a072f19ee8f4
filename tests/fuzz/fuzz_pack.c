/*
 * fuzz_pack.c - libFuzzer target: bytes through the pack loader (runtime/pack_*.c), the part of
 * libkiln_rt that reads files other programs hand it.
 *
 * Each input is written to a file and opened with kiln_pack_open. Inputs of even length first get
 * their checksums recomputed where the section table allows it, so that mutations reach the
 * manifest parser and the launch rules instead of stopping at a checksum (test_pack covers those).
 * Oracles besides the sanitizers:
 * 1. A refusal is one message that begins with the file's path.
 * 2. A pack that opens answers every query, and a launch plan for every kernel at each variant's
 *    bucket and at sizes 0 and 1, for devices of sm 75, 80, 90 and 120, returns 0 or a message.
 *    (A plan only evaluates rules; rt_launch checks the grid before the driver sees it.)
 * Any oracle failure aborts, so libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "include/kiln_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static uint32_t get32(const uint8_t *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static uint64_t get64(const uint8_t *b) { return get32(b) | (uint64_t)get32(b + 4) << 32; }
static void put32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> 8 * i);
}

/* Recomputes every section's CRC that lies inside the file, then the header's (docs/packs.md). */
static void fix_checksums(uint8_t *d, size_t size) {
  if (size < 24) return;
  uint64_t n = get32(d + 12);
  if (n > (size - 24) / 24) return;
  for (uint64_t i = 0; i < n; i++) {
    uint8_t *e = d + 24 + 24 * i;
    uint64_t off = get64(e + 8), len = get64(e + 16);
    if (off <= size && len <= size - off)
      put32(e + 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), d + off, (uInt)len));
  }
  put32(d + 16, (uint32_t)crc32(crc32(crc32(0L, Z_NULL, 0), d, 16), d + 24, (uInt)(24 * n)));
}

static void exercise(kiln_pack *p) {
  char err[1024];
  for (int t = 0; t < kiln_pack_target_count(p); t++)
    if (!kiln_pack_target(p, t)) abort();
  for (int k = 0; k < kiln_pack_kernel_count(p); k++) {
    kiln_pack_arg a;
    for (int i = 0; i < kiln_pack_arg_count(p, k); i++)
      if (kiln_pack_arg_get(p, k, i, &a) || !a.name || !a.type) abort();
    int64_t sizes[KILN_PACK_MAXSIZES];
    for (int v = 0; v < kiln_pack_variant_count(p, k); v++)
      for (int pass = 0; pass < 3; pass++) {
        const int64_t *b = kiln_pack_variant_bucket(p, k, v);
        for (int i = 0; i < kiln_pack_size_count(p, k); i++) sizes[i] = pass == 0 ? b[i] : pass - 1;
        static const int sms[] = {75, 80, 90, 120};
        for (int s = 0; s < 4; s++) {
          kiln_pack_plan pl;
          err[0] = 0;
          if (kiln_pack_plan_get(p, k, sizes, sms[s], &pl, err, sizeof err) && !err[0]) abort();
        }
      }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!path[0]) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%.40s/fuzz-pack-%d.kpack", dir && *dir ? dir : "/tmp", (int)getpid());
  }
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) abort();
  memcpy(copy, data, size);
  if (size % 2 == 0) fix_checksums(copy, size);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(copy, 1, size, f) != size) abort();
  fclose(f);
  free(copy);
  kiln_pack *p = NULL;
  char err[1024];
  if (kiln_pack_open(path, &p, err, sizeof err)) {
    if (p || strncmp(err, path, strlen(path))) abort(); /* oracle 1 */
    return 0;
  }
  exercise(p);
  kiln_pack_close(p);
  return 0;
}
