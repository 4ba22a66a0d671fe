#include "data/popularity.h"

#include <algorithm>

namespace pocketrec::data {

std::vector<uint8_t> hot_items(const Sequences& train, int32_t n_items, double fraction) {
  std::vector<int64_t> count(static_cast<size_t>(n_items), 0);
  std::vector<int32_t> first_seen;
  for (size_t s = 0; s < train.size(); ++s) {
    ItemSpan span = train[s];
    for (size_t j = 0; j + 1 < span.size(); ++j) {
      if (count[span[j]] == 0) first_seen.push_back(span[j]);
      count[span[j]] += static_cast<int64_t>(span.size() - 1 - j);
    }
  }
  std::stable_sort(first_seen.begin(), first_seen.end(), [&](int32_t a, int32_t b) { return count[a] > count[b]; });
  std::vector<uint8_t> hot(static_cast<size_t>(n_items) + 1, 0);
  const auto n_hot = static_cast<size_t>(fraction * static_cast<double>(first_seen.size()));
  for (size_t i = 0; i < n_hot; ++i) hot[first_seen[i]] = 1;
  return hot;
}

}  // namespace pocketrec::data
