// Dot-product scoring kernel: scores[r, j] = <query_r, item_j> + bias_j over a packed item matrix.
//
// Items are packed once into panels of 16 items stored dimension-major ([d][16]) so the inner loop
// broadcasts one query value and multiplies 16 items with two AVX2 FMAs. Every score is the same
// FMA chain over k = 0..d-1 (then + bias) whichever rows, panel or code path computes it, so a
// score never depends on the batch or range it was asked in (compiled with -ffp-contract=off).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketrec::eval {

class PackedItemMatrix {
 public:
  static constexpr int kPanel = 16;
  PackedItemMatrix() = default;
  // items: [n_items, dim] row-major; bias: n_items values or empty.
  PackedItemMatrix(const float* items, int32_t n_items, int32_t dim, const float* bias);
  int32_t n_items() const { return n_items_; }
  int32_t dim() const { return dim_; }
  const float* panel(int64_t p) const { return data_.data() + p * kPanel * dim_; }
  const float* panel_bias(int64_t p) const { return bias_.data() + p * kPanel; }

 private:
  int32_t n_items_ = 0, dim_ = 0;
  std::vector<float> data_;  // panels of 16 items, each [dim][16]
  std::vector<float> bias_;
};

// queries: [n_rows, dim] with row stride ldq. Writes out[r*ld + (j - item_begin)].
void score_packed(const float* queries, size_t n_rows, size_t ldq, const PackedItemMatrix& items, int32_t item_begin,
                  int32_t item_end, float* out, size_t ld);

// Which code path score_packed uses on this CPU ("avx2-fma" or "scalar-fma").
const char* score_kernel_name();

}  // namespace pocketrec::eval

namespace pocketrec::eval {

// Rank-counting scan over one row of scores: returns |{j : v[j] > s}| and adds |{j : v[j] == s}|
// to *n_equal; sets *saw_nan if any v[j] is NaN. Vectorised (AVX2) where available.
int64_t count_greater(const float* v, size_t n, float s, int64_t* n_equal, bool* saw_nan);

}  // namespace pocketrec::eval
