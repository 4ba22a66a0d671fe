#include "item_scorer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>

#include "kernels.h"
#include "pocket_format.h"
#include "simd/kernel_table.h"

namespace pocketrec::runtime {

void ItemScorer::init_fp32(const float* rows, int64_t n_items, int64_t d, const float* bias) {
  kind_ = Kind::kFp32Table;
  rows_ = rows;
  bias_ = bias;
  n_items_ = n_items;
  d_ = d;
}

void ItemScorer::init_int8(const float* rows, int64_t n_items, int64_t d, const float* bias) {
  kind_ = Kind::kInt8Table;
  bias_ = bias;
  n_items_ = n_items;
  d_ = d;
  q8_.assign(static_cast<size_t>(n_items * d), 0);
  scale_.assign(static_cast<size_t>(n_items), 0.0f);
  for (int64_t v = 0; v < n_items; ++v)
    scale_[v] = format::quantize_row_i8(rows + v * d, static_cast<size_t>(d), q8_.data() + v * d);
}

Status SttCores::check(const char* source, int64_t n_items, int64_t d) const {
  RT_CHECK(I1 >= 1 && I2 >= 1 && J1 >= 1 && J2 >= 1 && R >= 1 && t >= 1 && I1 <= (1 << 20) && I2 <= (1 << 20) &&
               J1 <= 4096 && J2 <= 4096 && R <= 4096 && R % t == 0 && J2 % t == 0 && I1 * I2 >= n_items && J1 * J2 == d,
           POCKETREC_STATUS_BAD_FORMAT,
           "%s: STT shape [[%lld,%lld],[%lld,%lld]] R=%lld t=%lld does not fit %lld items x %lld", source,
           static_cast<long long>(I1), static_cast<long long>(I2), static_cast<long long>(J1),
           static_cast<long long>(J2), static_cast<long long>(R), static_cast<long long>(t),
           static_cast<long long>(n_items), static_cast<long long>(d));
  if (slot_of_item) {
    std::vector<char> seen(static_cast<size_t>(I1 * I2), 0);
    for (int64_t v = 0; v < I1 * I2; ++v) {
      const int64_t slot = slot_of_item[v];
      RT_CHECK(slot >= 0 && slot < I1 * I2 && !seen[static_cast<size_t>(slot)], POCKETREC_STATUS_BAD_FORMAT,
               "%s: the STT item order is not a permutation of the %lld slots (item %lld -> slot %lld)", source,
               static_cast<long long>(I1 * I2), static_cast<long long>(v), static_cast<long long>(slot));
      seen[static_cast<size_t>(slot)] = 1;
    }
  }
  return Status::Ok();
}

Status ItemScorer::init_stt(const SttCores& c, int64_t n_items, int64_t d) {
  RT_TRY(c.check("STT cores", n_items, d));
  kind_ = Kind::kSttCores;
  stt_ = c;
  n_items_ = n_items;
  d_ = d;
  const int64_t P = c.R / c.t, W = c.J2 / c.t, M = c.J1 * c.t, IP = c.I1 * P;
  a_.resize(static_cast<size_t>(M * IP));
  for (int64_t i1 = 0; i1 < c.I1; ++i1)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t j1 = 0; j1 < c.J1; ++j1)
        for (int64_t c2 = 0; c2 < c.t; ++c2)
          a_[(j1 * c.t + c2) * IP + i1 * P + p] = c.core0[(i1 * c.J1 + j1) * c.R + p * c.t + c2];
  b_.resize(static_cast<size_t>(P * W * c.I2));
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i2 = 0; i2 < c.I2; ++i2)
      for (int64_t w = 0; w < W; ++w) b_[(w * P + p) * c.I2 + i2] = c.core1[p * (c.I2 * W) + i2 * W + w];
  return Status::Ok();
}

void SttCores::row(int64_t item, float* out) const {
  const int64_t slot = slot_of_item ? slot_of_item[item] : item;
  const int64_t i1 = slot / I2, i2 = slot % I2, P = R / t, W = J2 / t;
  for (int64_t j1 = 0; j1 < J1; ++j1)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c2 = 0; c2 < t; ++c2) {
        float s = 0;
        for (int64_t p = 0; p < P; ++p) s += core0[(i1 * J1 + j1) * R + p * t + c2] * core1[p * (I2 * W) + i2 * W + w];
        out[j1 * J2 + w * t + c2] = s;
      }
}

