// The hot loops for x86-64 CPUs with AVX-512 F/VL/BW/DQ (chosen at run time, simd/kernel_table.h).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>  // pq_blocks16 and pq_blocks_u8 only (simd/kernels.inc)
#include <cstddef>
#include <cstdint>

#include "simd/kernel_table.h"

#define POCKETREC_KERNEL_NS avx512
#define POCKETREC_KERNEL_ISA_NAME "avx512"
#define POCKETREC_KERNEL_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define POCKETREC_KERNEL_VECTOR_BYTES 64
// pq_scan_u8 alone also needs VBMI; the table holds it only on a CPU that has it (kernel_table.cpp).
#define POCKETREC_KERNEL_TARGET_VBMI __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vbmi,avx2,fma")))
#include "simd/kernels.inc"
#endif
