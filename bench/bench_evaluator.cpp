// Full-ranking evaluation of a 100k-item catalogue at d = 64 against the bare score matrix
// multiply for the same users (OpenBLAS sgemm, scores written to memory and nothing else).
// Goal (Foundation issue): evaluator time <= 1.5x the bare GEMM.
//   build/bench/bench_evaluator --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <random>

#include "bench_util.h"
#include "core/progress.h"
#include "eval/dot_scorer.h"
#include "eval/evaluator.h"

using namespace pocketrec;

namespace {

constexpr int32_t kItems = 100000, kDim = 64, kUsers = 2048, kBatch = 256;

struct Fixture {
  std::vector<float> items, users;
  data::EvalSet set;
  Fixture() {
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(0, 0.1f);
    items.resize(static_cast<size_t>(kItems) * kDim);
    users.resize(static_cast<size_t>(kUsers) * kDim);
    for (auto& v : items) v = nd(rng);
    for (auto& v : users) v = nd(rng);
    std::uniform_int_distribution<int32_t> item(0, kItems - 1);
    for (int32_t u = 0; u < kUsers; ++u) {
      std::vector<int32_t> h(20), t(5);
      for (auto& i : h) i = item(rng);
      for (auto& i : t) i = item(rng);
      std::sort(t.begin(), t.end());
      t.erase(std::unique(t.begin(), t.end()), t.end());
      set.users.push_back(u);
      set.history.append(h);
      set.targets.append(t);
    }
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

extern "C" void openblas_set_num_threads(int);

void BM_BareScoreGemm(benchmark::State& state) {
  Fixture& f = fixture();
  openblas_set_num_threads(static_cast<int>(state.range(0)));
  std::vector<float> scores(static_cast<size_t>(kBatch) * kItems);
  for (auto _ : state) {
    for (int32_t b = 0; b < kUsers; b += kBatch) {
      // scores[kBatch, kItems] = users[b:b+kBatch] * items^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kBatch, kItems, kDim, 1.0f, f.users.data() + b * kDim, kDim,
                  f.items.data(), kDim, 0.0f, scores.data(), kItems);
      benchmark::DoNotOptimize(scores.data());
    }
  }
  state.counters["users_per_s"] = benchmark::Counter(kUsers, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["buffer_MB"] = scores.size() * 4 / 1e6;
}

void BM_FullRankingEvaluator(benchmark::State& state) {
  Fixture& f = fixture();
  ProgressBar::set_enabled(false);
  eval::DotProductScorer scorer(f.items, {}, kItems, kDim,
                                [&](const data::EvalSet& s, const int32_t* q, size_t n, float* out) {
                                  for (size_t r = 0; r < n; ++r)
                                    std::copy_n(f.users.data() + s.users[q[r]] * kDim, kDim, out + r * kDim);
                                });
  eval::EvalOptions o;
  o.metrics = eval::make_metric_specs({"prec", "recall", "ndcg", "mrr", "map"}, {5, 10, 20});
  o.batch_size = kBatch;
  o.item_chunk = static_cast<size_t>(state.range(1));
  o.threads = static_cast<int>(state.range(0));
  o.mask_history = true;
  size_t rss_before = bench::current_rss_bytes();
  double map = 0;
  for (auto _ : state) map = eval::evaluate(f.set, scorer, o).get("map");
  state.counters["users_per_s"] = benchmark::Counter(kUsers, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["score_buffer_MB"] = static_cast<double>(kBatch) * o.item_chunk * 4 / 1e6;
  state.counters["rss_growth_MB"] = (static_cast<double>(bench::current_rss_bytes()) - rss_before) / 1e6;
  state.counters["peak_rss_MB"] = bench::peak_rss_bytes() / 1e6;
  state.counters["map"] = map;
}

}  // namespace

// Arguments: threads (and for the evaluator the item chunk).
BENCHMARK(BM_BareScoreGemm)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FullRankingEvaluator)
    ->Args({1, 2048})
    ->Args({2, 2048})
    ->Args({1, 8192})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_MAIN();
