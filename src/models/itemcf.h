// ItemCF (Sarwar et al., WWW'01; RecBole ItemKNN): item-item cosine similarity of the binary
// user/session x item matrix,
//   sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink),
// optionally truncated to each item's k nearest neighbours; a query scores item j as
//   score(j) = sum over distinct history items i of sim(i, j).
#pragma once

#include "models/recommender.h"

namespace pocketrec::models {

class ItemCFModel : public Recommender, public FittedModel {
 public:
  ItemCFModel(const ItemCfOptions& options, int32_t n_items);
  void fit(const data::Dataset& data) override;
  std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset& data) const override;
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  int64_t n_parameters() const override { return static_cast<int64_t>(sims_.size()); }

  // Similarity of i and j (0 if j is not among i's neighbours).
  float similarity(int32_t i, int32_t j) const;
  // Accumulates sum_{i in distinct(history)} sim(i, .) into out[0..n_items).
  void score_history(data::ItemSpan history, float* out) const;

 private:
  int32_t n_items_;
  int64_t neighbors_;
  double shrink_;
  // CSR neighbour lists, each sorted by item id.
  std::vector<int64_t> offsets_;
  std::vector<int32_t> neighbors_ids_;
  std::vector<float> sims_;
};

}  // namespace pocketrec::models
