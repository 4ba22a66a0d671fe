// Full-ranking evaluator (RecBole's "full sort"): every query is ranked against all items, except
// the items of its history when the protocol masks them. Queries are processed in batches and
// items in chunks, so memory is O(batch x chunk) whatever the catalogue size; the exact rank of
// every target is counted in one pass over the scores, and the metrics (metrics.h) follow from the
// ranks. Ties are broken by item id (the lower id ranks first). Per-query values are summed in
// query order, so results are identical for any batch size, chunk size or thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "eval/metrics.h"
#include "eval/scorer.h"

namespace pocketrec::eval {

struct QueryGroup {
  std::string name;
  std::vector<uint8_t> members;  // one flag per query of the evaluated set
};

struct EvalOptions {
  std::vector<MetricSpec> metrics;
  bool mask_history = true;
  size_t batch_size = 256;
  size_t item_chunk = 2048;
  int threads = 0;                // 0 = all cores
  int64_t sampled_negatives = 0;  // > 0: rank each query's targets among this many sampled items
  uint64_t seed = 0;              // of the sampled negatives
  std::string label = "eval";     // progress-bar label
  // Optional breakdowns: every metric is also averaged over each group's queries (query q is in
  // group g when groups[g].members[q] != 0; a query may be in several groups or in none).
  // target_item_groups() and repeat_groups() below build the two the CLI offers.
  std::vector<QueryGroup> groups;
};

struct EvalResult {
  struct Group {
    std::string name;
    int64_t n_queries = 0;
    std::vector<double> values;  // mean over the group's queries
  };
  std::vector<MetricSpec> metrics;
  std::vector<double> values;  // mean over evaluated queries, in metrics order
  std::vector<Group> groups;   // EvalOptions::groups, in order
  int64_t n_queries = 0;       // queries with at least one target
  int64_t n_unhittable = 0;    // queries whose targets were all masked (they score 0)
  bool sampled = false;
  double seconds = 0;

  double get(const std::string& metric_name) const;  // Error if not computed
  nlohmann::json to_json() const;
};

EvalResult evaluate(const data::EvalSet& set, Scorer& scorer, const EvalOptions& options);

// One group per name: item i belongs to group item_group[i] (an index into names), and a query to
// group g when all its targets do (e.g. hot vs cold target items).
std::vector<QueryGroup> target_item_groups(const data::EvalSet& set, const std::vector<uint8_t>& item_group,
                                           const std::vector<std::string>& names);

// "repeat": queries whose targets all occur in their history; "new": queries whose targets all do
// not (RepeatNet's repeat / explore split of session recommendation). Mixed queries are in neither.
std::vector<QueryGroup> repeat_groups(const data::EvalSet& set);

// Exact 1-based ranks of `targets` in one full score row (n_items scores), excluding `mask` (sorted).
// The reference the chunked evaluator is tested against.
std::vector<int64_t> ranks_from_scores(const float* scores, int32_t n_items, const std::vector<int32_t>& targets,
                                       const std::vector<int32_t>& mask_sorted);

}  // namespace pocketrec::eval
