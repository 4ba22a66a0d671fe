// The runtime's small kernels: plain loops the compiler vectorises for the target's baseline (built
// with -fassociative-math, runtime/CMakeLists.txt), no allocation, no dependency. The hot loops (the
// matrix product of the encoder's linear layers and the STT scores, the table and PQ scans) are in
// simd/kernel_table.h, chosen at run time for the CPU; measured in bench/bench_runtime.cpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "simd/kernel_table.h"

namespace pocketrec::runtime {

// sum_i a[i] b[i] in 8 lanes; `a` may be float or int8 (an int8 table row, scaled by the caller).
template <typename T>
inline float dot(const T* a, const float* b, size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; ++j) acc[j] += static_cast<float>(a[i + j]) * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += static_cast<float>(a[i]) * b[i];
  return s;
}

// y[rows x out] = x[rows x in] Wt + b with Wt = W^T [in x out] (transposed once at load from the
// [out x in] torch::nn::Linear layout); b may be null.
inline void linear(const float* x, size_t rows, const float* Wt, const float* b, size_t in, size_t out, float* y) {
  kernels().matmul(x, rows, in, Wt, out, y);
  if (b)
    for (size_t r = 0; r < rows; ++r)
      for (size_t o = 0; o < out; ++o) y[r * out + o] += b[o];
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

// e^x from arithmetic alone, so that the loops of the encoder's element-wise functions vectorise
// (a call to expf in a loop keeps it scalar: about 10,000 calls per OD-Rec query). x = n ln2 + r
// with n = round(x / ln2), |r| <= ln2 / 2 (computed in double: n ln2 rounded to a float would be off
// by up to half an ulp of |x|); e^r by a degree-6 polynomial fitted on that interval; 2^n written into
// the exponent bits. x is clamped to [-87.3, 88] so that 2^n stays a normal float (e^x below
// e^-87.3 ~ 1.2e-38 returns about that, above e^88 ~ 1.7e38 about that); NaN stays NaN. Largest
// relative error on a grid of step 1e-3 over the range: 7.8e-8 (tests/runtime/test_runtime.cpp).
inline float exp_approx(float x) {
  const float lo = x > -87.3f ? x : -87.3f, c = lo < 88.0f ? lo : 88.0f;  // NaN -> -87.3: a defined cast
  const float t = c * 1.44269504088896341f;
  const int32_t n = static_cast<int32_t>(t + (t < 0 ? -0.5f : 0.5f));  // round half away from zero
  const float r = static_cast<float>(static_cast<double>(c) - static_cast<double>(n) * 0.693147180559945309);
  const float p = ((((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
                     1.6666665459e-1f) *
                        r +
                    5.0000001201e-1f) *
                       r * r +
                   r) +
                  1.0f;
  const int32_t bits = (n + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return x != x ? x : p * scale;
}

inline void softmax_inplace(float* x, size_t n) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += (x[i] = exp_approx(x[i] - m));
  for (size_t i = 0; i < n; ++i) x[i] /= s;
}

// tanh and the exact (erf) GELU of torch, written with exp_approx: tanhf and erff cost 3x and 1.5x as
// much as expf, and were a fifth of the OD-Rec encoder's time. Largest absolute errors on [-30, 30]:
// 1.8e-7 (tanh) and 2.0e-7 (GELU, erf by Abramowitz & Stegun 7.1.26, relative to max(1, |x|)), far
// inside the 1e-4 parity with LibTorch.
inline float tanh_approx(float x) {
  return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f);
}
inline float erf_approx(float x) {
  const float a = std::fabs(x), t = 1.0f / (1.0f + 0.3275911f * a);
  const float p =
      t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  return std::copysign(1.0f - p * exp_approx(-a * a), x);
}
inline float gelu(float x) {
  return 0.5f * x * (1.0f + erf_approx(x * 0.70710678118654752f));
}
inline float sigmoid(float x) {
  return 1.0f / (1.0f + exp_approx(-x));
}

}  // namespace pocketrec::runtime