Status PqTable::check(const char* source, int64_t n_items, int64_t d) const {
  RT_CHECK(M >= 1 && M <= 4096 && K >= 2 && K <= 256 && s >= 1 && M * s == d, POCKETREC_STATUS_BAD_FORMAT,
           "%s: PQ shape M=%lld K=%lld does not fit dimension %lld", source, static_cast<long long>(M),
           static_cast<long long>(K), static_cast<long long>(d));
  for (int64_t i = 0; i < n_items * M; ++i)
    RT_CHECK(codes[i] < K, POCKETREC_STATUS_BAD_FORMAT,
             "%s: PQ code %u of item %lld, sub-space %lld, is not below %lld", source, static_cast<unsigned>(codes[i]),
             static_cast<long long>(i / M), static_cast<long long>(i % M), static_cast<long long>(K));
  return Status::Ok();
}

void PqTable::row(int64_t item, float* out) const {
  const int64_t d = M * s;
  const uint8_t* c = codes + item * M;
  if (!rotation) {
    for (int64_t m = 0; m < M; ++m) std::copy_n(codebooks + (m * K + c[m]) * s, s, out + m * s);
    return;
  }
  std::fill(out, out + d, 0.0f);  // out = [codewords] R, accumulated row by row of R
  for (int64_t m = 0; m < M; ++m) {
    const float* w = codebooks + (m * K + c[m]) * s;
    for (int64_t j = 0; j < s; ++j) {
      const float x = w[j];
      const float* r = rotation + (m * s + j) * d;
      for (int64_t k = 0; k < d; ++k) out[k] += x * r[k];
    }
  }
}

Status ItemScorer::init_pq(const PqTable& pq, int64_t n_items, int64_t d) {
  RT_TRY(pq.check("PQ codes", n_items, d));
  kind_ = Kind::kPqCodes;
  pq_ = pq;
  n_items_ = n_items;
  d_ = d;
  books_t_.resize(static_cast<size_t>(pq.M * pq.K * pq.s));
  for (int64_t m = 0; m < pq.M; ++m)
    for (int64_t k = 0; k < pq.K; ++k)
      for (int64_t j = 0; j < pq.s; ++j)
        books_t_[static_cast<size_t>((m * pq.s + j) * pq.K + k)] = pq.codebooks[(m * pq.K + k) * pq.s + j];
  packed_.clear();
  blocked_.clear();
  if (pq.K > 16 && pq.M <= 256 && kernels().pq_scan_u8) {  // pq_scan_u8's layout; M <= 256: 16-bit sums
    const int64_t M = pq.M, B = int64_t{kPqU8Block};
    blocked_.assign(pq_u8_blocks(n_items) * static_cast<size_t>(M * B), 0);  // the last block's missing items: 0
    for (int64_t v = 0; v < n_items; ++v)
      for (int64_t m = 0; m < M; ++m)
        blocked_[static_cast<size_t>((v / B * M + m) * B) + pq_u8_byte(static_cast<size_t>(v % B))] =
            pq.codes[v * M + m];
  }
  if (pq.K <= 16 && kernels().pq_scan16) {  // the 4-bit layout of the register-LUT scan (kernel_table.h)
    const int64_t M = pq.M, group = int64_t{kPqGroupBytes};
    packed_.assign(pq_blocks(n_items) * static_cast<size_t>(M * group), 0);  // the last block's missing items: code 0
    for (int64_t v = 0; v < n_items; ++v) {
      const int64_t b = v / int64_t{kPqBlock}, j = v % int64_t{kPqBlock};
      for (int64_t m = 0; m < M; ++m)
        packed_[static_cast<size_t>((b * M + m) * group + j % group)] |=
            static_cast<uint8_t>(pq.codes[v * M + m] << (j / group * 4));
    }
  }
  return Status::Ok();
}

std::vector<float> ItemScorer::rebuild_table(const PqTable& pq, int64_t n_items, int64_t d) {
  std::vector<float> table(static_cast<size_t>(n_items * d));
  for (int64_t v = 0; v < n_items; ++v) pq.row(v, table.data() + v * d);
  return table;
}

std::vector<float> ItemScorer::rebuild_table(const SttCores& c, int64_t n_items) {
  const int64_t d = c.J1 * c.J2;
  std::vector<float> table(static_cast<size_t>(n_items * d));
  for (int64_t v = 0; v < n_items; ++v) c.row(v, table.data() + v * d);
  return table;
}

