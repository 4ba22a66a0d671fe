// The runtime's scoring and encoder kernels on Tmall-sized shapes, nothing else linked (no LibTorch):
// built twice by tools/bench_runtime_dispatch.sh, once as the runtime ships (portable baseline with
// AVX2 / AVX-512 chosen at run time) and once with -march=native, to show the dispatch costs nothing
// against a build for this very CPU. Rows, each one call on one thread:
//   Matmul/encoder   a 40 x 128 x 128 product (one linear layer of the OD-Rec encoder on 40 positions)
//   Score/fp32       q . E[v] over a 40,727 x 128 fp32 table
//   Score/int8       the same table as int8 rows with one scale each
//   Score/stt        from STT cores [[169,241],[16,8]], R = 60, t = 2 (the Tmall student)
//   Score/pq/M/K     from PQ codes, M sub-spaces of K codewords (lookup table + scan): M = 16, K = 256
//                    (one byte per code), and K = 16 at M = 16 and 32 (4-bit codes, the block scan
//                    where the ISA has one: AVX2 and AVX-512; the baseline keeps the byte scan)
//   TopK20/pq/pruned:0|1   the top 20 at M = 16, K = 256: every item scored, or ItemScorer::top_k's
//                    pruned scan (AVX-512 VBMI)
//   Score/fp32_subnormal_query, .../flushed   Score/fp32 with half of the query's entries subnormal
//                    (as a Caser query whose user embedding decayed under L2), computed in the
//                    caller's mode and inside the FlushSubnormals scope every C API query opens
// Weights are random: the time does not depend on them, except through subnormal values.
//   build-bench-portable/bench_runtime_kernels --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "fp_env.h"
#include "item_scorer.h"
#include "simd/kernel_table.h"
#include "topk.h"

using pocketrec::runtime::ItemScorer;
using pocketrec::runtime::kernels;

