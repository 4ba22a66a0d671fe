// The runtime's small dense kernels: plain loops the compiler vectorises, no allocation, no
// dependency. Sizes here are tiny (d = 64..256, at most max_len rows), so call overhead and cache
// residency matter more than blocking; the one large product (scoring every item) has its own
// kernels in item_scorer.cpp, measured in bench/bench_runtime.cpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace pocketrec::runtime {

inline float dot(const float* a, const float* b, size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y[rows x out] = x[rows x in] W^T + b, W row-major [out x in] as torch::nn::Linear stores it; b may be null.
inline void linear(const float* x, size_t rows, const float* W, const float* b, size_t in, size_t out, float* y) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < out; ++o) y[r * out + o] = dot(x + r * in, W + o * in, in) + (b ? b[o] : 0.0f);
}

// In place over each of `rows` rows of width d: (x - mean) / sqrt(var + eps) * gamma + beta (biased var).
inline void layer_norm(float* x, size_t rows, size_t d, const float* gamma, const float* beta, float eps) {
  for (size_t r = 0; r < rows; ++r) {
    float* v = x + r * d;
    double mean = 0, var = 0;
    for (size_t i = 0; i < d; ++i) mean += v[i];
    mean /= static_cast<double>(d);
    for (size_t i = 0; i < d; ++i) var += (v[i] - mean) * (v[i] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(d) + eps));
    for (size_t i = 0; i < d; ++i) v[i] = (v[i] - static_cast<float>(mean)) * inv * gamma[i] + beta[i];
  }
}

inline void softmax_inplace(float* x, size_t n) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += (x[i] = std::exp(x[i] - m));
  for (size_t i = 0; i < n; ++i) x[i] /= s;
}

inline float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }  // exact (erf), as torch::gelu
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace pocketrec::runtime
