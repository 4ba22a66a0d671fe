// Scorer for every model whose score is <query vector, item vector> + item bias (BPR, Caser's
// output layer, Fossil, SASRec): the model only encodes queries; item scoring runs on the packed,
// deterministic kernel of score_kernel.h.
#pragma once

#include <functional>
#include <vector>

#include "eval/score_kernel.h"
#include "eval/scorer.h"

namespace pocketrec::eval {

class DotProductScorer : public Scorer {
 public:
  // Writes the query vectors of queries[0..n) of `set` to out [n, dim] (row-major).
  using Encoder = std::function<void(const data::EvalSet& set, const int32_t* queries, size_t n, float* out)>;

  // item_matrix: [n_items, dim] row-major; item_bias: n_items values or empty.
  DotProductScorer(const std::vector<float>& item_matrix, const std::vector<float>& item_bias, int32_t n_items,
                   int32_t dim, Encoder encoder);

  int32_t n_items() const override { return items_.n_items(); }
  void prepare(const data::EvalSet& set, const int32_t* queries, size_t n) override;
  void score(size_t row_begin, size_t n_rows, int32_t item_begin, int32_t item_end, float* out,
             size_t ld) const override;

 private:
  PackedItemMatrix items_;
  Encoder encoder_;
  std::vector<float> queries_;
};

}  // namespace pocketrec::eval
