// Training samples as (sequence, position) indices into one Sequences item array: nothing is
// copied until a mini-batch is gathered.
//   next-item (prefix) samples: input = seq[start, pos), target = seq[pos]
//   window samples (Caser):     input = the L items before pos (left-padded), targets = seq[pos, pos+T)
#pragma once

#include <cstdint>
#include <vector>

#include "data/sequences.h"

namespace pocketrec::data {

struct SampleIndex {
  std::vector<int32_t> seq;  // which sequence
  std::vector<int64_t> pos;  // absolute position of the (first) target in Sequences::items
  size_t size() const { return pos.size(); }
};

// Every position with at least `min_context` earlier items in its sequence (min_context=0 also
// yields the first item, with an empty input: the (user, item) pairs of matrix factorisation).
SampleIndex make_next_item_samples(const Sequences& seqs, int64_t min_context);

// RD/Caser windows of L inputs and T targets, step 1: a sequence of length c >= L+T gives
// c-L-T+1 windows; a shorter one (c > T) gives one window left-padded with `pad` (caser_pytorch).
SampleIndex make_window_samples(const Sequences& seqs, int64_t L, int64_t T);

// The distinct items of every sequence, sorted: users' item sets (negative sampling, FISM, ItemCF).
Sequences distinct_sorted(const Sequences& seqs);

// Writes the L items before samples.pos[i] (left-padded with pad) to out[0..L).
void gather_window(const Sequences& seqs, const SampleIndex& samples, size_t i, int64_t L, int32_t pad, int64_t* out);

}  // namespace pocketrec::data
