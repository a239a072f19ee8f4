/*
 * smem_banks.c - shared memory's bank model (smem_banks.h).
 */
#include "smem_banks.h"

enum { MAXWORDS = 32 * 4 + 4 }; /* a phase's words: 32 lanes of a word, 8 of four, a few across edges */

uint64_t tg_smem_phase_wavefronts(const uintptr_t *off, const uint16_t *bytes, uint32_t mask, int lo, int hi,
                                  uint64_t *ideal) {
  uintptr_t words[MAXWORDS];
  uint32_t n = 0, bank[32] = {0}, most = 0;
  for (int l = lo; l < hi; l++)
    for (uintptr_t w = off[l] / 4; mask >> l & 1 && w <= (off[l] + bytes[l] - 1) / 4 && n < MAXWORDS; w++) {
      uint32_t i = 0; /* distinct words only: a word several lanes read is one access (a broadcast) */
      while (i < n && words[i] != w) i++;
      if (i < n) continue;
      words[n++] = w;
      if (++bank[w % 32] > most) most = bank[w % 32];
    }
  *ideal = ((uint64_t)n + 31) / 32;
  return most;
}

uint64_t tg_smem_wavefronts(const uintptr_t *off, const uint16_t *bytes, uint32_t mask, uint64_t *ideal) {
  *ideal = 0;
  int first = 0;
  while (first < 32 && !(mask >> first & 1)) first++;
  if (first == 32) return 0;
  int per = bytes[first] > 8 ? 8 : bytes[first] > 4 ? 16 : 32; /* lanes per phase */
  uint64_t wf = 0, id;
  for (int lo = 0; lo < 32; lo += per)
    wf += tg_smem_phase_wavefronts(off, bytes, mask, lo, lo + per, &id), *ideal += id;
  return wf;
}
