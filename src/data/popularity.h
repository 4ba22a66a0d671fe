// Item popularity in the training data: which items are "hot" (frequent) and which are the long
// tail. OD-Rec's embedding recombination (docs/design/odrec.md §3.1) and the evaluator's hot/cold breakdown
// (eval.popularity_split) use the same definition, so a "cold target" in a report is exactly an
// item the KD treated as cold.
#pragma once

#include <cstdint>
#include <vector>

#include "data/sequences.h"

namespace pocketrec::data {

// The top floor(fraction x #distinct) items by how often they occur in the training input
// prefixes (every prefix of every sequence counted, as in the prefix-expanded training file: an
// item at position j of a sequence of length n is in the inputs of the n - 1 - j samples that
// predict positions j+1..n-1), ties in first-seen order. Returns a 0/1 flag per item plus one
// trailing 0 (a slot for the padding id of models that use n_items as padding).
std::vector<uint8_t> hot_items(const Sequences& train, int32_t n_items, double fraction);

}  // namespace pocketrec::data
