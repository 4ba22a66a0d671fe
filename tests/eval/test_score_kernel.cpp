#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "eval/score_kernel.h"

using namespace pocketrec::eval;

TEST(ScoreKernel, MatchesDoublePrecisionDotProductsAndIsRangeIndependent) {
  const int32_t n = 101, d = 37, rows = 9;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> items(n * d), bias(n), q(rows * d);
  for (auto& v : items) v = nd(rng);
  for (auto& v : bias) v = nd(rng);
  for (auto& v : q) v = nd(rng);
  PackedItemMatrix packed(items.data(), n, d, bias.data());
  std::vector<float> full(rows * n);
  score_packed(q.data(), rows, d, packed, 0, n, full.data(), n);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < n; ++j) {
      double ref = bias[j];
      for (int k = 0; k < d; ++k) ref += static_cast<double>(q[r * d + k]) * items[j * d + k];
      EXPECT_NEAR(full[r * n + j], ref, 1e-4) << r << "," << j;
    }
  // Any sub-range and any single row gives bit-identical values.
  for (int32_t b : {0, 3, 16, 50}) {
    for (int32_t e : {b + 1, b + 17, n}) {
      if (e > n) continue;
      for (int r = 0; r < rows; ++r) {
        std::vector<float> part(e - b);
        score_packed(q.data() + r * d, 1, d, packed, b, e, part.data(), e - b);
        for (int32_t j = b; j < e; ++j) ASSERT_EQ(part[j - b], full[r * n + j]) << "range " << b << "-" << e;
      }
    }
  }
  EXPECT_TRUE(std::string(score_kernel_name()) == "avx2-fma" || std::string(score_kernel_name()) == "scalar-fma");
}
