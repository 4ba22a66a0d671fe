// The hot loops for x86-64 CPUs with AVX2 and FMA (chosen at run time, simd/kernel_table.h).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cstddef>
#include <cstdint>
#include <immintrin.h>  // pq_blocks16 only (simd/kernels.inc)

#include "simd/kernel_table.h"

#define POCKETREC_KERNEL_NS avx2
#define POCKETREC_KERNEL_ISA_NAME "avx2"
#define POCKETREC_KERNEL_TARGET __attribute__((target("avx2,fma")))
#define POCKETREC_KERNEL_VECTOR_BYTES 32
#include "simd/kernels.inc"
#endif
