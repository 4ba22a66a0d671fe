// What the C API needs from a model: a query vector from a history (and, for models with user
// embeddings, a user), and an ItemScorer that scores that vector against every item. Each
// architecture (sasrec_model.h, caser_model.h) reads its weights from a PocketFile in load();
// make_model() picks one by the file's "pocketrec.architecture".
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "item_scorer.h"
#include "pocket_file.h"
#include "pocketrec/pocketrec.h"

namespace pocketrec::runtime {

class NextItemModel {
 public:
  virtual ~NextItemModel() = default;

  // Reads the hyper-parameters and every weight, checking each shape; `scoring` picks the ItemScorer.
  virtual Status load(const PocketFile& file, pocketrec_scoring scoring) = 0;

  // history: item indices (0 <= i < n_items), the last min(n, max_history()) are read; n >= 1.
  // user: a user index when needs_user(), else ignored. Writes q[query_floats()]; uses only `scratch`.
  virtual void query_vector(const int32_t* history, size_t n, int32_t user, float* scratch, float* q) const = 0;

  const std::string& architecture() const { return architecture_; }
  int64_t n_items() const { return n_items_; }
  int64_t n_users() const { return n_users_; }
  bool needs_user() const { return n_users_ > 0; }
  int64_t dim() const { return d_; }
  int64_t max_history() const { return max_history_; }
  size_t query_floats() const { return query_floats_; }
  size_t scratch_floats() const { return scratch_floats_; }  // query_vector's; the scorer states its own
  const ItemScorer& scorer() const { return scorer_; }
  // What stays resident: the weights used in place in the file, decoded or re-laid-out copies, the
  // scorer's own table.
  size_t weight_bytes() const { return weight_bytes_; }

 protected:
  // The scorer over rows [n_items x dim] (+ bias[n_items]) in a table mode: AUTO and FP32_TABLE use
  // the rows in place, INT8_TABLE quantises them at load; CORES and unknown modes are refused.
  Status init_table_scorer(const char* source, pocketrec_scoring scoring, const float* rows, int64_t dim,
                           const float* bias = nullptr);
  // weight_bytes_ = the file's weights + their decoded copies + `extra` + the scorer's own int8 table or cores.
  void set_weight_bytes(size_t extra = 0);

  std::string architecture_;
  int64_t n_items_ = 0, n_users_ = 0, d_ = 0, max_history_ = 0;
  size_t query_floats_ = 0, scratch_floats_ = 0, weight_bytes_ = 0;
  WeightStore weights_;
  ItemScorer scorer_;
};

// The model for file.get_string("pocketrec.architecture"), loaded; BAD_FORMAT for an unknown one.
Status make_model(const PocketFile& file, pocketrec_scoring scoring, std::unique_ptr<NextItemModel>* out);

}  // namespace pocketrec::runtime
