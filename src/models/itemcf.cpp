#include "models/itemcf.h"

#include <algorithm>
#include <cmath>

#include "core/array_archive.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/samples.h"

#include <omp.h>

namespace pocketrec::models {
namespace {

class ItemCFScorer : public eval::Scorer {
 public:
  explicit ItemCFScorer(const ItemCFModel& m, int32_t n_items) : m_(m), n_items_(n_items) {}
  int32_t n_items() const override { return n_items_; }
  // Dense rows for the batch: memory is batch x n_items floats.
  void prepare(const data::EvalSet& set, const int32_t* queries, size_t n) override {
    rows_.assign(n * static_cast<size_t>(n_items_), 0.0f);
#pragma omp parallel for schedule(dynamic, 8)
    for (size_t r = 0; r < n; ++r) m_.score_history(set.history[queries[r]], rows_.data() + r * n_items_);
  }
  void score(size_t row_begin, size_t n_rows, int32_t item_begin, int32_t item_end, float* out,
             size_t ld) const override {
    for (size_t r = 0; r < n_rows; ++r) {
      const float* src = rows_.data() + (row_begin + r) * n_items_;
      std::copy(src + item_begin, src + item_end, out + r * ld);
    }
  }

 private:
  const ItemCFModel& m_;
  int32_t n_items_;
  std::vector<float> rows_;
};

}  // namespace

ItemCFModel::ItemCFModel(const ItemCfOptions& options, int32_t n_items)
    : n_items_(n_items),
      neighbors_(options.neighbors),
      shrink_(options.shrink),
      offsets_(static_cast<size_t>(n_items) + 1, 0) {}

void ItemCFModel::fit(const data::Dataset& data) {
  // Binary matrix: distinct items per training sequence, and the inverted lists.
  const data::Sequences user_items = data::distinct_sorted(data.train);
  std::vector<int64_t> item_count(n_items_, 0);
  for (int32_t i : user_items.items) ++item_count[i];
  data::Sequences item_users;
  item_users.offsets.assign(static_cast<size_t>(n_items_) + 1, 0);
  for (int32_t i = 0; i < n_items_; ++i) item_users.offsets[i + 1] = item_users.offsets[i] + item_count[i];
  item_users.items.resize(user_items.total());
  {
    std::vector<int64_t> fill(item_users.offsets.begin(), item_users.offsets.end() - 1);
    for (size_t u = 0; u < user_items.size(); ++u)
      for (int32_t i : user_items[u]) item_users.items[fill[i]++] = static_cast<int32_t>(u);
  }
  // Row i of the similarity matrix from a dense co-occurrence accumulator, per thread.
  std::vector<std::vector<int32_t>> row_ids(n_items_);
  std::vector<std::vector<float>> row_sims(n_items_);
  ProgressBar bar("itemcf similarities", n_items_, "items");
#pragma omp parallel
  {
    std::vector<int32_t> co(n_items_, 0), touched;
    std::vector<std::pair<float, int32_t>> cand;
#pragma omp for schedule(dynamic, 64)
    for (int32_t i = 0; i < n_items_; ++i) {
      touched.clear();
      for (int32_t u : item_users[i])
        for (int32_t j : user_items[u]) {
          if (j == i) continue;
          if (co[j]++ == 0) touched.push_back(j);
        }
      cand.clear();
      for (int32_t j : touched) {
        double denom = std::sqrt(static_cast<double>(item_count[i]) * item_count[j]) + shrink_;
        cand.emplace_back(static_cast<float>(co[j] / denom), j);
        co[j] = 0;
      }
      if (neighbors_ > 0 && static_cast<int64_t>(cand.size()) > neighbors_) {
        // Keep the k most similar (ties: lower id), deterministic.
        std::nth_element(cand.begin(), cand.begin() + neighbors_, cand.end(), [](const auto& a, const auto& b) {
          return a.first > b.first || (a.first == b.first && a.second < b.second);
        });
        cand.resize(neighbors_);
      }
      std::sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      for (const auto& [s, j] : cand) row_ids[i].push_back(j), row_sims[i].push_back(s);
      if (omp_get_thread_num() == 0) bar.advance(64);
    }
  }
  bar.finish();
  offsets_.assign(static_cast<size_t>(n_items_) + 1, 0);
  for (int32_t i = 0; i < n_items_; ++i) offsets_[i + 1] = offsets_[i] + static_cast<int64_t>(row_ids[i].size());
  neighbors_ids_.clear();
  sims_.clear();
  neighbors_ids_.reserve(offsets_.back());
  sims_.reserve(offsets_.back());
  for (int32_t i = 0; i < n_items_; ++i) {
    neighbors_ids_.insert(neighbors_ids_.end(), row_ids[i].begin(), row_ids[i].end());
    sims_.insert(sims_.end(), row_sims[i].begin(), row_sims[i].end());
  }
  log_info("itemcf: {} non-zero similarities ({:.1f} per item)", sims_.size(),
           static_cast<double>(sims_.size()) / std::max(1, n_items_));
}

float ItemCFModel::similarity(int32_t i, int32_t j) const {
  auto b = neighbors_ids_.begin() + offsets_[i], e = neighbors_ids_.begin() + offsets_[i + 1];
  auto it = std::lower_bound(b, e, j);
  return (it != e && *it == j) ? sims_[it - neighbors_ids_.begin()] : 0.0f;
}

void ItemCFModel::score_history(data::ItemSpan history, float* out) const {
  std::vector<int32_t> h(history.begin(), history.end());
  std::sort(h.begin(), h.end());
  h.erase(std::unique(h.begin(), h.end()), h.end());
  for (int32_t i : h) {
    if (i < 0 || i >= n_items_) continue;
    for (int64_t p = offsets_[i]; p < offsets_[i + 1]; ++p) out[neighbors_ids_[p]] += sims_[p];
  }
}

std::unique_ptr<eval::Scorer> ItemCFModel::make_scorer(const data::Dataset&) const {
  return std::make_unique<ItemCFScorer>(*this, n_items_);
}

void ItemCFModel::save(const std::string& path) const {
  ArrayArchive ar;
  ar.meta["model"] = "itemcf";
  ar.add("offsets", offsets_);
  ar.add("neighbors", neighbors_ids_);
  ar.add("similarities", sims_);
  ar.save(path);
}

void ItemCFModel::load(const std::string& path) {
  ArrayArchive ar = ArrayArchive::load(path);
  PR_CHECK(ar.meta.value("model", "") == "itemcf", ErrorCode::kBadFormat, "{}: not an itemcf model", path);
  auto offsets = ar.get_vector<int64_t>("offsets", {static_cast<uint64_t>(n_items_) + 1});
  auto ids = ar.get_vector<int32_t>("neighbors");
  auto sims = ar.get_vector<float>("similarities", {ids.size()});
  PR_CHECK(offsets.front() == 0 && offsets.back() == static_cast<int64_t>(ids.size()) &&
               std::is_sorted(offsets.begin(), offsets.end()),
           ErrorCode::kBadFormat, "{}: inconsistent neighbour offsets", path);
  for (int32_t j : ids)
    PR_CHECK(j >= 0 && j < n_items_, ErrorCode::kBadFormat, "{}: neighbour id {} outside [0, {})", path, j, n_items_);
  offsets_ = std::move(offsets);
  neighbors_ids_ = std::move(ids);
  sims_ = std::move(sims);
}

}  // namespace pocketrec::models
