// Training and scoring speed of each LibTorch model on its real data set at the configured sizes
// (the configs in configs/teachers; needs ../shared/data). Per model: training instances/s of full
// steps (batch, forward, backward, optimizer), the share of step time spent in the data pipeline
// (make_batch: gathering and negative sampling; goal <= 5%), and the latency of scoring one user
// against the whole catalogue (encode + full dot-product scores).
//   build/bench/bench_training [--benchmark_filter=caser] [--threads=N] [--threads.blas=N]
// Threads follow threads.torch / threads.blas of each config (defaults: all cores / 1); --threads=N
// sets threads.torch of every config, --threads.blas=N its threads.blas.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <numeric>

#include "app/options.h"
#include "app/run_directory.h"
#include "core/config.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "distill/odrec_kd.h"
#include "eval/scorer.h"
#include "kernels/counter_based_dropout.h"
#include "kernels/full_softmax_cross_entropy.h"
#include "kernels/gemm.h"
#include "kernels/parallel_bmm.h"
#include "kernels/parallel_linear.h"
#include "models/caser_convolutions.h"
#include "models/session_encoder.h"
#include "models/torch_model.h"
#include "models/torch_models.h"
#include "train/fused_adam.h"
#include "train/process_setup.h"
#include "train/trainer.h"

using namespace pocketrec;

