#include "data/negative_sampler.h"

#include <algorithm>
#include <vector>

#include "data/samples.h"

namespace pocketrec::data {

NegativeSampler::NegativeSampler(const Sequences& history, int32_t n_items, bool exclude_history)
    : sorted_(distinct_sorted(history)), n_items_(n_items), exclude_history_(exclude_history) {}

bool NegativeSampler::excluded(int32_t s, int32_t item) const {
  ItemSpan h = history_set(s);
  return std::binary_search(h.begin(), h.end(), item);
}

int32_t NegativeSampler::sample(int32_t s, int32_t positive, std::mt19937_64& rng) const {
  std::uniform_int_distribution<int32_t> pick(0, n_items_ - 1);
  int32_t j = pick(rng);
  // Rejection sampling; a user who has seen nearly the whole catalogue falls back after 100 tries.
  for (int tries = 0; tries < 100; ++tries) {
    if (j != positive && !(exclude_history_ && excluded(s, j))) break;
    j = pick(rng);
  }
  return j;
}

}  // namespace pocketrec::data
