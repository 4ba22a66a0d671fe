// POP: every query gets the items ranked by training frequency.
#pragma once

#include "models/recommender.h"

namespace pocketrec::models {

class PopularityModel : public Recommender, public FittedModel {
 public:
  explicit PopularityModel(int32_t n_items) : counts_(n_items, 0.0f) {}
  void fit(const data::Dataset& data) override;
  std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset& data) const override;
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  int64_t n_parameters() const override { return static_cast<int64_t>(counts_.size()); }
  const std::vector<float>& counts() const { return counts_; }

 private:
  std::vector<float> counts_;  // training occurrences per item
};

}  // namespace pocketrec::models
