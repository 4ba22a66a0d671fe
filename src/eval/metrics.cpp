#include "eval/metrics.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/text.h"

namespace pocketrec::eval {
namespace {

struct KindName {
  MetricKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {{MetricKind::kPrec, "prec"}, {MetricKind::kRecall, "recall"},  {MetricKind::kHr, "hr"},
                               {MetricKind::kNdcg, "ndcg"}, {MetricKind::kNdcgRd, "ndcg_rd"}, {MetricKind::kMrr, "mrr"},
                               {MetricKind::kMap, "map"},   {MetricKind::kMapK, "map"}};

const char* kind_name(MetricKind k) {
  for (const auto& kn : kKinds)
    if (kn.kind == k) return kn.name;
  return "?";
}

double idcg(int64_t n) {
  double s = 0;
  for (int64_t i = 1; i <= n; ++i) s += 1.0 / std::log2(static_cast<double>(i) + 1.0);
  return s;
}

double dcg_at(const std::vector<int64_t>& ranks, int64_t k) {
  double s = 0;
  for (int64_t r : ranks) {
    if (r > k) break;
    s += 1.0 / std::log2(static_cast<double>(r) + 1.0);
  }
  return s;
}

int64_t hits_at(const std::vector<int64_t>& ranks, int64_t k) {
  return std::upper_bound(ranks.begin(), ranks.end(), k) - ranks.begin();
}

}  // namespace

std::string MetricSpec::name() const {
  if (kind == MetricKind::kMap) return "map";
  return std::string(kind_name(kind)) + "@" + std::to_string(k);
}

std::vector<MetricSpec> make_metric_specs(const std::vector<std::string>& names, const std::vector<int64_t>& ks) {
  std::vector<MetricSpec> out;
  for (const auto& n : names) {
    if (n == "map") {
      out.push_back({MetricKind::kMap, 0});
      continue;
    }
    MetricKind kind = MetricKind::kPrec;
    bool found = false;
    for (const auto& kn : kKinds)
      if (n == kn.name && kn.kind != MetricKind::kMap) kind = kn.kind, found = true;
    if (n == "map_k") kind = MetricKind::kMapK, found = true;
    PR_CHECK(found, ErrorCode::kInvalidArgument, "eval.metrics: unknown metric '{}'", n);
    for (int64_t k : ks) {
      PR_CHECK(k >= 1, ErrorCode::kInvalidArgument, "eval.ks: cut-off must be >= 1, got {}", k);
      out.push_back({kind, k});
    }
  }
  return out;
}

MetricSpec parse_metric_name(const std::string& name) {
  if (name == "map") return {MetricKind::kMap, 0};
  auto at = name.find('@');
  PR_CHECK(at != std::string::npos, ErrorCode::kInvalidArgument,
           "metric '{}': expected <name>@<k> (e.g. ndcg@10) or map", name);
  auto k = parse_int(name.substr(at + 1));
  PR_CHECK(k && *k >= 1, ErrorCode::kInvalidArgument, "metric '{}': bad cut-off", name);
  std::string base = name.substr(0, at);
  if (base == "map") return {MetricKind::kMapK, *k};
  for (const auto& kn : kKinds)
    if (base == kn.name) return {kn.kind, *k};
  PR_FAIL(ErrorCode::kInvalidArgument, "metric '{}': unknown metric '{}'", name, base);
}

double metric_value(const MetricSpec& m, const std::vector<int64_t>& ranks, int64_t n_candidates) {
  const int64_t n_targets = static_cast<int64_t>(ranks.size());
  if (n_targets == 0) return 0.0;
  switch (m.kind) {
    case MetricKind::kPrec: {
      int64_t denom = std::min(m.k, n_candidates);
      return denom > 0 ? static_cast<double>(hits_at(ranks, m.k)) / denom : 0.0;
    }
    case MetricKind::kRecall: return static_cast<double>(hits_at(ranks, m.k)) / n_targets;
    case MetricKind::kHr: return hits_at(ranks, m.k) > 0 ? 1.0 : 0.0;
    case MetricKind::kNdcg: return dcg_at(ranks, m.k) / idcg(std::min(n_targets, m.k));
    case MetricKind::kNdcgRd: {
      int64_t k = std::min(n_targets, m.k);
      return dcg_at(ranks, k) / idcg(k);
    }
    case MetricKind::kMrr: return ranks[0] <= m.k ? 1.0 / static_cast<double>(ranks[0]) : 0.0;
    case MetricKind::kMap:
    case MetricKind::kMapK: {
      int64_t k = m.kind == MetricKind::kMap ? kUnranked : m.k;
      double s = 0;
      for (int64_t j = 0; j < n_targets && ranks[j] != kUnranked && ranks[j] <= k; ++j)
        s += static_cast<double>(j + 1) / ranks[j];
      return s / static_cast<double>(m.kind == MetricKind::kMap ? n_targets : std::min(n_targets, m.k));
    }
  }
  return 0.0;
}

}  // namespace pocketrec::eval
