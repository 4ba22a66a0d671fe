// Subnormal floats flushed to zero while the runtime computes, the caller's mode restored after.
// Embeddings trained with L2 decay hold subnormal values (rarely seen users' and items' rows), and
// x86 cores take a microcode assist on every operation that reads or produces one: the fp32 table
// scan with a half-subnormal query takes 9x as long in the caller's mode as flushed
// (bench_runtime_kernels, Score_fp32_subnormal_query). A flushed value is below 1.2e-38, so no
// score moves by more.
#pragma once

#include <cstdint>

#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
#define POCKETREC_FP_ENV_X86 1
#endif

namespace pocketrec::runtime {

class FlushSubnormals {
 public:
#if defined(POCKETREC_FP_ENV_X86)
  // MXCSR: FTZ (bit 15) flushes subnormal results, DAZ (bit 6) reads subnormal inputs as zero.
  FlushSubnormals() : saved_(_mm_getcsr()) {
    _mm_setcsr(saved_ | 0x8040u);
  }
  ~FlushSubnormals() {
    _mm_setcsr(saved_);
  }

 private:
  unsigned int saved_;
#elif defined(__aarch64__)
  // FPCR.FZ (bit 24) flushes subnormal inputs and results of the scalar and Advanced SIMD units.
  FlushSubnormals() {
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_));
    const uint64_t flushed = saved_ | (uint64_t{1} << 24);
    __asm__ __volatile__("msr fpcr, %0" : : "r"(flushed));
  }
  ~FlushSubnormals() {
    __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_));
  }

 private:
  uint64_t saved_;
#else
  FlushSubnormals() = default;  // other targets compute with the caller's mode
#endif

 public:
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;
};

}  // namespace pocketrec::runtime
