#include "eval/score_kernel.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pocketrec::eval {

constexpr int kPanel = PackedItemMatrix::kPanel;

PackedItemMatrix::PackedItemMatrix(const float* items, int32_t n_items, int32_t dim, const float* bias)
    : n_items_(n_items), dim_(dim) {
  const int64_t n_panels = (static_cast<int64_t>(n_items) + kPanel - 1) / kPanel;
  data_.assign(static_cast<size_t>(n_panels) * kPanel * dim, 0.0f);
  bias_.assign(static_cast<size_t>(n_panels) * kPanel, 0.0f);
  for (int64_t j = 0; j < n_items; ++j) {
    float* panel = data_.data() + (j / kPanel) * kPanel * dim;
    const int64_t lane = j % kPanel;
    for (int32_t k = 0; k < dim; ++k) panel[k * kPanel + lane] = items[j * dim + k];
    if (bias != nullptr) bias_[j] = bias[j];
  }
}

namespace {

// Scalar reference path: the same FMA chain per score as the AVX2 lanes.
void panel_scalar(const float* q, size_t ldq, int rows, const float* panel, const float* bias, int d,
                  float* out /*[rows][16]*/) {
  for (int r = 0; r < rows; ++r)
    for (int l = 0; l < kPanel; ++l) {
      float acc = 0.0f;
      for (int k = 0; k < d; ++k) acc = std::fma(q[r * ldq + k], panel[k * kPanel + l], acc);
      out[r * kPanel + l] = acc + bias[l];
    }
}

template <int MR>
__attribute__((target("avx2,fma"))) inline void micro_avx2(const float* q, size_t ldq, const float* panel,
                                                           const float* bias, int d, float* out, size_t ldo) {
  __m256 acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  for (int k = 0; k < d; ++k) {
    const __m256 b0 = _mm256_loadu_ps(panel + k * kPanel), b1 = _mm256_loadu_ps(panel + k * kPanel + 8);
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(q + r * ldq + k);
      acc0[r] = _mm256_fmadd_ps(a, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, b1, acc1[r]);
    }
  }
  const __m256 c0 = _mm256_loadu_ps(bias), c1 = _mm256_loadu_ps(bias + 8);
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_ps(out + r * ldo, _mm256_add_ps(acc0[r], c0));
    _mm256_storeu_ps(out + r * ldo + 8, _mm256_add_ps(acc1[r], c1));
  }
}

__attribute__((target("avx2,fma"))) void panel_avx2(const float* q, size_t ldq, int rows, const float* panel,
                                                    const float* bias, int d, float* out, size_t ldo) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) micro_avx2<4>(q + r * ldq, ldq, panel, bias, d, out + r * ldo, ldo);
  switch (rows - r) {
    case 3: micro_avx2<3>(q + r * ldq, ldq, panel, bias, d, out + r * ldo, ldo); break;
    case 2: micro_avx2<2>(q + r * ldq, ldq, panel, bias, d, out + r * ldo, ldo); break;
    case 1: micro_avx2<1>(q + r * ldq, ldq, panel, bias, d, out + r * ldo, ldo); break;
    default: break;
  }
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

}  // namespace

const char* score_kernel_name() {
  return cpu_has_avx2_fma() ? "avx2-fma" : "scalar-fma";
}

void score_packed(const float* queries, size_t n_rows, size_t ldq, const PackedItemMatrix& items, int32_t item_begin,
                  int32_t item_end, float* out, size_t ld) {
  if (n_rows == 0 || item_end <= item_begin) return;
  const int d = items.dim();
  const bool avx2 = cpu_has_avx2_fma();
  constexpr int kRowBlock = 64;  // rows per pass over a panel: keeps their query vectors in L1
  float tmp[kRowBlock * kPanel];
  for (int64_t p = item_begin / kPanel; p * kPanel < item_end; ++p) {
    const int64_t first = p * kPanel;
    const int64_t lo = std::max<int64_t>(first, item_begin), hi = std::min<int64_t>(first + kPanel, item_end);
    const bool full = lo == first && hi == first + kPanel;
    for (size_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
      const int rows = static_cast<int>(std::min<size_t>(kRowBlock, n_rows - r0));
      const float* q = queries + r0 * ldq;
      if (full && avx2) {
        panel_avx2(q, ldq, rows, items.panel(p), items.panel_bias(p), d, out + r0 * ld + (first - item_begin), ld);
        continue;
      }
      // Partial panel (range edges) or no AVX2: compute the whole panel, copy the wanted columns.
      if (avx2) {
        panel_avx2(q, ldq, rows, items.panel(p), items.panel_bias(p), d, tmp, kPanel);
      } else {
        panel_scalar(q, ldq, rows, items.panel(p), items.panel_bias(p), d, tmp);
      }
      for (int r = 0; r < rows; ++r)
        std::memcpy(out + (r0 + r) * ld + (lo - item_begin), tmp + r * kPanel + (lo - first),
                    static_cast<size_t>(hi - lo) * sizeof(float));
    }
  }
}

}  // namespace pocketrec::eval

namespace pocketrec::eval {
namespace {

int64_t count_greater_scalar(const float* v, size_t n, float s, int64_t* n_equal, bool* saw_nan) {
  int64_t gt = 0, eq = 0;
  bool nan = false;
  for (size_t j = 0; j < n; ++j) {
    gt += v[j] > s;
    eq += v[j] == s;
    nan |= v[j] != v[j];
  }
  *n_equal += eq;
  *saw_nan |= nan;
  return gt;
}

__attribute__((target("avx2"))) int64_t count_greater_avx2(const float* v, size_t n, float s, int64_t* n_equal,
                                                           bool* saw_nan) {
  const __m256 sv = _mm256_set1_ps(s);
  __m256i gt = _mm256_setzero_si256(), eq = _mm256_setzero_si256();
  __m256 unord = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 x = _mm256_loadu_ps(v + j);
    // A true comparison is all-ones (-1 as an integer): subtracting it counts one.
    gt = _mm256_sub_epi32(gt, _mm256_castps_si256(_mm256_cmp_ps(x, sv, _CMP_GT_OQ)));
    eq = _mm256_sub_epi32(eq, _mm256_castps_si256(_mm256_cmp_ps(x, sv, _CMP_EQ_OQ)));
    unord = _mm256_or_ps(unord, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  alignas(32) int32_t g[8], e[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(g), gt);
  _mm256_store_si256(reinterpret_cast<__m256i*>(e), eq);
  int64_t total_gt = 0, total_eq = 0;
  for (int l = 0; l < 8; ++l) total_gt += g[l], total_eq += e[l];
  *n_equal += total_eq;
  *saw_nan |= _mm256_movemask_ps(unord) != 0;
  return total_gt + count_greater_scalar(v + j, n - j, s, n_equal, saw_nan);
}

}  // namespace

int64_t count_greater(const float* v, size_t n, float s, int64_t* n_equal, bool* saw_nan) {
  return cpu_has_avx2_fma() ? count_greater_avx2(v, n, s, n_equal, saw_nan)
                            : count_greater_scalar(v, n, s, n_equal, saw_nan);
}

}  // namespace pocketrec::eval
