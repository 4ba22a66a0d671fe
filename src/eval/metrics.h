// Ranking metrics computed from the 1-based ranks of a query's targets among its candidate items.
// Exact formulas (also in docs/metrics.md); T = the query's distinct targets, r_t = rank of target t
// (other targets count as ranked items; a masked target is unranked and never a hit),
// hits@k = |{t : r_t <= k}|, C = number of candidates (items not masked):
//   prec@k      = hits@k / min(k, C)
//   recall@k    = hits@k / |T|
//   hr@k        = 1 if hits@k > 0 else 0
//   ndcg@k      = sum_{t: r_t<=k} 1/log2(r_t+1)  /  sum_{i=1..min(|T|,k)} 1/log2(i+1)
//   ndcg_rd@k   = ndcg@min(|T|,k): the RD reference's truncated variant (only the first min(|T|,k)
//                 predictions are looked at); labelled "ndcg_rd"
//   mrr@k       = 1/min_t r_t if that is <= k else 0
//   map         = (1/|T|) sum_{j=1..h} j / r_(j)   (r_(j): j-th smallest rank, over the full ranking)
//   map@k       = (1/min(|T|,k)) sum_{j: r_(j)<=k} j / r_(j)
// Every metric is averaged over queries with at least one target.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace pocketrec::eval {

constexpr int64_t kUnranked = std::numeric_limits<int64_t>::max();

enum class MetricKind { kPrec, kRecall, kHr, kNdcg, kNdcgRd, kMrr, kMap, kMapK };

struct MetricSpec {
  MetricKind kind;
  int64_t k;                 // 0 for map (full ranking)
  std::string name() const;  // "prec@10", "ndcg_rd@5", "map", "map@10"
};

// Expands metric names ("prec", "ndcg", "map", ...) over the cut-offs ks. "map" has no cut-off.
std::vector<MetricSpec> make_metric_specs(const std::vector<std::string>& names, const std::vector<int64_t>& ks);
MetricSpec parse_metric_name(const std::string& name);  // "ndcg@10" -> {kNdcg, 10}

// ranks: the query's target ranks sorted ascending (kUnranked last); n_candidates: C above.
double metric_value(const MetricSpec& m, const std::vector<int64_t>& ranks, int64_t n_candidates);

}  // namespace pocketrec::eval
