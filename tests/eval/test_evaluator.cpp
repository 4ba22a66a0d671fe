// The chunked, batched, multi-threaded evaluator against a brute-force reference, on hand-made
// and random score tables; results must not depend on batch size, chunk size or threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "core/progress.h"
#include "eval/dot_scorer.h"
#include "eval/evaluator.h"

using namespace pocketrec;
using namespace pocketrec::eval;

namespace {

// Scores from a fixed table [n_queries, n_items]; query q's row is table[q].
class TableScorer : public Scorer {
 public:
  TableScorer(std::vector<float> table, int32_t n_items) : t_(std::move(table)), n_(n_items) {}
  int32_t n_items() const override { return n_; }
  void prepare(const data::EvalSet&, const int32_t* q, size_t n) override { rows_.assign(q, q + n); }
  void score(size_t r0, size_t nr, int32_t b, int32_t e, float* out, size_t ld) const override {
    for (size_t r = 0; r < nr; ++r)
      for (int32_t j = b; j < e; ++j) out[r * ld + (j - b)] = t_[static_cast<size_t>(rows_[r0 + r]) * n_ + j];
  }

 private:
  std::vector<float> t_;
  int32_t n_;
  std::vector<int32_t> rows_;
};

data::EvalSet make_set(const std::vector<std::vector<int32_t>>& hist, const std::vector<std::vector<int32_t>>& tgt) {
  data::EvalSet s;
  for (size_t q = 0; q < tgt.size(); ++q) {
    s.users.push_back(static_cast<int32_t>(q));
    s.history.append(hist[q]);
    s.targets.append(tgt[q]);
  }
  return s;
}

EvalOptions options(std::vector<std::string> metrics, std::vector<int64_t> ks) {
  ProgressBar::set_enabled(false);
  EvalOptions o;
  o.metrics = make_metric_specs(metrics, ks);
  return o;
}

}  // namespace

