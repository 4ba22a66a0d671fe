// Every metric on hand-made rankings with answers computed by hand (docs/metrics.md).
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "eval/metrics.h"

using namespace pocketrec::eval;

namespace {
double value(const std::string& name, std::vector<int64_t> ranks, int64_t n_candidates = 1000) {
  return metric_value(parse_metric_name(name), ranks, n_candidates);
}
double inv_log2(double r) {
  return 1.0 / std::log2(r + 1.0);
}
}  // namespace

TEST(Metrics, SingleTargetAtRank3) {
  // One target ranked 3rd.
  EXPECT_DOUBLE_EQ(value("prec@3", {3}), 1.0 / 3);
  EXPECT_DOUBLE_EQ(value("prec@2", {3}), 0.0);
  EXPECT_DOUBLE_EQ(value("recall@5", {3}), 1.0);
  EXPECT_DOUBLE_EQ(value("hr@3", {3}), 1.0);
  EXPECT_DOUBLE_EQ(value("hr@2", {3}), 0.0);
  EXPECT_DOUBLE_EQ(value("ndcg@10", {3}), 0.5);  // 1/log2(4) / 1
  EXPECT_DOUBLE_EQ(value("mrr@5", {3}), 1.0 / 3);
  EXPECT_DOUBLE_EQ(value("mrr@2", {3}), 0.0);
  EXPECT_DOUBLE_EQ(value("map", {3}), 1.0 / 3);
  EXPECT_DOUBLE_EQ(value("map@2", {3}), 0.0);
}

TEST(Metrics, ThreeTargetsAtRanks1_4_7) {
  std::vector<int64_t> r = {1, 4, 7};
  EXPECT_DOUBLE_EQ(value("prec@5", r), 2.0 / 5);
  EXPECT_DOUBLE_EQ(value("recall@5", r), 2.0 / 3);
  // DCG@5 = 1 + 1/log2(5); IDCG@5 over min(3,5)=3 = 1 + 1/log2(3) + 1/2.
  EXPECT_NEAR(value("ndcg@5", r), (1 + inv_log2(4)) / (1 + inv_log2(2) + inv_log2(3)), 1e-12);
  // AP = (1/1 + 2/4 + 3/7) / 3 = 0.642857...
  EXPECT_NEAR(value("map", r), (1.0 + 0.5 + 3.0 / 7) / 3, 1e-12);
  // AP@5 = (1 + 2/4) / min(3,5)
  EXPECT_NEAR(value("map@5", r), 1.5 / 3, 1e-12);
  EXPECT_NEAR(value("map@2", r), 1.0 / 2, 1e-12);
  EXPECT_DOUBLE_EQ(value("mrr@10", r), 1.0);
}

TEST(Metrics, FewerRelevantThanKUsesMinInIdcgAndTruncatedRdVariant) {
  // |T| = 2, k = 10: IDCG covers 2 positions.
  std::vector<int64_t> r = {2, 3};
  double idcg2 = 1 + inv_log2(2);
  EXPECT_NEAR(value("ndcg@10", r), (inv_log2(2) + inv_log2(3)) / idcg2, 1e-12);
  // RD's truncated nDCG looks only at the first min(|T|,k) = 2 positions: only rank 2 counts.
  EXPECT_NEAR(value("ndcg_rd@10", r), inv_log2(2) / idcg2, 1e-12);
  // With |T| >= k both agree.
  std::vector<int64_t> many = {1, 5, 6, 20};
  EXPECT_NEAR(value("ndcg_rd@3", many), value("ndcg@3", many), 1e-15);
  EXPECT_NEAR(value("recall@3", r), 1.0, 1e-15);
}

TEST(Metrics, MaskedTargetsAreUnrankedButCountInDenominators) {
  // Two targets, one masked (unranked): it can never be hit but stays in |T|.
  std::vector<int64_t> r = {1, kUnranked};
  EXPECT_DOUBLE_EQ(value("recall@10", r), 0.5);
  EXPECT_DOUBLE_EQ(value("map", r), 0.5);  // (1/1) / 2
  EXPECT_NEAR(value("ndcg@10", r), 1.0 / (1 + inv_log2(2)), 1e-12);
  std::vector<int64_t> all_masked = {kUnranked};
  EXPECT_DOUBLE_EQ(value("hr@10", all_masked), 0.0);
  EXPECT_DOUBLE_EQ(value("map", all_masked), 0.0);
  EXPECT_DOUBLE_EQ(value("mrr@10", all_masked), 0.0);
}

TEST(Metrics, EmptyRelevantSetScoresZero) {
  for (const char* m : {"prec@5", "recall@5", "hr@5", "ndcg@5", "ndcg_rd@5", "mrr@5", "map", "map@5"})
    EXPECT_EQ(value(m, {}), 0.0) << m;
}

TEST(Metrics, PrecisionDividesByAvailableCandidatesWhenFewerThanK) {
  // Only 4 candidate items remain after masking: Prec@10 = hits / 4 (the RD reference's cut list).
  EXPECT_DOUBLE_EQ(value("prec@10", {1, 2}, 4), 0.5);
  EXPECT_DOUBLE_EQ(value("prec@10", {1, 2}, 100), 0.2);
}

TEST(Metrics, NamesAndParsing) {
  auto specs = make_metric_specs({"prec", "map", "ndcg_rd", "map_k"}, {3, 10});
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name());
  EXPECT_EQ(names,
            (std::vector<std::string>{"prec@3", "prec@10", "map", "ndcg_rd@3", "ndcg_rd@10", "map@3", "map@10"}));
  EXPECT_THROW(parse_metric_name("ndgc@10"), pocketrec::Error);
  EXPECT_THROW(parse_metric_name("ndcg"), pocketrec::Error);
  EXPECT_THROW(make_metric_specs({"auc"}, {5}), pocketrec::Error);
}
