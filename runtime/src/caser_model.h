// Caser inference without LibTorch, as src/models/caser.cpp computes it in eval mode (no dropout):
//   X = E[last L items, left-padded with the padding row]            [L x d]
//   o_v[f, e] = b_v[f] + sum_l w_v[f, l] X[l, e]                      vertical conv, nv filters
//   o_h[h, f] = max_t ac_conv(b_h[f] + <w_h[f], X[t .. t+h)>)          horizontal convs, heights 1..L
//   q = [ac_fc(fc1([o_v; o_h])); U[user]]                              [2d]
//   score(i) = W2[i] . q + b2[i]                                       (the ItemScorer, with bias)
// A horizontal filter of height h over rows t .. t+h of X is one dot product of length h d, since
// both the filter [h x d] and those rows are contiguous.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "next_item_model.h"
#include "weight_views.h"

namespace pocketrec::runtime {

class CaserModel : public NextItemModel {
 public:
  Status load(const PocketFile& file, pocketrec_scoring scoring) override;
  void query_vector(const int32_t* history, size_t n, int32_t user, float* scratch, float* q) const override;

 private:
  enum class Activation { kIden, kRelu, kTanh, kSigm, kGelu };
  static Status parse_activation(const PocketFile& f, const std::string& key, Activation* out);
  static float apply(Activation a, float x);

  int64_t nv_ = 0, nh_ = 0;
  Activation ac_conv_ = Activation::kIden, ac_fc_ = Activation::kIden;
  const float* item_ = nullptr;  // [n_items + 1, d], the padding row last
  const float* user_ = nullptr;  // [n_users, d]
  const float* conv_v_w_ = nullptr;
  const float* conv_v_b_ = nullptr;
  std::vector<const float*> conv_h_w_, conv_h_b_;  // height h = index + 1: [nh x h d], [nh]
  LinearView fc1_;
  const float* W2_ = nullptr;  // [n_items + 1, 2d]
  const float* b2_ = nullptr;  // [n_items + 1]
};

}  // namespace pocketrec::runtime
