// The k best items of one score row, best first, ties to the smaller index: the same order the
// evaluator ranks by and the on-device runtime returns. Used where whole lists are needed (the
// teacher top-K cache, the export's runtime-vs-LibTorch check); the evaluator itself counts ranks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace pocketrec::eval {

inline std::vector<int32_t> top_k_indices(const float* scores, int32_t n, size_t k) {
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](int32_t a, int32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  idx.resize(k);
  return idx;
}

}  // namespace pocketrec::eval
