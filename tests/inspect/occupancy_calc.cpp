// occupancy_calc.cpp - prints CUDA's own occupancy calculator (cuda_occupancy.h) over a grid of
// registers, threads and dynamic shared bytes for each kiln target row, one line per case:
// "TARGET REGS THREADS SMEM BLOCKS". tests/inspect/occupancy_calc.txt is its output with CUDA 13.0;
// tests/unit/test_inspect.c checks kiln_occupancy_get against that file, and tests/sh/occupancy_calc.sh
// rebuilds it where the header and a C++ compiler are installed and compares.
// The rows give the calculator the same per-SM threads, shared memory and reserve as target/target.c;
// its block slots, register and shared-memory rules are its own.
#include <cstdio>
#include "cuda_occupancy.h"
struct Row { const char *n; int maj, min, thr, blk; size_t smem_sm, smem_blk, resv; };
int main() {
  Row rows[] = {{"sm_75",7,5,1024,16,64*1024,64*1024,0},{"sm_80",8,0,2048,32,164*1024,163*1024,1024},
    {"sm_86",8,6,1536,16,100*1024,99*1024,1024},{"sm_89",8,9,1536,24,100*1024,99*1024,1024},
    {"sm_90a",9,0,2048,32,228*1024,227*1024,1024},{"sm_100a",10,0,2048,32,228*1024,227*1024,1024},
    {"sm_120a",12,0,1536,24,100*1024,99*1024,1024}};
  int regs[] = {0, 16, 32, 33, 39, 64, 72, 96, 120, 128, 168, 200, 255};
  int threads[] = {32, 64, 128, 256, 384, 512, 1024};
  int smem[] = {0, 1000, 16384, 32768, 49152, 98304, 101376, 102400, 160000};
  for (auto &r : rows) {
    cudaOccDeviceProp p; p.computeMajor=r.maj; p.computeMinor=r.min; p.maxThreadsPerBlock=1024;
    p.maxThreadsPerMultiprocessor=r.thr; p.regsPerBlock=65536; p.regsPerMultiprocessor=65536; p.warpSize=32;
    p.sharedMemPerBlock=48*1024; p.sharedMemPerMultiprocessor=r.smem_sm; p.numSms=100; p.sharedMemPerBlockOptin=r.smem_blk;
    p.reservedSharedMemPerBlock=r.resv;
    for (int rg : regs) for (int t : threads) for (int sm : smem) {
      if ((size_t)sm > r.smem_blk) continue;
      cudaOccFuncAttributes a; a.maxThreadsPerBlock=1024; a.numRegs=rg; a.sharedSizeBytes=0;
      a.shmemLimitConfig=FUNC_SHMEM_LIMIT_OPTIN; a.maxDynamicSharedSizeBytes=r.smem_blk; a.numBlockBarriers=1;
      cudaOccDeviceState st; st.carveoutConfig = SHAREDMEM_CARVEOUT_MAX_SHARED;
      cudaOccResult res;
      if (cudaOccMaxActiveBlocksPerMultiprocessor(&res,&p,&a,&st,t,sm) != CUDA_OCC_SUCCESS) { printf("%s ERR\n", r.n); continue; }
      printf("%s %d %d %d %d\n", r.n, rg, t, sm, res.activeBlocksPerMultiprocessor);
    }
  }
}
