// Fossil inference without LibTorch, as src/models/fossil.cpp scores in eval mode:
//   q = |I|^-alpha * sum_{j in I} P_j  +  sum_{k=1..L} (eta_k + eta^u_k) * P_{h_{n-k}}
//   score(i) = Q_i . q + beta_i                                       (the ItemScorer, with bias)
// where I is the set of distinct items of the history (the FISM part) and h_{n-k} the k-th most
// recent one (the Markov chain; missing steps of a short history weigh 0). The candidate is not
// left out of I here, as in the LibTorch scorer: items of the history are the ones a recommender
// excludes anyway. The history read is the last fossil.max_history items (at export, the longest
// history in the data), deduplicated in the scratch buffer (ids < 2^24 are exact as floats), so a
// query allocates nothing.
#pragma once

#include <cstdint>

#include "next_item_model.h"

namespace pocketrec::runtime {

class FossilModel : public NextItemModel {
 public:
  Status load(const PocketFile& file, pocketrec_scoring scoring) override;
  void query_vector(const int32_t* history, size_t n, int32_t user, float* scratch, float* q) const override;

 private:
  int64_t L_ = 0;
  double alpha_ = 0;
  const float* P_ = nullptr;      // [n_items, d]
  const float* Q_ = nullptr;      // [n_items, d]
  const float* beta_ = nullptr;   // [n_items]
  const float* eta_ = nullptr;    // [L]
  const float* eta_u_ = nullptr;  // [n_users, L]
};

}  // namespace pocketrec::runtime