void ItemScorer::add_bias(float* out) const {
  if (bias_)
    for (int64_t v = 0; v < n_items_; ++v) out[v] += bias_[v];
}

size_t ItemScorer::scratch_floats() const {
  if (kind_ == Kind::kPqCodes) return static_cast<size_t>(d_ + pq_.M * lut_stride());  // q' and the LUT
  if (kind_ != Kind::kSttCores) return 0;
  const int64_t P = stt_.R / stt_.t, W = stt_.J2 / stt_.t;
  // Q'^T, G^T and G, and with an item order the scores in slot order
  return static_cast<size_t>(stt_.J1 * stt_.t * W + 2 * stt_.I1 * P * W + (stt_.slot_of_item ? stt_.I1 * stt_.I2 : 0));
}

size_t ItemScorer::owned_bytes() const {
  switch (kind_) {
    case Kind::kInt8Table:
    case Kind::kSttCores: return bytes();
    case Kind::kPqCodes: return packed_.size() + blocked_.size() + books_t_.size() * sizeof(float);
    case Kind::kFp32Table: return 0;
  }
  return 0;
}

size_t ItemScorer::output_floats() const {
  if (kind_ == Kind::kPqCodes && !packed_.empty()) return pq_blocks(n_items_) * kPqBlock;  // whole blocks
  return static_cast<size_t>(kind_ == Kind::kSttCores ? stt_.I1 * stt_.I2 : n_items_);
}

size_t ItemScorer::bytes() const {
  switch (kind_) {
    case Kind::kFp32Table: return static_cast<size_t>(n_items_ * d_) * 4;
    case Kind::kInt8Table: return q8_.size() + scale_.size() * 4;
    case Kind::kSttCores: return (a_.size() + b_.size()) * 4;
    case Kind::kPqCodes:
      return (packed_.empty() ? (blocked_.empty() ? static_cast<size_t>(n_items_ * pq_.M) : blocked_.size())
                              : packed_.size()) +
             static_cast<size_t>(pq_.M * pq_.K * pq_.s * 4 + (pq_.rotation ? d_ * d_ * 4 : 0));
  }
  return 0;
}

float* ItemScorer::pq_lut(const float* q, float* scratch) const {
  const PqTable& p = pq_;
  const int64_t M = p.M, K = p.K, s = p.s, stride = lut_stride();
  float* qr = scratch;   // q' = R q, [d]
  float* lut = qr + d_;  // [M, stride]
  if (p.rotation) {
    for (int64_t j = 0; j < d_; ++j) qr[j] = dot(p.rotation + j * d_, q, static_cast<size_t>(d_));
  } else {
    std::copy_n(q, d_, qr);
  }
  // LUT[m] [1 x K] = q'_m [1 x s] . C_m^T [s x K]: a product along the long axis K (one dot product
  // of s = d / M values per codeword would be K short calls per sub-space).
  for (int64_t m = 0; m < M; ++m) {
    kernels().matmul(qr + m * s, 1, static_cast<size_t>(s), books_t_.data() + m * s * K, static_cast<size_t>(K),
                     lut + m * stride);
    std::fill(lut + m * stride + K, lut + (m + 1) * stride, 0.0f);  // no code reaches them
  }
  return lut;
}

// score[v] = sum_m LUT[m][codes[v][m]] (simd/kernels.inc: pq_scan, and pq_scan16 for K <= 16).
void ItemScorer::score_pq(const float* q, float* scratch, float* out) const {
  const PqTable& p = pq_;
  const int64_t M = p.M, K = p.K;
  const float* lut = pq_lut(q, scratch);
  if (!packed_.empty()) {
    kernels().pq_scan16(packed_.data(), pq_blocks(n_items_), static_cast<size_t>(M), lut, out);
    return;
  }
  kernels().pq_scan(p.codes, static_cast<size_t>(n_items_), static_cast<size_t>(M), static_cast<size_t>(K), lut, out);
}

void ItemScorer::prepare(TopKBuffers& buf) const {
  const size_t blocks = blocked_.empty() ? 0 : pq_u8_blocks(n_items_);
  buf.lut8.assign(blocks ? static_cast<size_t>(pq_.M) * kPqU8LutRow : 0, 0);
  buf.sums.assign(blocks * kPqU8Block, 0);
  buf.block_max.assign(blocks, 0);
  buf.best_max.assign(blocks, 0);
  buf.candidates.assign(blocks ? static_cast<size_t>(n_items_) : 0, 0);
}

