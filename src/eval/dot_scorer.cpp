#include "eval/dot_scorer.h"

#include "core/error.h"

namespace pocketrec::eval {

DotProductScorer::DotProductScorer(const std::vector<float>& item_matrix, const std::vector<float>& item_bias,
                                   int32_t n_items, int32_t dim, Encoder encoder)
    : items_(item_matrix.data(), n_items, dim, item_bias.empty() ? nullptr : item_bias.data()),
      encoder_(std::move(encoder)) {
  PR_ASSERT(item_matrix.size() == static_cast<size_t>(n_items) * dim, "item matrix is {} floats, expected {}x{}",
            item_matrix.size(), n_items, dim);
  PR_ASSERT(item_bias.empty() || item_bias.size() == static_cast<size_t>(n_items));
}

void DotProductScorer::prepare(const data::EvalSet& set, const int32_t* queries, size_t n) {
  queries_.assign(n * items_.dim(), 0.0f);
  encoder_(set, queries, n, queries_.data());
}

void DotProductScorer::score(size_t row_begin, size_t n_rows, int32_t item_begin, int32_t item_end, float* out,
                             size_t ld) const {
  score_packed(queries_.data() + row_begin * items_.dim(), n_rows, items_.dim(), items_, item_begin, item_end, out, ld);
}

}  // namespace pocketrec::eval