TEST(Evaluator, HandMadeRankingWithTiesAndMask) {
  // 6 items; query 0 scores: item 0..5 = [0.5, 0.9, 0.5, 0.1, 0.7, 0.5]; history {1} masked.
  // Ranking without item 1: 4 (0.7), then ties at 0.5 by id: 0, 2, 5, then 3.
  // Targets {2, 3}: ranks 3 and 5.
  std::vector<float> table = {0.5f, 0.9f, 0.5f, 0.1f, 0.7f, 0.5f};
  TableScorer scorer(table, 6);
  auto set = make_set({{1}}, {{2, 3}});
  auto o = options({"prec", "recall", "ndcg", "mrr", "map"}, {3});
  EvalResult r = evaluate(set, scorer, o);
  EXPECT_EQ(r.n_queries, 1);
  EXPECT_DOUBLE_EQ(r.get("prec@3"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(r.get("recall@3"), 0.5);
  EXPECT_DOUBLE_EQ(r.get("mrr@3"), 1.0 / 3);
  EXPECT_NEAR(r.get("ndcg@3"), 0.5 / (1 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_NEAR(r.get("map"), (1.0 / 3 + 2.0 / 5) / 2, 1e-12);
  // Without the mask item 1 ranks first and pushes both targets down by one.
  o.mask_history = false;
  r = evaluate(set, scorer, o);
  EXPECT_NEAR(r.get("map"), (1.0 / 4 + 2.0 / 6) / 2, 1e-12);
}

TEST(Evaluator, MaskedTargetIsNeverAHit) {
  std::vector<float> table = {0.9f, 0.1f, 0.2f};
  TableScorer scorer(table, 3);
  auto set = make_set({{0}}, {{0}});  // the only target is in the history
  auto o = options({"hr"}, {3});
  EvalResult r = evaluate(set, scorer, o);
  EXPECT_EQ(r.n_queries, 1);
  EXPECT_EQ(r.n_unhittable, 1);
  EXPECT_DOUBLE_EQ(r.get("hr@3"), 0.0);
}

TEST(Evaluator, QueriesWithoutTargetsAreSkipped) {
  std::vector<float> table = {0.9f, 0.1f, 0.2f, 0.9f, 0.1f, 0.2f};
  TableScorer scorer(table, 3);
  auto set = make_set({{}, {}}, {{}, {0}});
  auto o = options({"hr"}, {1});
  EvalResult r = evaluate(set, scorer, o);
  EXPECT_EQ(r.n_queries, 1);
  EXPECT_DOUBLE_EQ(r.get("hr@1"), 1.0);
}

TEST(Evaluator, NaNScoreIsAnError) {
  std::vector<float> table = {0.9f, NAN, 0.95f};
  TableScorer scorer(table, 3);
  auto set = make_set({{}}, {{0}});
  EXPECT_THROW(evaluate(set, scorer, options({"hr"}, {1})), Error);
}

TEST(Evaluator, MatchesBruteForceAndIsIndependentOfBatchChunkAndThreads) {
  const int32_t n_items = 1000, n_q = 97;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> coarse(0, 20);  // coarse scores: many exact ties
  std::vector<float> table(static_cast<size_t>(n_q) * n_items);
  for (auto& v : table) v = static_cast<float>(coarse(rng)) / 20.0f;
  std::vector<std::vector<int32_t>> hist(n_q), tgt(n_q);
  std::uniform_int_distribution<int32_t> item(0, n_items - 1);
  for (int q = 0; q < n_q; ++q) {
    for (int i = 0; i < q % 30; ++i) hist[q].push_back(item(rng));
    for (int i = 0; i < 1 + q % 13; ++i) {  // up to 13 targets: both counting paths
      int32_t t = item(rng);
      if (std::find(tgt[q].begin(), tgt[q].end(), t) == tgt[q].end()) tgt[q].push_back(t);
    }
  }
  auto set = make_set(hist, tgt);
  auto o = options({"prec", "recall", "hr", "ndcg", "ndcg_rd", "mrr", "map", "map_k"}, {1, 5, 20, 100});

  // Brute-force reference.
  std::vector<double> ref(o.metrics.size(), 0.0);
  for (int q = 0; q < n_q; ++q) {
    std::vector<int32_t> mask = hist[q];
    std::sort(mask.begin(), mask.end());
    mask.erase(std::unique(mask.begin(), mask.end()), mask.end());
    auto ranks = ranks_from_scores(table.data() + static_cast<size_t>(q) * n_items, n_items, tgt[q], mask);
    for (size_t m = 0; m < o.metrics.size(); ++m)
      ref[m] += metric_value(o.metrics[m], ranks, n_items - static_cast<int64_t>(mask.size()));
  }
  for (auto& v : ref) v /= n_q;

  TableScorer scorer(table, n_items);
  for (size_t batch : {1, 7, 256})
    for (size_t chunk : {16, 100, 4096})
      for (int threads : {1, 2, 3}) {
        o.batch_size = batch;
        o.item_chunk = chunk;
        o.threads = threads;
        EvalResult r = evaluate(set, scorer, o);
        ASSERT_EQ(r.values.size(), ref.size());
        // Every configuration against the brute-force reference: equal up to the order in which the
        // per-query values are summed (the same order in every configuration, see below).
        for (size_t m = 0; m < ref.size(); ++m)
          EXPECT_NEAR(r.values[m], ref[m], 1e-12)
              << o.metrics[m].name() << " batch " << batch << " chunk " << chunk << " threads " << threads;
      }
  // And bit for bit against one fixed configuration, computed on its own first.
  o.batch_size = 1, o.item_chunk = 4096, o.threads = 1;
  const std::vector<double> single = evaluate(set, scorer, o).values;
  o.batch_size = 256, o.item_chunk = 16, o.threads = 3;
  EXPECT_EQ(evaluate(set, scorer, o).values, single);
  o.batch_size = 7, o.item_chunk = 100, o.threads = 2;
  EXPECT_EQ(evaluate(set, scorer, o).values, single);
}

// Three items (rows e0 = (1, 0), e1 = (0, 1), e2 = (1, 1); biases 0, 0.5, -1) and two queries
// encoded by hand: q0 = (2, 1) scores (2, 1.5, 2), q1 = (-1, 1) scores (-1, 1.5, -1). With the
// history unmasked, q0's target 1 ranks 3rd behind items 0 and 2, and q1's target 2 ranks 3rd behind
// item 1 and item 0 (the tie at -1 goes to the smaller id). So HR@2 = 0, HR@3 = 1, MRR@3 = 1/3 and
// nDCG@3 = 1 / log2(4) = 0.5 for both queries.
TEST(Evaluator, DotProductScorerAgainstHandComputedScores) {
  const std::vector<float> items = {1, 0, 0, 1, 1, 1}, bias = {0.0f, 0.5f, -1.0f};
  const std::vector<float> queries = {2, 1, -1, 1};
  DotProductScorer scorer(items, bias, 3, 2, [&](const data::EvalSet&, const int32_t* q, size_t n, float* out) {
    for (size_t r = 0; r < n; ++r) std::copy_n(queries.data() + 2 * q[r], 2, out + 2 * r);
  });
  auto set = make_set({{}, {}}, {{1}, {2}});
  const int32_t both[2] = {0, 1};
  scorer.prepare(set, both, 2);
  float out[6];
  scorer.score(0, 2, 0, 3, out, 3);
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[1], 1.5f);
  EXPECT_FLOAT_EQ(out[2], 2.0f);
  EXPECT_FLOAT_EQ(out[3], -1.0f);
  EXPECT_FLOAT_EQ(out[4], 1.5f);
  EXPECT_FLOAT_EQ(out[5], -1.0f);
  float part[2];  // an item chunk [1, 3) of the second query alone
  scorer.score(1, 1, 1, 3, part, 2);
  EXPECT_FLOAT_EQ(part[0], 1.5f);
  EXPECT_FLOAT_EQ(part[1], -1.0f);
  auto o = options({"hr", "mrr", "ndcg"}, {2, 3});
  o.mask_history = false;
  for (size_t batch : {1, 2})
    for (size_t chunk : {16, 64}) {
      o.batch_size = batch;
      o.item_chunk = chunk;
      EvalResult r = evaluate(set, scorer, o);
      EXPECT_DOUBLE_EQ(r.get("hr@2"), 0.0);
      EXPECT_DOUBLE_EQ(r.get("hr@3"), 1.0);
      EXPECT_DOUBLE_EQ(r.get("mrr@3"), 1.0 / 3);
      EXPECT_DOUBLE_EQ(r.get("ndcg@2"), 0.0);
      EXPECT_DOUBLE_EQ(r.get("ndcg@3"), 0.5);  // 1 / log2(3 + 1) for both queries
    }
}

// Random factors: every batch and chunk size gives bit-identical values to one query at a time over
// the whole catalogue (the packed kernel's fixed summation order, score_kernel.h).
TEST(Evaluator, DotProductScorerResultsDoNotDependOnBatchSize) {
  const int32_t n_items = 333, dim = 24, n_q = 50;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> items(static_cast<size_t>(n_items) * dim), bias(n_items), users(static_cast<size_t>(n_q) * dim);
  for (auto& v : items) v = nd(rng);
  for (auto& v : bias) v = nd(rng);
  for (auto& v : users) v = nd(rng);
  DotProductScorer scorer(items, bias, n_items, dim,
                          [&](const data::EvalSet& s, const int32_t* q, size_t n, float* out) {
                            for (size_t r = 0; r < n; ++r)
                              std::copy_n(users.data() + s.users[q[r]] * dim, dim, out + r * dim);
                          });
  std::vector<std::vector<int32_t>> hist(n_q), tgt(n_q);
  for (int q = 0; q < n_q; ++q) tgt[q] = {q * 5 % n_items, (q * 7 + 1) % n_items}, hist[q] = {q};
  auto set = make_set(hist, tgt);
  auto o = options({"ndcg", "map"}, {10});
  o.batch_size = 1;
  o.item_chunk = 1024;
  const std::vector<double> reference = evaluate(set, scorer, o).values;
  ASSERT_EQ(reference.size(), 2u);
  EXPECT_GT(reference[1], 0.0);
  for (size_t batch : {3, 64})
    for (size_t chunk : {16, 48, 1024}) {
      o.batch_size = batch;
      o.item_chunk = chunk;
      EXPECT_EQ(evaluate(set, scorer, o).values, reference) << "batch " << batch << " chunk " << chunk;
    }
}

TEST(Evaluator, SampledMetricsAreLabelledAndDeterministic) {
  const int32_t n_items = 500;
  std::vector<float> table(n_items * 2);
  for (int j = 0; j < n_items; ++j) table[j] = table[n_items + j] = static_cast<float>(j % 97);
  TableScorer scorer(table, n_items);
  auto set = make_set({{}, {}}, {{96}, {0}});
  auto o = options({"hr"}, {1});
  o.sampled_negatives = 50;
  o.seed = 11;
  EvalResult a = evaluate(set, scorer, o);
  o.batch_size = 1;
  o.threads = 1;
  EvalResult b = evaluate(set, scorer, o);
  EXPECT_TRUE(a.sampled);
  EXPECT_EQ(a.to_json()["protocol"], "sampled");
  EXPECT_EQ(a.values, b.values);
  // Item 96 has the top score (96) among any sample; item 0 the lowest: HR@1 = 1/2.
  EXPECT_DOUBLE_EQ(a.get("hr@1"), 0.5);
}

TEST(Evaluator, BreakdownByTargetGroup) {
  // 4 items, items 0 and 1 "hot" (group 0), 2 and 3 "cold" (group 1). Nothing masked.
  // q0 target 0: rank 1 (hot). q1 target 2: scores put it 3rd (cold). q2 targets {1, 3}: mixed, in no
  // group. q3 target 3: rank 4 (cold).
  std::vector<float> table = {0.9f, 0.8f, 0.7f, 0.6f,   // q0
                              0.9f, 0.8f, 0.7f, 0.6f,   // q1
                              0.1f, 0.9f, 0.2f, 0.8f,   // q2
                              0.9f, 0.8f, 0.7f, 0.6f};  // q3
  TableScorer scorer(table, 4);
  auto set = make_set({{}, {}, {}, {}}, {{0}, {2}, {1, 3}, {3}});
  auto o = options({"hr", "mrr"}, {2});
  o.mask_history = false;
  o.groups = target_item_groups(set, {0, 0, 1, 1}, {"hot", "cold"});
  EvalResult r = evaluate(set, scorer, o);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].name, "hot");
  EXPECT_EQ(r.groups[0].n_queries, 1);
  EXPECT_DOUBLE_EQ(r.groups[0].values[0], 1.0);  // hr@2
  EXPECT_DOUBLE_EQ(r.groups[0].values[1], 1.0);  // mrr@2
  EXPECT_EQ(r.groups[1].n_queries, 2);
  EXPECT_DOUBLE_EQ(r.groups[1].values[0], 0.0);  // ranks 3 and 4
  EXPECT_DOUBLE_EQ(r.groups[1].values[1], 0.0);
  EXPECT_EQ(r.n_queries, 4);  // the overall means still count every query
  EXPECT_DOUBLE_EQ(r.get("hr@2"), 2.0 / 4);
  EXPECT_EQ(r.to_json()["groups"]["cold"]["n_queries"], 2);
  EXPECT_THROW(target_item_groups(set, {0, 0, 1}, {"hot", "cold"}), Error);  // item 3 has no group
  o.groups[0].members.pop_back();                                            // a flag short of the 4 queries
  EXPECT_THROW(evaluate(set, scorer, o), Error);
}

TEST(Evaluator, BreakdownByRepeatedTargets) {
  // Histories are not masked (the session protocol). q0: target 2 repeats its history {2, 0}, rank 3.
  // q1: target 1 is new, rank 2. q2: targets {0, 3}, 0 in its history and 3 not: in neither group.
  // q3: target 0 repeats, rank 1. q4: no target, never counted.
  std::vector<float> table = {0.9f, 0.8f, 0.7f, 0.6f,   // q0
                              0.9f, 0.8f, 0.7f, 0.6f,   // q1
                              0.9f, 0.8f, 0.7f, 0.6f,   // q2
                              0.9f, 0.8f, 0.7f, 0.6f,   // q3
                              0.9f, 0.8f, 0.7f, 0.6f};  // q4
  TableScorer scorer(table, 4);
  auto set = make_set({{2, 0}, {3}, {0}, {0, 0}, {1}}, {{2}, {1}, {0, 3}, {0}, {}});
  auto o = options({"hr", "mrr"}, {3});
  o.mask_history = false;
  o.groups = repeat_groups(set);
  ASSERT_EQ(o.groups.size(), 2u);
  EXPECT_EQ(o.groups[0].members, (std::vector<uint8_t>{1, 0, 0, 1, 0}));
  EXPECT_EQ(o.groups[1].members, (std::vector<uint8_t>{0, 1, 0, 0, 0}));
  EvalResult r = evaluate(set, scorer, o);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].name, "repeat");
  EXPECT_EQ(r.groups[0].n_queries, 2);
  EXPECT_DOUBLE_EQ(r.groups[0].values[0], 1.0);                // hr@3: ranks 3 and 1
  EXPECT_DOUBLE_EQ(r.groups[0].values[1], (1.0 / 3 + 1) / 2);  // mrr@3
  EXPECT_EQ(r.groups[1].name, "new");
  EXPECT_EQ(r.groups[1].n_queries, 1);
  EXPECT_DOUBLE_EQ(r.groups[1].values[1], 0.5);  // rank 2
  EXPECT_EQ(r.n_queries, 4);
}