namespace {

std::vector<std::string> g_overrides = {"--output.progress=false"};  // plus the --threads options given

struct Setup {
  app::RunSettings settings;
  data::Dataset data;
  models::ModelInstance model;
  std::unique_ptr<train::TrainTask> task;
};

Setup* setup_for(const std::string& config_path) {
  static std::map<std::string, std::unique_ptr<Setup>> cache;
  auto& slot = cache[config_path];
  if (slot) return slot.get();
  const std::string path = std::string(POCKETREC_SOURCE_DIR) + "/" + config_path;
  std::filesystem::current_path(POCKETREC_SOURCE_DIR);  // a relative data root is relative to the repo
  app::RunSettings settings = app::run_settings(Config::load(path, g_overrides));
  if (!std::filesystem::exists(settings.data.path)) return nullptr;
  data::Dataset d = data::build_dataset(settings.data, settings.split);
  auto s = std::make_unique<Setup>();
  s->settings = settings;
  s->data = std::move(d);
  s->model = app::create_model(settings.model, s->data);
  s->task = std::make_unique<train::TrainTask>(s->model.trainable->training_task(s->data));
  slot = std::move(s);
  return slot.get();
}

// Full training steps of `task` with the trainer's optimizer at the config's threads and batch size:
// the step time's shares (data pipeline, forward, backward, optimizer) and an epoch estimate.
void time_training_steps(benchmark::State& state, const app::RunSettings& settings, train::TrainTask& task) {
  set_compute_threads(settings.process.torch_threads, settings.process.blas_threads);
  const int64_t batch = settings.train.batch_size;
  train::Optimizer opt = train::make_optimizer(settings.train, task.module.parameters());  // as the trainer's
  task.module.train();
  std::mt19937_64 rng(1);
  // Batches of shuffled samples, as the trainer draws them (in order, a batch would hold the
  // prefixes of a few sessions only).
  std::vector<int64_t> order(static_cast<size_t>(task.n_samples));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int64_t> ids(static_cast<size_t>(batch));
  size_t next = 0;
  double data_secs = 0, forward_secs = 0, backward_secs = 0, optimizer_secs = 0, total_secs = 0;
  for (auto _ : state) {
    for (auto& i : ids) i = order[next++ % order.size()];
    const auto t0 = std::chrono::steady_clock::now();
    train::Batch b = task.make_batch(ids.data(), ids.size(), rng);
    const auto t1 = std::chrono::steady_clock::now();
    torch::Tensor loss = task.loss(b);
    const auto t2 = std::chrono::steady_clock::now();
    opt.clear_gradients();  // as the trainer
    loss.backward();
    const auto t3 = std::chrono::steady_clock::now();
    opt.optimizer->step();
    const auto t4 = std::chrono::steady_clock::now();
    data_secs += std::chrono::duration<double>(t1 - t0).count();
    forward_secs += std::chrono::duration<double>(t2 - t1).count();
    backward_secs += std::chrono::duration<double>(t3 - t2).count();
    optimizer_secs += std::chrono::duration<double>(t4 - t3).count();
    total_secs += std::chrono::duration<double>(t4 - t0).count();
  }
  state.counters["forward_fraction"] = forward_secs / total_secs;
  state.counters["backward_fraction"] = backward_secs / total_secs;
  state.counters["optimizer_fraction"] = optimizer_secs / total_secs;
  state.counters["instances_per_s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["data_fraction"] = data_secs / total_secs;
  state.counters["epoch_s_estimate"] = total_secs / state.iterations() * task.n_samples / batch;
}

void BM_TrainStep(benchmark::State& state, const std::string& config_path) {
  Setup* s = setup_for(config_path);
  if (!s) return state.SkipWithError("data set not found (needs ../shared/data)");
  time_training_steps(state, s->settings, *s->task);
  state.counters["params"] = static_cast<double>(s->model->n_parameters());
}

// One OD-Rec self-supervised distillation step on Tmall (configs/odrec/tmall-student.json: the STT
// student, the frozen teacher of configs/teachers/sasrec-odrec-tmall.json): batch, every KD loss term,
// backward, Adam. The teacher keeps its initial weights: a step costs the same whatever they are.
// Its epoch estimate against TrainStep/sasrec_odrec_tmall's is the SSKD-vs-teacher epoch ratio.
void BM_OdRecDistillStep(benchmark::State& state) {
  struct Distillation {
    app::RunSettings settings;
    models::ModelInstance teacher, student;
    std::unique_ptr<distill::OdRecKdTask> kd;
  };
  static std::unique_ptr<Distillation> s;
  if (!s) {
    Setup* t = setup_for("configs/teachers/sasrec-odrec-tmall.json");
    if (!t) return state.SkipWithError("data set not found (needs ../shared/data)");
    s = std::make_unique<Distillation>();
    s->settings = app::run_settings(
        Config::load(std::string(POCKETREC_SOURCE_DIR) + "/configs/odrec/tmall-student.json", g_overrides));
    s->teacher = app::create_model(t->settings.model, t->data);
    s->student = app::create_model(s->settings.model, t->data);
    s->kd = std::make_unique<distill::OdRecKdTask>(
        distill::make_odrec_kd_task(*s->teacher.session_encoder, *s->student.session_encoder,
                                    s->student.trainable->training_task(t->data), t->data, s->settings.distill.odrec));
  }
  time_training_steps(state, s->settings, s->kd->task);
}

void BM_ScoreOneUser(benchmark::State& state, const std::string& config_path) {
  Setup* s = setup_for(config_path);
  if (!s) return state.SkipWithError("data set not found (needs ../shared/data)");
  set_compute_threads(1, 1);
  auto scorer = s->model->make_scorer(s->data);
  std::vector<float> out(static_cast<size_t>(scorer->n_items()));
  int32_t q = 0;
  for (auto _ : state) {
    scorer->prepare(s->data.test, &q, 1);
    scorer->score(0, 1, 0, scorer->n_items(), out.data(), out.size());
    benchmark::DoNotOptimize(out.data());
    q = (q + 1) % static_cast<int32_t>(s->data.test.size());
  }
  state.counters["items"] = scorer->n_items();
}

// Caser-T's convolution layers (B 512, L 5, d 100, nv 2, nh 16), forward + backward, on 1 and on 2
// threads: caser_convolutions against the torch::nn::Conv2d modules it replaced, side by side in one run.
void BM_CaserConvolutions(benchmark::State& state, bool conv2d, int threads) {
  set_compute_threads(threads, 1);
  torch::manual_seed(1);
  const int64_t B = 512, L = 5, d = 100, nv = 2, nh = 16;
  torch::nn::Conv2d vertical(torch::nn::Conv2dOptions(1, nv, {L, 1}));
  std::vector<torch::nn::Conv2d> horizontal;
  std::vector<torch::Tensor> weights{vertical->weight}, biases{vertical->bias};
  for (int64_t h = 1; h <= L; ++h) {
    horizontal.emplace_back(torch::nn::Conv2dOptions(1, nh, {h, d}));
    weights.push_back(horizontal.back()->weight);
    biases.push_back(horizontal.back()->bias);
  }
  torch::Tensor X = torch::randn({B, L, d}).requires_grad_(true);
  for (auto _ : state) {
    std::vector<torch::Tensor> out;
    if (conv2d) {
      out.push_back(vertical->forward(X.unsqueeze(1)).view({B, -1}));
      for (auto& m : horizontal) out.push_back(m->forward(X.unsqueeze(1)).squeeze(3));
    } else {
      out = models::caser_convolutions(X, weights, biases);
    }
    torch::Tensor loss = out[0].sum();
    for (size_t h = 1; h < out.size(); ++h) loss = loss + std::get<0>(out[h].max(2)).sum();
    loss.backward();
  }
}

// The full-softmax cross-entropy forward + backward on 2 threads: the two LibTorch calls the models
// used (matmul with the transposed table, cross_entropy) vs full_softmax_cross_entropy. Shapes
// {rows, d, items}: the Tmall teacher's step (100, 128, 40,727) and ML-1M SASRec-CE's (about 3,500 real
// positions of 32 x 200, 64, 3,706). The item table is sliced from a padded one, as the models do.
void BM_FullSoftmaxCE(benchmark::State& state, bool torch_calls, std::array<int64_t, 3> shape) {
  set_compute_threads(2, 1);
  torch::manual_seed(1);
  const auto [B, d, N] = shape;
  torch::Tensor table = (torch::randn({N + 1, d}) * 0.1).requires_grad_(true);
  torch::Tensor H = torch::randn({B, d}).requires_grad_(true);
  torch::Tensor y = torch::randint(N, {B}, torch::kInt64);
  for (auto _ : state) {
    torch::Tensor items = table.slice(0, 0, N);
    torch::Tensor loss = torch_calls ? torch::nn::functional::cross_entropy(torch::matmul(H, items.t()), y)
                                     : kernels::full_softmax_cross_entropy(H, items, y);
    loss.backward();
    table.mutable_grad().reset();
    H.mutable_grad().reset();
  }
}

// OD-Rec distillation's L_rec and L_kd (T = 1) forward + backward at the Tmall shapes (100 x 128 x
// 40,727, the teacher's scores given), 2 threads: matmul, cross_entropy and the KL of two log_softmax
// (what odrec_kd used) vs full_softmax_distillation.
void BM_FullSoftmaxDistillation(benchmark::State& state, bool torch_calls) {
  set_compute_threads(2, 1);
  torch::manual_seed(1);
  const int64_t B = 100, d = 128, N = 40727;
  torch::Tensor items = (torch::randn({N, d}) * 0.1).requires_grad_(true);
  torch::Tensor H = torch::randn({B, d}).requires_grad_(true);
  torch::Tensor Z = torch::randn({B, N});
  torch::Tensor y = torch::randint(N, {B}, torch::kInt64);
  for (auto _ : state) {
    torch::Tensor loss;
    if (torch_calls) {
      torch::Tensor S = torch::matmul(H, items.t());
      torch::Tensor log_pz = torch::log_softmax(Z, 1), log_ps = torch::log_softmax(S, 1);
      loss = torch::nn::functional::cross_entropy(S, y) * 0.2 + (log_pz.exp() * (log_pz - log_ps)).sum() * 0.8;
    } else {
      auto l = kernels::full_softmax_distillation(H, items, y, Z, 1.0);
      loss = l.cross_entropy * 0.2 + l.kl * 0.8;
    }
    loss.backward();
    items.mutable_grad().reset();
    H.mutable_grad().reset();
  }
}

// Dropout (p = 0.5) forward + backward on the OD-Rec teacher's [100, 40, 128] activations, 2 threads:
// torch::nn::Dropout vs CounterBasedDropout.
void BM_Dropout(benchmark::State& state, bool torch_module) {
  set_compute_threads(2, 1);
  torch::manual_seed(1);
  torch::nn::Dropout theirs(0.5);
  kernels::CounterBasedDropout ours(0.5);
  torch::Tensor x = torch::randn({100, 40, 128}).requires_grad_(true);
  for (auto _ : state) {
    torch::Tensor y = torch_module ? theirs->forward(x) : ours->forward(x);
    y.backward(x.detach());
    x.mutable_grad().reset();
  }
}

// One of the OD-Rec teacher's linear layers (128 -> 128 on 100 x 40 positions) forward + backward,
// 2 torch threads (BLAS 1 thread, as configured): torch::nn::Linear vs parallel_linear.
void BM_Linear(benchmark::State& state, bool torch_module) {
  set_compute_threads(2, 1);
  torch::manual_seed(1);
  torch::nn::Linear layer(128, 128);
  torch::Tensor x = torch::randn({100, 40, 128}).requires_grad_(true);
  torch::Tensor upstream = torch::randn({100, 40, 128});
  for (auto _ : state) {
    torch::Tensor y = torch_module ? layer->forward(x) : kernels::parallel_linear(layer, x);
    y.backward(upstream);
    x.mutable_grad().reset();
    for (auto& p : layer->parameters()) p.mutable_grad().reset();
  }
}

// The products of one tile of the Tmall teacher's full-softmax loss (B 100, d 128, item chunks of
// 4096 of the 40,727 items), one thread, through ATen (at::mm_out: the BLAS libblas.so.3 points to,
// with the kernels OPENBLAS_CORETYPE selects) and through kernels::gemm_out (oneDNN's sgemm).
//   scores    S = Q W_c^T     [100 x 128] x [128 x 4096] (a transposed view)
//   items     dW_c = P_c^T Q  [4096 x 100] (a transposed view of the score rows) x [100 x 128]
//   queries   dQ = P W_j      [100 x 40727] x [40727 x 32] (a column block of the table)
void BM_Gemm(benchmark::State& state, const std::string& which, bool aten) {
  set_compute_threads(1, 1);
  torch::manual_seed(1);
  const int64_t N = 40727;
  const torch::Tensor Q = torch::randn({100, 128}), W = torch::randn({N, 128}), P = torch::randn({100, N});
  const std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> operands = {
      {"scores", {Q, W.slice(0, 0, 4096).t()}},
      {"items", {P.slice(1, 0, 4096).t(), Q}},
      {"queries", {P, W.slice(1, 0, 32)}}};
  const auto& [a, b] = operands.at(which);
  torch::Tensor out = torch::empty({a.size(0), b.size(1)});
  for (auto _ : state) {
    if (aten)
      at::mm_out(out, a, b);
    else
      kernels::gemm_out(out, a, b);
    benchmark::DoNotOptimize(out.data_ptr<float>());
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * a.size(0) * a.size(1) * b.size(1), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
  state.SetLabel(aten ? blas_description() : "oneDNN sgemm");
}

// The OD-Rec teacher's two attention products (scores Q K^T and context A V over 100 sessions x 40
// positions, d 128) forward + backward, 2 torch threads: torch::matmul vs parallel_bmm.
void BM_AttentionProducts(benchmark::State& state, bool torch_calls) {
  set_compute_threads(2, 1);
  torch::manual_seed(1);
  torch::Tensor q = torch::randn({100, 40, 128}).requires_grad_(true), k = torch::randn({100, 40, 128});
  torch::Tensor v = torch::randn({100, 40, 128}).requires_grad_(true);
  for (auto _ : state) {
    auto bmm = [&](const torch::Tensor& a, const torch::Tensor& b) {
      return torch_calls ? torch::matmul(a, b) : kernels::parallel_bmm(a, b);
    };
    torch::Tensor attn = torch::softmax(bmm(q, k.transpose(1, 2)), -1);
    bmm(attn, v).sum().backward();
    q.mutable_grad().reset();
    v.mutable_grad().reset();
  }
}

// One Adam step with coupled L2 on Caser-T's 1.71 M parameters (as one tensor), 1 thread:
// FusedAdam against torch::optim::Adam, side by side in one run.
void BM_AdamStep(benchmark::State& state, bool fused) {
  set_compute_threads(1, 1);
  torch::manual_seed(1);
  torch::Tensor w = torch::randn({1710169}).requires_grad_(true);
  w.mutable_grad() = torch::randn({1710169});
  const auto options = torch::optim::AdamOptions(1e-3).weight_decay(1e-6);
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (fused) {
    opt = std::make_unique<train::FusedAdam>(std::vector<torch::Tensor>{w}, options);
  } else {
    opt = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{w}, options);
  }
  for (auto _ : state) opt->step();
}

const char* kConfigs[][2] = {
    {"caser_gowalla", "configs/teachers/caser-gowalla-lbsn1k.json"},
    {"fossil_gowalla", "configs/teachers/fossil-gowalla-lbsn1k.json"},
    {"bpr_gowalla", "configs/rd/gowalla-lbsn1k.json"},
    {"sasrec_odrec_tmall", "configs/teachers/sasrec-odrec-tmall.json"},
    {"sasrec_ce_ml1m", "configs/teachers/sasrec-ce-ml-1m.json"},
};

}  // namespace

int main(int argc, char** argv) {
  apply_malloc_settings();
  set_log_level(LogLevel::kWarn);
  ProgressBar::set_enabled(false);
  for (const auto& c : kConfigs) {
    benchmark::RegisterBenchmark((std::string("TrainStep/") + c[0]).c_str(), BM_TrainStep, std::string(c[1]))
        ->Unit(benchmark::kMillisecond)
        ->MinTime(3.0)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("ScoreOneUser/") + c[0]).c_str(), BM_ScoreOneUser, std::string(c[1]))
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  // --threads=N overrides every config's threads.torch (e.g. 1 while another job holds a core);
  // --threads.blas=N and --threads.torch=N are passed to every config as they are.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) {
      g_overrides.push_back("--threads.torch=" + a.substr(10));
    } else if (a.rfind("--threads.", 0) == 0) {
      g_overrides.push_back(a);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::RegisterBenchmark("TrainStep/odrec_sskd_tmall", BM_OdRecDistillStep)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(3.0)
      ->UseRealTime();
  benchmark::RegisterBenchmark("AdamStep/torch", BM_AdamStep, false)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("AdamStep/fused", BM_AdamStep, true)->Unit(benchmark::kMillisecond);
  for (const int threads : {1, 2}) {
    const std::string suffix = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("CaserConvolutions/conv2d" + suffix).c_str(), BM_CaserConvolutions, true, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("CaserConvolutions/ours" + suffix).c_str(), BM_CaserConvolutions, false, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (const auto& [name, shape] :
       {std::pair<const char*, std::array<int64_t, 3>>{"tmall", {100, 128, 40727}}, {"ml1m", {3500, 64, 3706}}}) {
    for (bool torch_calls : {true, false})
      benchmark::RegisterBenchmark(fmt::format("FullSoftmaxCE/{}/{}", name, torch_calls ? "torch" : "ours").c_str(),
                                   BM_FullSoftmaxCE, torch_calls, shape)
          ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("FullSoftmaxDistillation/tmall/torch", BM_FullSoftmaxDistillation, true)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("FullSoftmaxDistillation/tmall/ours", BM_FullSoftmaxDistillation, false)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Dropout/torch", BM_Dropout, true)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Dropout/ours", BM_Dropout, false)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Linear/torch", BM_Linear, true)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Linear/ours", BM_Linear, false)->Unit(benchmark::kMillisecond);
  for (const char* which : {"scores", "items", "queries"})
    for (bool aten : {true, false})
      benchmark::RegisterBenchmark(fmt::format("Gemm/{}/{}", which, aten ? "aten" : "ours").c_str(), BM_Gemm,
                                   std::string(which), aten)
          ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("AttentionProducts/torch", BM_AttentionProducts, true)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("AttentionProducts/ours", BM_AttentionProducts, false)->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
