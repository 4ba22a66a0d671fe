// Semi-tensor-train item table vs a dense table of the same logical size (OD-Rec's Tmall default:
// 40,729 x 128 as cores [[169,241],[16,8]], rank 60, t = 2), one binary so the ratios come from
// one run:
//   Lookup/*      rows for a training batch (100 prefixes x 40 positions), forward + backward
//   FullSoftmax/* the scores of 100 session vectors against every item, forward + backward
//                 (STT: reconstruct the table from the cores, then the same product)
//   Reconstruct   the full table from the cores, forward only
//   ReconstructWithGradient/*  the same with its backward: full_table() vs the semi_tensor_product chain,
//                 and full_table() with an item order (model.stt_item_order = teacher: one more row gather)
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

// The full table from the cores, forward + backward (an upstream gradient of the table's shape, as
// the full-softmax loss gives): full_table() against the same chain built from semi_tensor_product,
// whose per-s products run as single-threaded BLAS calls and whose result is interleaved by copies;
// and full_table() of a table with a (random) item order, whose rows are gathered once more.
enum class Reconstruction { kBatchedStp, kOurs, kOursOrdered };
void BM_ReconstructWithGradient(benchmark::State& state, Reconstruction how) {
  const bool batched_stp = how == Reconstruction::kBatchedStp;
  compress::SemiTensorTrainEmbedding e(tmall_shape(), 0.1, how == Reconstruction::kOursOrdered);
  if (how == Reconstruction::kOursOrdered) {
    torch::manual_seed(2);
    const torch::Tensor perm = torch::randperm(40729, torch::kInt64);
    e->set_item_order(std::vector<int64_t>(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + perm.numel()));
  }
  torch::Tensor upstream = torch::randn({40729, 128});
  for (auto _ : state) {
    e->zero_grad();
    torch::Tensor table;
    if (batched_stp) {
      torch::Tensor M = compress::semi_tensor_product(e->cores()[0], e->cores()[1], 2);  // [169 x 16, 241 x 8]
      table = M.view({169, 16, 241, 8}).permute({0, 2, 1, 3}).reshape({40729, 128});
    } else {
      table = e->full_table();
    }
    table.backward(upstream);
  }
}

BENCHMARK_CAPTURE(BM_ReconstructWithGradient, batched_stp, Reconstruction::kBatchedStp)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_ReconstructWithGradient, ours, Reconstruction::kOurs)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_ReconstructWithGradient, ours_ordered, Reconstruction::kOursOrdered)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
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
