#include "models/pop.h"

#include <algorithm>

#include "core/array_archive.h"

namespace pocketrec::models {
namespace {

class PopularityScorer : public eval::Scorer {
 public:
  explicit PopularityScorer(const std::vector<float>& counts) : counts_(counts) {}
  int32_t n_items() const override { return static_cast<int32_t>(counts_.size()); }
  void prepare(const data::EvalSet&, const int32_t*, size_t) override {}
  void score(size_t, size_t n_rows, int32_t item_begin, int32_t item_end, float* out, size_t ld) const override {
    for (size_t r = 0; r < n_rows; ++r)
      std::copy(counts_.begin() + item_begin, counts_.begin() + item_end, out + r * ld);
  }

 private:
  const std::vector<float>& counts_;
};

}  // namespace

void PopularityModel::fit(const data::Dataset& data) {
  std::fill(counts_.begin(), counts_.end(), 0.0f);
  for (int32_t i : data.train.items) counts_[i] += 1.0f;
}

std::unique_ptr<eval::Scorer> PopularityModel::make_scorer(const data::Dataset&) const {
  return std::make_unique<PopularityScorer>(counts_);
}

void PopularityModel::save(const std::string& path) const {
  ArrayArchive ar;
  ar.meta["model"] = "pop";
  ar.add("counts", counts_);
  ar.save(path);
}

void PopularityModel::load(const std::string& path) {
  ArrayArchive ar = ArrayArchive::load(path);
  PR_CHECK(ar.meta.value("model", "") == "pop", ErrorCode::kBadFormat, "{}: not a pop model", path);
  counts_ = ar.get_vector<float>("counts", {counts_.size()});
}

}  // namespace pocketrec::models
