// Semi-tensor-train item table vs a dense table of the same logical size (OD-Rec's Tmall default:
// 40,729 x 128 as cores [[169,241],[16,8]], rank 60, t = 2), one binary so the ratios come from
// one run:
//   Lookup/*      rows for a training batch (100 prefixes x 40 positions), forward + backward
//   FullSoftmax/* the scores of 100 session vectors against every item, forward + backward
//                 (STT: reconstruct the table from the cores, then the same product)
//   Reconstruct   the full table from the cores, forward only
//   build/bench/bench_stt
#include <benchmark/benchmark.h>

#include "compress/semi_tensor_train.h"
#include "train/process_setup.h"

using namespace pocketrec;

namespace {

compress::SttShape tmall_shape() {
  return compress::SttShape{{169, 241}, {16, 8}, 60, 2, compress::SttLayout::kCanonical};
}

torch::Tensor batch_ids() {
  torch::manual_seed(1);
  return torch::randint(0, 40727, {100, 40}, torch::kInt64);
}

void BM_Lookup_Stt(benchmark::State& state) {
  compress::SemiTensorTrainEmbedding e(tmall_shape(), 0.1);
  torch::Tensor ids = batch_ids(), g = torch::randn({100, 40, 128});
  for (auto _ : state) {
    e->zero_grad();
    (e->forward(ids) * g).sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * ids.numel());
}

void BM_Lookup_Dense(benchmark::State& state) {
  torch::nn::Embedding e(40729, 128);
  torch::Tensor ids = batch_ids(), g = torch::randn({100, 40, 128});
  for (auto _ : state) {
    e->zero_grad();
    (e->forward(ids) * g).sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * ids.numel());
}

void BM_FullSoftmax_Stt(benchmark::State& state) {
  compress::SemiTensorTrainEmbedding e(tmall_shape(), 0.1);
  torch::Tensor s = torch::randn({100, 128}), y = torch::randint(0, 40727, {100}, torch::kInt64);
  for (auto _ : state) {
    e->zero_grad();
    torch::nn::functional::cross_entropy(torch::matmul(s, e->full_table().t()), y).backward();
  }
}

void BM_FullSoftmax_Dense(benchmark::State& state) {
  torch::nn::Embedding e(40729, 128);
  torch::Tensor s = torch::randn({100, 128}), y = torch::randint(0, 40727, {100}, torch::kInt64);
  for (auto _ : state) {
    e->zero_grad();
    torch::nn::functional::cross_entropy(torch::matmul(s, e->weight.t()), y).backward();
  }
}

void BM_Reconstruct_Stt(benchmark::State& state) {
  compress::SemiTensorTrainEmbedding e(tmall_shape(), 0.1);
  torch::NoGradGuard g;
  for (auto _ : state) benchmark::DoNotOptimize(e->full_table().data_ptr());
  state.SetItemsProcessed(state.iterations() * 40729);
}

BENCHMARK(BM_Lookup_Stt)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Lookup_Dense)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_FullSoftmax_Stt)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FullSoftmax_Dense)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Reconstruct_Stt)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  apply_malloc_settings();
  set_compute_threads(2, 1);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
