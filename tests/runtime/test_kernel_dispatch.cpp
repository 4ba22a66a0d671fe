// The kernel table chosen at run time (runtime/src/simd/kernel_table.h): every ISA this CPU runs
// computes the reference sums (to rounding: FMA and lane order differ between ISAs), the choice is
// the widest supported one, and POCKETREC_RUNTIME_ISA caps it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pocketrec/pocketrec.h"
#include "simd/kernel_table.h"

namespace pocketrec::runtime {
namespace {

std::vector<float> uniform(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// |a[i] - b[i]| within the float rounding of a sum whose terms add up to mag[i] in absolute value
// (a sum of n terms in another order, or with fused multiply-adds, moves by at most ~n eps mag).
void expect_close(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& mag, size_t n,
                  const char* what) {
  ASSERT_EQ(a.size(), b.size());
  const float eps = 6e-8f;
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 2 * n * eps * mag[i]) << what << " [" << i << "]";
}

// The kernel tables of every ISA built into the library that this CPU runs.
std::vector<const KernelTable*> tables_of_this_cpu() {
  std::vector<const KernelTable*> tables;
  for (const char* isa : {"baseline", "avx2", "avx512"})
    if (const KernelTable* t = kernel_table(isa)) tables.push_back(t);
  return tables;
}

// The matrix product of every ISA this CPU runs against the same sums in double, in a naive loop,
// over shapes that take every path at 4, 8 and 16 lanes: the 2-register and 1-register column
// tiles and the last columns (N = 61 = 32 + 16 + 13 at 16 lanes), N below one register, K = 0, and
// M below, at and past one tile of 4 rows; C is followed by guard values no write may reach.
TEST(KernelDispatch, MatmulOfEveryIsaComputesTheReferenceSums) {
  const auto tables = tables_of_this_cpu();
  ASSERT_GE(tables.size(), 1u);
  constexpr float kGuard = 12345.0f;
  for (const size_t M : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{7}})
    for (const size_t K : {size_t{0}, size_t{1}, size_t{37}})
      for (const size_t N : {size_t{1}, size_t{3}, size_t{8}, size_t{16}, size_t{32}, size_t{45}, size_t{61}}) {
        SCOPED_TRACE(::testing::Message() << "M=" << M << " K=" << K << " N=" << N);
        const auto A = uniform(M * K, 1), B = uniform(K * N, 2);
        std::vector<float> c_ref(M * N), c_mag(M * N);
        for (size_t i = 0; i < M; ++i)
          for (size_t j = 0; j < N; ++j) {
            double s = 0, a = 0;
            for (size_t k = 0; k < K; ++k)
              s += double(A[i * K + k]) * B[k * N + j], a += std::fabs(double(A[i * K + k]) * B[k * N + j]);
            c_ref[i * N + j] = float(s), c_mag[i * N + j] = float(a);
          }
        for (const KernelTable* t : tables) {
          SCOPED_TRACE(t->isa);
          std::vector<float> c(M * N + 16, kGuard);
          t->matmul(A.data(), M, K, B.data(), N, c.data());
          for (size_t g = M * N; g < c.size(); ++g) ASSERT_EQ(c[g], kGuard) << "write past C at " << g;
          c.resize(M * N);
          expect_close(c, c_ref, c_mag, K, "matmul");
        }
      }
}

// The PQ scan of every ISA this CPU runs against the same sums in double (items not a multiple of 4).
TEST(KernelDispatch, PqScanOfEveryIsaComputesTheReferenceSums) {
  const size_t n = 1003, Mq = 6, Kq = 17;
  const auto lut = uniform(Mq * Kq, 7);
  std::mt19937 rng(5);
  std::vector<uint8_t> codes(n * Mq);
  for (uint8_t& c : codes) c = static_cast<uint8_t>(rng() % Kq);
  std::vector<float> p_ref(n), p_mag(n);  // the references, and the sums of absolute terms that bound their rounding
  for (size_t v = 0; v < n; ++v) {
    double ps = 0, pa = 0;
    for (size_t m = 0; m < Mq; ++m)
      ps += lut[m * Kq + codes[v * Mq + m]], pa += std::fabs(lut[m * Kq + codes[v * Mq + m]]);
    p_ref[v] = float(ps), p_mag[v] = float(pa);
  }
  const auto tables = tables_of_this_cpu();
  for (const KernelTable* t : tables) {
    SCOPED_TRACE(t->isa);
    std::vector<float> s(n);
    t->pq_scan(codes.data(), n, Mq, Kq, lut.data(), s.data());
    expect_close(s, p_ref, p_mag, Mq, "pq_scan");
  }
  EXPECT_GE(tables.size(), 1u);
  RecordProperty("isas_checked", static_cast<int>(tables.size()));
}

// The 4-bit block scan (K <= 16) of every ISA this CPU runs that has one (all but the baseline)
// against the byte scan's sums in double, with the codes packed by hand in the layout kernel_table.h
// states (item j of a block in the low nibble of byte j, item j + 16 in the high one): one and two
// sub-spaces, and an odd M; K = 2 and 16; odd and even numbers of blocks.
TEST(KernelDispatch, PqScan16OfEveryIsaComputesTheReferenceSums) {
  const auto tables = tables_of_this_cpu();
  ASSERT_GE(tables.size(), 1u);
  for (const size_t Mq : {size_t{1}, size_t{2}, size_t{7}})
    for (const size_t Kq : {size_t{2}, size_t{16}})
      for (const size_t blocks : {size_t{1}, size_t{4}, size_t{5}}) {
        SCOPED_TRACE(::testing::Message() << "M=" << Mq << " K=" << Kq << " blocks=" << blocks);
        const size_t n = blocks * kPqBlock;
        const auto lut = uniform(Mq * 16, 11);
        std::mt19937 rng(static_cast<uint32_t>(Mq * 100 + Kq + blocks));
        std::vector<uint8_t> codes(n * Mq), packed(blocks * Mq * 16, 0);
        for (size_t v = 0; v < n; ++v)
          for (size_t m = 0; m < Mq; ++m) {
            const uint8_t c = static_cast<uint8_t>(rng() % Kq);
            codes[v * Mq + m] = c;
            const size_t b = v / 32, j = v % 32;
            packed[(b * Mq + m) * 16 + j % 16] |= static_cast<uint8_t>(j < 16 ? c : c << 4);
          }
        std::vector<float> ref(n), mag(n);
        for (size_t v = 0; v < n; ++v) {
          double ps = 0, pa = 0;
          for (size_t m = 0; m < Mq; ++m)
            ps += lut[m * 16 + codes[v * Mq + m]], pa += std::fabs(lut[m * 16 + codes[v * Mq + m]]);
          ref[v] = float(ps), mag[v] = float(pa);
        }
        for (const KernelTable* t : tables) {
          SCOPED_TRACE(t->isa);
          if (!t->pq_scan16) {  // only the baseline may lack it (its scorer keeps the byte scan)
            EXPECT_STREQ(t->isa, "baseline");
            continue;
          }
          std::vector<float> s(n + 16, 12345.0f);
          t->pq_scan16(packed.data(), blocks, Mq, lut.data(), s.data());
          for (size_t g = n; g < s.size(); ++g) ASSERT_EQ(s[g], 12345.0f) << "write past the blocks at " << g;
          s.resize(n);
          expect_close(s, ref, mag, Mq, "pq_scan16");
          std::vector<float> bytes(n);  // the byte scan over the same codes, its LUT with stride 16
          t->pq_scan(codes.data(), n, Mq, 16, lut.data(), bytes.data());
          expect_close(s, bytes, mag, Mq, "pq_scan16 vs pq_scan");
        }
      }
}

// pq_scan_u8 of every ISA this CPU runs that has it, against integer sums and their block maxima:
// a layout built here from pq_u8_byte; 1, 4, 5 and 9 blocks (four-block steps and their tail);
// M = 256 with every entry 255, the largest sum (65,280) that 16 bits must hold; a guard after the
// output. Only the AVX-512 table of a CPU with VBMI has the kernel.
TEST(KernelDispatch, PqScanU8OfEveryIsaComputesTheIntegerSums) {
  const auto tables = tables_of_this_cpu();
  ASSERT_GE(tables.size(), 1u);
  size_t ran = 0;
  for (const size_t Mq : {size_t{1}, size_t{3}, size_t{16}, size_t{256}})
    for (const size_t blocks : {size_t{1}, size_t{4}, size_t{5}, size_t{9}}) {
      SCOPED_TRACE(::testing::Message() << "M=" << Mq << " blocks=" << blocks);
      const size_t n = blocks * kPqU8Block;
      std::mt19937 rng(static_cast<uint32_t>(Mq * 100 + blocks));
      std::vector<uint8_t> lut8(Mq * kPqU8LutRow), codes(n * Mq), blocked(blocks * Mq * kPqU8Block);
      for (uint8_t& x : lut8) x = static_cast<uint8_t>(Mq == 256 ? 255 : rng() % 256);
      for (size_t v = 0; v < n; ++v)
        for (size_t m = 0; m < Mq; ++m) {
          const uint8_t c = static_cast<uint8_t>(rng() % 256);
          codes[v * Mq + m] = c;
          blocked[(v / kPqU8Block * Mq + m) * kPqU8Block + pq_u8_byte(v % kPqU8Block)] = c;
        }
      std::vector<uint16_t> ref(n);
      for (size_t v = 0; v < n; ++v) {
        uint32_t sum = 0;
        for (size_t m = 0; m < Mq; ++m) sum += lut8[m * kPqU8LutRow + codes[v * Mq + m]];
        ASSERT_LE(sum, 65535u);
        ref[v] = static_cast<uint16_t>(sum);
      }
      for (const KernelTable* t : tables) {
        SCOPED_TRACE(t->isa);
#if defined(__x86_64__)
        EXPECT_EQ(t->pq_scan_u8 != nullptr, std::string(t->isa) == "avx512" && __builtin_cpu_supports("avx512vbmi"));
#endif
        if (!t->pq_scan_u8) continue;
        ++ran;
        std::vector<uint16_t> out(n + 32, 777), block_max(blocks + 8, 777);
        t->pq_scan_u8(blocked.data(), blocks, Mq, lut8.data(), out.data(), block_max.data());
        for (size_t g = n; g < out.size(); ++g) ASSERT_EQ(out[g], 777) << "write past the blocks at " << g;
        for (size_t g = blocks; g < block_max.size(); ++g) ASSERT_EQ(block_max[g], 777) << "past the maxima";
        out.resize(n);
        ASSERT_EQ(out, ref);
        for (size_t b = 0; b < blocks; ++b)
          EXPECT_EQ(block_max[b], *std::max_element(ref.begin() + b * 64, ref.begin() + (b + 1) * 64)) << b;
      }
    }
  if (ran == 0) GTEST_SKIP() << "no ISA of this CPU has pq_scan_u8 (it needs AVX-512 VBMI)";
}

// The byte positions of pq_u8_byte are a permutation of a 64-byte group.
TEST(KernelDispatch, PqU8LayoutIsAPermutation) {
  std::vector<int> seen(kPqU8Block, 0);
  for (size_t p = 0; p < kPqU8Block; ++p) {
    ASSERT_LT(pq_u8_byte(p), kPqU8Block);
    ++seen[pq_u8_byte(p)];
  }
  EXPECT_EQ(seen, std::vector<int>(kPqU8Block, 1));
  EXPECT_EQ(pq_u8_byte(8), 16u);  // item 8: the second lane's first low byte
  EXPECT_EQ(pq_u8_byte(32), 8u);  // item 32: the first lane's first high byte
}

// The fp32 and int8 table scans of every ISA this CPU runs against the same sums in double: fewer
// rows than one block of 4, and rows not a multiple of 4; widths below one 8-lane block (5), with a
// remainder (29), exactly one and two of the int8 path's 64-value chunks (64, 128), and over several
// with a short last chunk and a remainder (150 = 64 + 64 + 16 + 6).
TEST(KernelDispatch, TableScansOfEveryIsaComputeTheReferenceSums) {
  const auto tables = tables_of_this_cpu();
  ASSERT_GE(tables.size(), 1u);
  for (const size_t n : {size_t{3}, size_t{1003}})
    for (const size_t d : {size_t{5}, size_t{29}, size_t{64}, size_t{128}, size_t{150}}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " d=" << d);
      const auto rows = uniform(n * d, 3), q = uniform(d, 4), scale = uniform(n, 6);
      std::mt19937 rng(5);
      std::vector<int8_t> r8(n * d);
      for (int8_t& x : r8) x = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
      std::vector<float> f_ref(n), f_mag(n), i_ref(n), i_mag(n);
      for (size_t v = 0; v < n; ++v) {
        double fs = 0, fa = 0, is = 0, ia = 0;
        for (size_t j = 0; j < d; ++j) {
          fs += double(rows[v * d + j]) * q[j], fa += std::fabs(double(rows[v * d + j]) * q[j]);
          is += double(r8[v * d + j]) * q[j] * scale[v], ia += std::fabs(double(r8[v * d + j]) * q[j] * scale[v]);
        }
        f_ref[v] = float(fs), f_mag[v] = float(fa), i_ref[v] = float(is), i_mag[v] = float(ia);
      }
      for (const KernelTable* t : tables) {
        SCOPED_TRACE(t->isa);
        std::vector<float> s(n);
        t->score_rows_f32(rows.data(), n, d, q.data(), s.data());
        expect_close(s, f_ref, f_mag, d, "score_rows_f32");
        t->score_rows_i8(r8.data(), scale.data(), n, d, q.data(), s.data());
        expect_close(s, i_ref, i_mag, d, "score_rows_i8");
      }
    }
}

