/*
 * smem_banks.h - shared memory's bank model: how many wavefronts one warp-level request takes (32
 * banks of 4-byte words; 8-byte accesses are served by half-warps, 16-byte ones by quarter-warps).
 * The simulator's profile counts requests with it (sim/profile.c) and codegen chooses the
 * arrangement of its scratch by it (codegen/lower_layout.c), so the two always agree.
 */
#ifndef KILN_TARGET_SMEM_BANKS_H
#define KILN_TARGET_SMEM_BANKS_H

#include <stdint.h>

/* Wavefronts of one phase: lanes [lo, hi) of off/bytes with their bit of mask set; the most distinct
 * 4-byte words any one bank holds. *ideal gets what the phase would take without bank conflicts: its
 * distinct words over 32 banks, rounded up (0 for a phase with no lane on). */
uint64_t tg_smem_phase_wavefronts(const uintptr_t *off, const uint16_t *bytes, uint32_t mask, int lo, int hi,
                                  uint64_t *ideal);
/* Wavefronts of one warp-level request (lane offsets, sizes, the lanes that took part), in phases by
 * the first lane's size; *ideal: the same without conflicts. */
uint64_t tg_smem_wavefronts(const uintptr_t *off, const uint16_t *bytes, uint32_t mask, uint64_t *ideal);

#endif
