// Ranking Distillation cost on the real check-in data (needs ../shared/data), one LibTorch thread:
//   1. the teacher top-K cache build: every training sample scored against the whole catalogue by
//      the teacher (d = 100) and its top-10 kept;
//   2. the per-step (= per-epoch) cost of distillation against plain student training (d = 50),
//      measured side by side in one run: the student's own loss, RD before the discrepancy weights
//      start (target + negatives + K cached items), and RD with them (+ eps = 100 rank samples).
//   build/bench/bench_rank_distill [caser|fossil] [gowalla-lbsn1k|foursquare-lbsn5k]
// The teacher's weights do not change the cost, so an untrained teacher of the configured size is used.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "app/options.h"
#include "app/run_directory.h"
#include "core/config.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "distill/rank_distill.h"
#include "distill/topk_teacher_cache.h"
#include "models/sampled_item_task.h"
#include "models/torch_model.h"
#include "train/fused_adam.h"
#include "train/process_setup.h"
#include "train/trainer.h"

using namespace pocketrec;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Seconds per training step of `task` (batch, forward, backward, the trainer's optimizer for the
// student config `c`), over `steps` steps.
double step_seconds(train::TrainTask& task, const train::TrainOptions& c, int64_t batch, int64_t steps, int64_t epoch) {
  if (task.on_epoch_begin) task.on_epoch_begin(epoch);
  train::Optimizer opt = train::make_optimizer(c, task.module.parameters());
  task.module.train();
  std::mt19937_64 rng(1);
  std::vector<int64_t> ids(static_cast<size_t>(batch));
  int64_t next = 0;
  auto step = [&] {
    for (auto& i : ids) i = next++ % task.n_samples;
    torch::Tensor loss = task.loss(task.make_batch(ids.data(), ids.size(), rng));
    opt.clear_gradients();
    loss.backward();
    opt.optimizer->step();
  };
  step();  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) step();
  return seconds_since(t0) / static_cast<double>(steps);
}

}  // namespace

int main(int argc, char** argv) {
  apply_malloc_settings();
  set_log_level(LogLevel::kWarn);
  ProgressBar::set_enabled(false);
  const std::string model = argc > 1 ? argv[1] : "caser", data_name = argc > 2 ? argv[2] : "gowalla-lbsn1k";
  std::filesystem::current_path(POCKETREC_SOURCE_DIR);  // a relative data root is relative to the repo
  const app::RunSettings tc = app::run_settings(
      Config::load("configs/teachers/" + model + "-" + data_name + ".json", {"--output.progress=false"}));
  const app::RunSettings sc = app::run_settings(
      Config::load("configs/rd/" + model + "-" + data_name + "-student.json", {"--output.progress=false"}));
  if (!std::filesystem::exists(tc.data.path)) {
    std::fprintf(stderr, "bench_rank_distill: %s not found (needs ../shared/data)\n", tc.data.path.c_str());
    return 0;
  }
  set_compute_threads(1, 1);
  data::Dataset d = data::build_dataset(tc.data, tc.split);
  models::ModelInstance teacher = app::create_model(tc.model, d), student = app::create_model(sc.model, d);
  models::SampledItemTask tt = teacher.sampled_items->sampled_item_task(d);
  models::SampledItemTask st = student.sampled_items->sampled_item_task(d);
  const distill::RankDistillOptions o = sc.distill.rd;

  auto t0 = std::chrono::steady_clock::now();
  distill::TopKTeacherCache cache = distill::TopKTeacherCache::build(
      tt, distill::TopKCacheKey{"bench", "", "", o.k, distill::TopKExclusion::kHistory});
  const double build_s = seconds_since(t0);
  std::printf("%s on %s: %lld training samples, %d items; teacher %lld parameters, student %lld\n", model.c_str(),
              data_name.c_str(), static_cast<long long>(tt.size()), tt.n_items,
              static_cast<long long>(teacher->n_parameters()), static_cast<long long>(student->n_parameters()));
  std::printf("teacher top-%lld cache build: %.2f s (%.1f us per sample)\n\n", static_cast<long long>(o.k), build_s,
              1e6 * build_s / static_cast<double>(tt.size()));

  const int64_t batch = sc.train.batch_size, n_neg = sc.model.sampling.neg_samples, steps = 20;
  train::TrainTask plain = models::sigmoid_loss_task(st, n_neg);
  train::TrainTask rd = distill::rank_distill_task(st, cache, n_neg, o);
  // Three interleaved rounds; the median of each.
  std::vector<double> p, r0, r1;
  for (int round = 0; round < 3; ++round) {
    p.push_back(step_seconds(plain, sc.train, batch, steps, 1));
    r0.push_back(step_seconds(rd, sc.train, batch, steps, 1));                          // before w^b starts
    r1.push_back(step_seconds(rd, sc.train, batch, steps, o.dynamic_start_epoch + 1));  // with the rank samples
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double mp = median(p), m0 = median(r0), m1 = median(r1);
  const double epoch = static_cast<double>((st.size() + batch - 1) / batch);
  std::printf("| student step (batch %lld, 1 thread) | ms per step | s per epoch | vs plain |\n|---|---|---|---|\n",
              static_cast<long long>(batch));
  std::printf("| plain (target + %lld negatives) | %.2f | %.2f | 1.00 |\n", static_cast<long long>(n_neg), 1e3 * mp,
              mp * epoch);
  std::printf("| RD, position weights (+ K = %lld cached items) | %.2f | %.2f | %.2f |\n", static_cast<long long>(o.k),
              1e3 * m0, m0 * epoch, m0 / mp);
  std::printf("| RD, hybrid weights (+ eps = %lld rank samples) | %.2f | %.2f | %.2f |\n",
              static_cast<long long>(o.rank_samples), 1e3 * m1, m1 * epoch, m1 / mp);
  return 0;
}