TEST(KernelDispatch, BaselineMatmulIsTheProductItClaims) {
  // [[1, 2], [3, 4], [5, 6]] x [[1, 0, -1], [2, 1, 0]] by hand.
  const float A[] = {1, 2, 3, 4, 5, 6}, B[] = {1, 0, -1, 2, 1, 0};
  float C[9];
  kernel_table("baseline")->matmul(A, 3, 2, B, 3, C);
  const float want[] = {5, 2, -1, 11, 4, -3, 17, 6, -5};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(C[i], want[i]) << i;
}

// Without POCKETREC_RUNTIME_ISA: the widest ISA this CPU runs. With it (ctest runs the runtime
// tests again with POCKETREC_RUNTIME_ISA=baseline): that ISA, or a narrower one if the CPU lacks it.
TEST(KernelDispatch, ChoiceIsTheWidestSupportedUnderTheCap) {
  const char* cap = std::getenv("POCKETREC_RUNTIME_ISA");
  const std::vector<std::string> order = {"avx512", "avx2", "baseline"};
  std::string want;
  bool allowed = !cap || !*cap;
  for (const std::string& isa : order) {
    allowed = allowed || isa == cap;
    if (allowed && kernel_table(isa.c_str())) {
      want = isa;
      break;
    }
  }
  EXPECT_EQ(kernels().isa, want);
  EXPECT_STREQ(pocketrec_kernel_isa(), want.c_str());
}

}  // namespace
}  // namespace pocketrec::runtime
