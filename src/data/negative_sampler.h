// Uniform negative sampling over the catalogue, excluding the positive and (optionally) every item
// of the sample's training sequence (the user's history), by rejection against sorted item sets.
#pragma once

#include <cstdint>
#include <random>

#include "data/sequences.h"

namespace pocketrec::data {

class NegativeSampler {
 public:
  // history[s] = training sequence s; exclude_history=false only avoids the positive.
  NegativeSampler(const Sequences& history, int32_t n_items, bool exclude_history);
  // One negative for a sample of sequence s with positive item `positive`.
  int32_t sample(int32_t s, int32_t positive, std::mt19937_64& rng) const;
  bool excluded(int32_t s, int32_t item) const;  // is `item` in sequence s's history set
  // The distinct items of sequence s, sorted (the set negatives avoid).
  ItemSpan history_set(int32_t s) const { return sorted_[static_cast<size_t>(s)]; }

 private:
  Sequences sorted_;  // distinct items of each sequence, sorted
  int32_t n_items_;
  bool exclude_history_;
};

}  // namespace pocketrec::data
