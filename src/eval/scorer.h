// The evaluator's only view of a model: scores for (query row, item range). It never sees a tensor.
#pragma once

#include <cstddef>
#include <cstdint>

#include "data/dataset.h"

namespace pocketrec::eval {

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual int32_t n_items() const = 0;
  // Prepares rows 0..n-1 for queries[0..n) of `set` (e.g. encodes their histories). Called from one
  // thread before score(); the rows stay valid until the next prepare().
  virtual void prepare(const data::EvalSet& set, const int32_t* queries, size_t n) = 0;
  // out[r * ld + (j - item_begin)] = score of prepared row row_begin + r and item j, for
  // j in [item_begin, item_end). Called concurrently for disjoint rows. The value for a given
  // (row, item) must not depend on the ranges asked for: that is what makes evaluation results
  // independent of batch size, chunk size and thread count.
  virtual void score(size_t row_begin, size_t n_rows, int32_t item_begin, int32_t item_end, float* out,
                     size_t ld) const = 0;
};

}  // namespace pocketrec::eval
