// The runtime's hot loops behind one table of function pointers, chosen once per process for the CPU
// it runs on. The shipped library is built for the target's portable baseline (x86-64: SSE2,
// aarch64: NEON); on x86-64 it also carries the same loops compiled for AVX2 + FMA and for AVX-512
// (simd/kernels.inc), and uses the widest the CPU supports. The environment variable
// POCKETREC_RUNTIME_ISA (baseline, avx2, avx512) caps the choice, for tests and benchmarks.
// Scores of different ISAs differ in the last bits (FMA, lane order), never the order of work within one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocketrec::runtime {

struct KernelTable {
  const char* isa;  // "baseline", "avx2" or "avx512"
  // C[M x N] = A[M x K] B[K x N], row-major.
  void (*matmul)(const float* A, size_t M, size_t K, const float* B, size_t N, float* C);
  // out[v] = rows[v] . q for v < n (rows: n x d).
  void (*score_rows_f32)(const float* rows, size_t n, size_t d, const float* q, float* out);
  // out[v] = (rows[v] . q) scale[v] for v < n (rows: n x d int8).
  void (*score_rows_i8)(const int8_t* rows, const float* scale, size_t n, size_t d, const float* q, float* out);
  // out[v] = sum_m lut[m K + codes[v M + m]] for v < n (codes: n x M).
  void (*pq_scan)(const uint8_t* codes, size_t n, size_t M, size_t K, const float* lut, float* out);
  // The same for K <= 16 over blocks of kPqBlock = 32 items: out[32 b + j] = sum_m lut[16 m + code of
  // item j of block b in sub-space m], for every item of the n_blocks blocks (lut: M x 16). Block b's
  // codes are M groups of 16 bytes, sub-space after sub-space; byte j of group m holds item j's code
  // in its low 4 bits and item j + 16's in its high 4 bits. Null for an ISA without it (baseline).
  void (*pq_scan16)(const uint8_t* packed, size_t n_blocks, size_t M, const float* lut, float* out);
  // Integer sums over blocks of kPqU8Block = 64 items with one-byte codes (K <= 256) and a LUT
  // quantised to bytes: out[64 b + p] = sum_m lut8[256 m + code of item p of block b in sub-space m]
  // (lut8: M x 256, M <= 256 so that no sum leaves 16 bits), and block_max[b] = the largest of
  // block b's 64 sums. Block b's codes are M groups of 64 bytes, sub-space after sub-space; item p's
  // code is byte pq_u8_byte(p) of its group. The first pass of ItemScorer::top_k's pruned scan. Null
  // unless the CPU has AVX-512 VBMI (a 128-byte table lookup, vpermi2b).
  void (*pq_scan_u8)(const uint8_t* blocked, size_t n_blocks, size_t M, const uint8_t* lut8, uint16_t* out,
                     uint16_t* block_max);
};

constexpr size_t kPqBlock = 32;                 // items per block of pq_scan16
constexpr size_t kPqGroupBytes = kPqBlock / 2;  // bytes of one block's codes in one sub-space
constexpr size_t kPqLutRow = 16;                // LUT entries per sub-space (K <= 16, the rest 0)
// The blocks that n items fill, the last one possibly in part.
constexpr size_t pq_blocks(int64_t n) {
  return (static_cast<size_t>(n) + kPqBlock - 1) / kPqBlock;
}

constexpr size_t kPqU8Block = 64;    // items per block of pq_scan_u8
constexpr size_t kPqU8LutRow = 256;  // bytes of lut8 per sub-space
constexpr size_t pq_u8_blocks(int64_t n) {
  return (static_cast<size_t>(n) + kPqU8Block - 1) / kPqU8Block;
}
// The byte of a 64-byte group that holds the code of the block's item p. The kernel widens the 64
// looked-up bytes to 16-bit sums with the unpacks of each 128-bit lane (bytes 16 L + 0-7 to the low
// half, 16 L + 8-15 to the high one), so items 8 L + i (i < 8) sit at byte 16 L + i and items
// 32 + 8 L + i at byte 16 L + 8 + i: the sums come out in item order.
constexpr size_t pq_u8_byte(size_t p) {
  return p < 32 ? 16 * (p / 8) + p % 8 : 16 * ((p - 32) / 8) + 8 + p % 8;
}

// The table this process uses: the widest ISA the CPU supports, capped by POCKETREC_RUNTIME_ISA.
const KernelTable& kernels();
// The table of one ISA by name, or null when it is not built into this library or the CPU lacks it.
const KernelTable* kernel_table(const char* isa);

}  // namespace pocketrec::runtime