// The bound (docs/design/pq.md §4). Sub-space m's LUT entries become bytes
//   u[m][c] = round((LUT[m][c] - lo_m) / delta),  delta = max_m (hi_m - lo_m) / 255,
// so an item's score S (the byte scan's fp32 sum) and its integer sum U = sum_m u[m][c_m] satisfy
//   |S - (sum_m lo_m + delta U)| <= E,  E = M delta / 2 (rounding) + the fp32 error of S's M adds.
// The k items of the best sums (the k-th best is T) all score at least sum lo + delta T - E, so the
// k-th best score does too, and an item of the exact top k has U >= T - 2 E / delta: `slack` units
// below T. M + 1 units cover the rounding (the +1 the float error of computing u), the rest the
// fp32 error bound 2 M eps sum_m max|LUT[m]| (eps = FLT_EPSILON, twice the rounding of one add).
bool ItemScorer::approximate_scan(const float* q, size_t k, float* scratch, TopKBuffers& buf, size_t* slack) const {
  const size_t blocks = blocked_.empty() ? 0 : pq_u8_blocks(n_items_);
  if (blocks == 0 || k == 0 || k > blocks / 4) return false;  // pruning cannot pay
  if (buf.sums.size() != blocks * kPqU8Block || buf.lut8.size() != static_cast<size_t>(pq_.M) * kPqU8LutRow ||
      buf.candidates.size() != static_cast<size_t>(n_items_) || buf.best_max.size() != blocks)
    return false;  // buffers prepared for another scorer
  const int64_t M = pq_.M, K = pq_.K;
  const float* lut = pq_lut(q, scratch);
  float lows[256];  // M <= 256 (init_pq)
  float range = 0, magnitude = 0;
  for (int64_t m = 0; m < M; ++m) {
    const float* row = lut + m * K;
    float lo = row[0], hi = row[0], nan_or_inf = 0;
    for (int64_t c = 0; c < K; ++c) {
      lo = row[c] < lo ? row[c] : lo, hi = row[c] > hi ? row[c] : hi;
      nan_or_inf += row[c] * 0.0f;  // NaN once any entry is NaN or infinite
    }
    if (nan_or_inf != 0.0f) return false;  // the full scan's result, whatever it is
    lows[m] = lo;
    range = std::max(range, hi - lo);
    magnitude += std::max(std::fabs(lo), std::fabs(hi));
  }
  if (!(range > 0) || !std::isfinite(range)) return false;
  const double delta = static_cast<double>(range) / 255.0;
  const double fp_error = 2.0 * static_cast<double>(M) * FLT_EPSILON * static_cast<double>(magnitude);
  const double units = static_cast<double>(M + 1) + std::ceil(2.0 * fp_error / delta);
  if (!(units < 255.0 * static_cast<double>(M))) return false;  // no item could be ruled out
  *slack = static_cast<size_t>(units);
  const float inv = 255.0f / range;
  if (!(inv <= FLT_MAX)) return false;  // a range below 255 / FLT_MAX: the step is not a float
  for (int64_t m = 0; m < M; ++m) {
    const float* row = lut + m * K;
    uint8_t* out = buf.lut8.data() + m * int64_t{kPqU8LutRow};
    for (int64_t c = 0; c < K; ++c)  // round half up: (row - lo) inv is in [0, 255] up to rounding
      out[c] = static_cast<uint8_t>(std::min(255, static_cast<int>((row[c] - lows[m]) * inv + 0.5f)));
    std::fill(out + K, out + kPqU8LutRow, uint8_t{0});  // no code reaches them
  }
  kernels().pq_scan_u8(blocked_.data(), blocks, static_cast<size_t>(M), buf.lut8.data(), buf.sums.data(),
                       buf.block_max.data());
  if (static_cast<size_t>(n_items_) % kPqU8Block != 0) {  // the last block's missing items: 0, not code 0's sum
    std::fill(buf.sums.begin() + n_items_, buf.sums.end(), uint16_t{0});
    update_block_max(buf, blocks - 1);
  }
  return true;
}

void ItemScorer::update_block_max(TopKBuffers& buf, size_t block) {
  const uint16_t* sums = buf.sums.data() + block * kPqU8Block;
  buf.block_max[block] = *std::max_element(sums, sums + kPqU8Block);
}

