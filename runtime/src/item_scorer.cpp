#include "item_scorer.h"

#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace pocketrec::runtime {

void ItemScorer::init_fp32(const float* rows, int64_t n_items, int64_t d) {
  kind_ = Kind::kFp32Table;
  rows_ = rows;
  n_items_ = n_items;
  d_ = d;
}

void ItemScorer::init_int8(const float* rows, int64_t n_items, int64_t d) {
  kind_ = Kind::kInt8Table;
  n_items_ = n_items;
  d_ = d;
  q8_.assign(static_cast<size_t>(n_items * d), 0);
  scale_.assign(static_cast<size_t>(n_items), 0.0f);
  for (int64_t v = 0; v < n_items; ++v) {
    const float* x = rows + v * d;
    float m = 0;
    for (int64_t j = 0; j < d; ++j) m = std::max(m, std::fabs(x[j]));
    const float s = m > 0 ? m / 127.0f : 1.0f;
    scale_[v] = s;
    for (int64_t j = 0; j < d; ++j)
      q8_[v * d + j] = static_cast<int8_t>(std::lround(std::clamp(x[j] / s, -127.0f, 127.0f)));
  }
}

Status ItemScorer::init_stt(const SttCores& c, int64_t n_items, int64_t d) {
  RT_CHECK(c.t >= 1 && c.R % c.t == 0 && c.J2 % c.t == 0 && c.I1 * c.I2 >= n_items && c.J1 * c.J2 == d,
           POCKETREC_STATUS_BAD_FORMAT, "STT shape [[%lld,%lld],[%lld,%lld]] R=%lld t=%lld does not fit %lld items x %lld",
           static_cast<long long>(c.I1), static_cast<long long>(c.I2), static_cast<long long>(c.J1),
           static_cast<long long>(c.J2), static_cast<long long>(c.R), static_cast<long long>(c.t),
           static_cast<long long>(n_items), static_cast<long long>(d));
  kind_ = Kind::kSttCores;
  stt_ = c;
  n_items_ = n_items;
  d_ = d;
  const int64_t P = c.R / c.t, W = c.J2 / c.t, M = c.J1 * c.t;
  a_.resize(static_cast<size_t>(c.I1 * P * M));
  for (int64_t i1 = 0; i1 < c.I1; ++i1)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t j1 = 0; j1 < c.J1; ++j1)
        for (int64_t c2 = 0; c2 < c.t; ++c2)
          a_[(i1 * P + p) * M + j1 * c.t + c2] = c.core0[(i1 * c.J1 + j1) * c.R + p * c.t + c2];
  b_.resize(static_cast<size_t>(P * W * c.I2));
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i2 = 0; i2 < c.I2; ++i2)
      for (int64_t w = 0; w < W; ++w) b_[(p * W + w) * c.I2 + i2] = c.core1[p * (c.I2 * W) + i2 * W + w];
  return Status::Ok();
}

void SttCores::row(int64_t item, float* out) const {
  const int64_t i1 = item / I2, i2 = item % I2, P = R / t, W = J2 / t;
  for (int64_t j1 = 0; j1 < J1; ++j1)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c2 = 0; c2 < t; ++c2) {
        float s = 0;
        for (int64_t p = 0; p < P; ++p) s += core0[(i1 * J1 + j1) * R + p * t + c2] * core1[p * (I2 * W) + i2 * W + w];
        out[j1 * J2 + w * t + c2] = s;
      }
}

std::vector<float> ItemScorer::rebuild_table(const SttCores& c, int64_t n_items) {
  const int64_t d = c.J1 * c.J2;
  std::vector<float> table(static_cast<size_t>(n_items * d));
  for (int64_t v = 0; v < n_items; ++v) c.row(v, table.data() + v * d);
  return table;
}

size_t ItemScorer::scratch_floats() const {
  if (kind_ != Kind::kSttCores) return 0;
  const int64_t P = stt_.R / stt_.t, W = stt_.J2 / stt_.t;
  return static_cast<size_t>(stt_.J1 * stt_.t * W + stt_.I1 * P * W);  // Q' and G
}

size_t ItemScorer::output_floats() const {
  return static_cast<size_t>(kind_ == Kind::kSttCores ? stt_.I1 * stt_.I2 : n_items_);
}

size_t ItemScorer::bytes() const {
  switch (kind_) {
    case Kind::kFp32Table: return static_cast<size_t>(n_items_ * d_) * 4;
    case Kind::kInt8Table: return q8_.size() + scale_.size() * 4;
    case Kind::kSttCores: return (a_.size() + b_.size()) * 4;
  }
  return 0;
}

void ItemScorer::score(const float* q, float* scratch, float* out) const {
  if (kind_ == Kind::kFp32Table) {
    for (int64_t v = 0; v < n_items_; ++v) out[v] = dot(rows_ + v * d_, q, static_cast<size_t>(d_));
    return;
  }
  if (kind_ == Kind::kInt8Table) {
    for (int64_t v = 0; v < n_items_; ++v) {
      const int8_t* r = q8_.data() + v * d_;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t j = 0;
      for (; j + 8 <= d_; j += 8)
        for (int64_t u = 0; u < 8; ++u) acc[u] += static_cast<float>(r[j + u]) * q[j + u];
      float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; j < d_; ++j) s += static_cast<float>(r[j]) * q[j];
      out[v] = s * scale_[v];
    }
    return;
  }
  const SttCores& c = stt_;
  const int64_t P = c.R / c.t, W = c.J2 / c.t, M = c.J1 * c.t, K = P * W;
  float* qt = scratch;           // Q'^T[j2a][(j1, c2)] = q[j1 J2 + j2a t + c2]
  float* G = scratch + M * W;    // G[i1][(p, j2a)]
  for (int64_t j1 = 0; j1 < c.J1; ++j1)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c2 = 0; c2 < c.t; ++c2) qt[w * M + j1 * c.t + c2] = q[j1 * c.J2 + w * c.t + c2];
  // G = A [(I1 P) x M] . Q' [M x W]: W (small) dot products of length M per row of A.
  for (int64_t r = 0; r < c.I1 * P; ++r)
    for (int64_t w = 0; w < W; ++w) G[r * W + w] = dot(a_.data() + r * M, qt + w * M, static_cast<size_t>(M));
  // S [I1 x I2] = G [I1 x K] . B [K x I2]: the scores of items v = i1 I2 + i2 in order.
  matmul(G, static_cast<size_t>(c.I1), static_cast<size_t>(K), b_.data(), static_cast<size_t>(c.I2), out);
}

}  // namespace pocketrec::runtime