namespace {

constexpr int64_t kItems = 40727, kDim = 128;

std::vector<float> uniform(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

void Matmul_encoder(benchmark::State& state) {
  const size_t L = 40, d = 128;
  const auto x = uniform(L * d, 1), w = uniform(d * d, 2);
  std::vector<float> y(L * d);
  for (auto _ : state) {
    kernels().matmul(x.data(), L, d, w.data(), d, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(kernels().isa);
}

// Scores every item through the ItemScorer the runtime uses, for one of its four table forms.
void run_scorer(benchmark::State& state, const ItemScorer& scorer, std::vector<float> q = uniform(kDim, 3),
                bool flush = false) {
  std::vector<float> scratch(scorer.scratch_floats() + 1), out(scorer.output_floats());
  for (auto _ : state) {
    if (flush) {
      const pocketrec::runtime::FlushSubnormals scope;
      scorer.score(q.data(), scratch.data(), out.data());
    } else {
      scorer.score(q.data(), scratch.data(), out.data());
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(kernels().isa);
}

// A query whose second half is subnormal (1e-38 times a draw from U(-0.1, 0.1)).
std::vector<float> subnormal_query() {
  std::vector<float> q = uniform(kDim, 3);
  for (size_t i = kDim / 2; i < q.size(); ++i) q[i] *= 1e-38f;
  return q;
}

void Score_fp32_subnormal_query(benchmark::State& state) {
  static const auto rows = uniform(kItems * kDim, 4);
  ItemScorer s;
  s.init_fp32(rows.data(), kItems, kDim);
  run_scorer(state, s, subnormal_query(), state.range(0) != 0);
}

void Score_fp32(benchmark::State& state) {
  static const auto rows = uniform(kItems * kDim, 4);
  ItemScorer s;
  s.init_fp32(rows.data(), kItems, kDim);
  run_scorer(state, s);
}

void Score_int8(benchmark::State& state) {
  static const auto rows = uniform(kItems * kDim, 4);
  ItemScorer s;
  s.init_int8(rows.data(), kItems, kDim);
  run_scorer(state, s);
}

void Score_stt(benchmark::State& state) {
  pocketrec::runtime::SttCores c;
  c.I1 = 169, c.I2 = 241, c.J1 = 16, c.J2 = 8, c.R = 60, c.t = 2;
  static const auto core0 = uniform(169 * 16 * 60, 5), core1 = uniform(30 * 241 * 4, 6);
  c.core0 = core0.data();
  c.core1 = core1.data();
  ItemScorer s;
  if (!s.init_stt(c, kItems, kDim).ok()) state.SkipWithError("bad STT shape");
  run_scorer(state, s);
}

// A random PQ table of M sub-spaces of K codewords over kItems items.
struct RandomPq {
  std::vector<float> books;
  std::vector<uint8_t> codes;
  pocketrec::runtime::PqTable table;
  RandomPq(int64_t M, int64_t K) : books(uniform(static_cast<size_t>(M * K * (kDim / M)), 7)) {
    codes.resize(static_cast<size_t>(kItems * M));
    std::mt19937 rng(8);
    for (auto& x : codes) x = static_cast<uint8_t>(rng() % static_cast<uint32_t>(K));
    table.M = M, table.K = K, table.s = kDim / M;
    table.codebooks = books.data();
    table.codes = codes.data();
  }
};

// Args: M, K. K <= 16 takes the 4-bit block scan (codes packed at init, the LUT in registers) on
// AVX2 and AVX-512.
void Score_pq(benchmark::State& state) {
  const RandomPq pq(state.range(0), state.range(1));
  ItemScorer s;
  if (!s.init_pq(pq.table, kItems, kDim).ok()) state.SkipWithError("bad PQ shape");
  run_scorer(state, s);
}

// The top 20 of a PQ table at M = 16, K = 256: pruned:1 is ItemScorer::top_k (the byte-LUT pass,
// then exact scores of the items its bound keeps, on a CPU with AVX-512 VBMI; else as pruned:0),
// pruned:0 scores every item and selects from all of them. The label names the path taken.
void TopK20_pq(benchmark::State& state) {
  const RandomPq pq(16, 256);
  ItemScorer s;
  if (!s.init_pq(pq.table, kItems, kDim).ok()) state.SkipWithError("bad PQ shape");
  const auto q = uniform(kDim, 3);
  std::vector<float> scratch(s.scratch_floats()), out(s.output_floats()), val(20);
  std::vector<int64_t> idx(20);
  pocketrec::runtime::TopKBuffers buf;
  s.prepare(buf);
  const auto none = [](const auto&) {};
  const bool pruned = state.range(0) != 0;
  for (auto _ : state) {
    if (pruned) {
      s.top_k(q.data(), 20, none, scratch.data(), out.data(), buf, idx.data(), val.data());
    } else {
      s.score(q.data(), scratch.data(), out.data());
      pocketrec::runtime::top_k(out.data(), kItems, 20, idx.data(), val.data());
    }
    benchmark::DoNotOptimize(idx.data());
  }
  if (pruned) state.counters["scored"] = static_cast<double>(buf.scored);  // items scored exactly
  state.SetLabel(std::string(kernels().isa) +
                 (pruned && buf.scored < static_cast<size_t>(kItems) ? " pruned" : " full scan"));
}

}  // namespace

BENCHMARK(Matmul_encoder)->Unit(benchmark::kMicrosecond);
BENCHMARK(Score_fp32)->Unit(benchmark::kMicrosecond);
BENCHMARK(Score_int8)->Unit(benchmark::kMicrosecond);
BENCHMARK(Score_stt)->Unit(benchmark::kMicrosecond);
BENCHMARK(Score_pq)
    ->ArgNames({"M", "K"})
    ->Args({16, 256})
    ->Args({16, 16})
    ->Args({32, 16})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(TopK20_pq)->ArgName("pruned")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(Score_fp32_subnormal_query)->ArgName("flushed")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