size_t ItemScorer::score_candidates(size_t k, size_t slack, const float* lut, TopKBuffers& buf, float* scores) const {
  const size_t blocks = buf.block_max.size();
  const uint16_t* sums = buf.sums.data();
  // T: the k-th best block maximum, at most the k-th best sum (k blocks hold an item at least as
  // good; with T = 0 every item is kept), from a k-slot min-heap of the maxima.
  uint16_t* best = buf.best_max.data();
  size_t held = 0;
  for (size_t b = 0; b < blocks; ++b) {
    const uint16_t x = buf.block_max[b];
    if (held < k) {
      best[held++] = x;
      std::push_heap(best, best + held, std::greater<uint16_t>());
    } else if (x > best[0]) {
      std::pop_heap(best, best + k, std::greater<uint16_t>());
      best[k - 1] = x;
      std::push_heap(best, best + k, std::greater<uint16_t>());
    }
  }
  const size_t T = best[0];  // k <= blocks / 4: the heap is full
  const uint16_t keep = static_cast<uint16_t>(T > slack ? T - slack : 0);
  const int64_t M = pq_.M, K = pq_.K;
  size_t n = 0;
  for (size_t b = 0; b < blocks; ++b) {
    if (buf.block_max[b] < keep) continue;
    const size_t end = std::min(static_cast<size_t>(n_items_), (b + 1) * kPqU8Block);
    for (size_t v = b * kPqU8Block; v < end; ++v) {
      if (sums[v] < keep) continue;
      const uint8_t* c = pq_.codes + static_cast<int64_t>(v) * M;
      float acc = 0;  // pq_scan's sum, in its order
      for (int64_t m = 0; m < M; ++m) acc += lut[m * K + c[m]];
      buf.candidates[n] = static_cast<int32_t>(v);
      scores[n++] = acc;
    }
  }
  return n;
}

void ItemScorer::score(const float* q, float* scratch, float* out) const {
  if (kind_ == Kind::kPqCodes) {
    score_pq(q, scratch, out);
    return;
  }
  if (kind_ == Kind::kFp32Table) {
    kernels().score_rows_f32(rows_, static_cast<size_t>(n_items_), static_cast<size_t>(d_), q, out);
    add_bias(out);
    return;
  }
  if (kind_ == Kind::kInt8Table) {
    kernels().score_rows_i8(q8_.data(), scale_.data(), static_cast<size_t>(n_items_), static_cast<size_t>(d_), q, out);
    add_bias(out);
    return;
  }
  const SttCores& c = stt_;
  const int64_t P = c.R / c.t, W = c.J2 / c.t, M = c.J1 * c.t, K = P * W, IP = c.I1 * P;
  float* qt = scratch;     // Q'^T[j2a][(j1, c2)] = q[j1 J2 + j2a t + c2]
  float* gt = qt + W * M;  // G^T[j2a][(i1, p)]
  float* g = gt + W * IP;  // G[i1][(j2a, p)]
  for (int64_t j1 = 0; j1 < c.J1; ++j1)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c2 = 0; c2 < c.t; ++c2) qt[w * M + j1 * c.t + c2] = q[j1 * c.J2 + w * c.t + c2];
  // G^T [W x (I1 P)] = Q'^T [W x M] . A^T [M x (I1 P)]: the long axis (I1 P) is the one the tiles run
  // along (W is small: a product with W columns would be W horizontal sums per row of A).
  kernels().matmul(qt, static_cast<size_t>(W), static_cast<size_t>(M), a_.data(), static_cast<size_t>(IP), gt);
  for (int64_t i1 = 0; i1 < c.I1; ++i1)
    for (int64_t w = 0; w < W; ++w) std::copy_n(gt + w * IP + i1 * P, P, g + i1 * K + w * P);
  // S [I1 x I2] = G [I1 x K] . B [K x I2]: the scores of slots i1 I2 + i2 in order, which are the
  // items' unless an item order maps them (one gather, about 1% of the products' work on Tmall).
  if (!c.slot_of_item) {
    kernels().matmul(g, static_cast<size_t>(c.I1), static_cast<size_t>(K), b_.data(), static_cast<size_t>(c.I2), out);
    return;
  }
  float* by_slot = g + c.I1 * K;
  kernels().matmul(g, static_cast<size_t>(c.I1), static_cast<size_t>(K), b_.data(), static_cast<size_t>(c.I2), by_slot);
  for (int64_t v = 0; v < c.I1 * c.I2; ++v) out[v] = by_slot[c.slot_of_item[v]];
}

}  // namespace pocketrec::runtime
