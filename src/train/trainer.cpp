#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <numeric>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"

namespace pocketrec::train {

nlohmann::json TrainSummary::to_json() const {
  return {{"epochs_run", epochs_run}, {"best_epoch", best_epoch}, {"best_valid", best_value},
          {"valid_metric", metric},   {"stopped_early", stopped_early}, {"train_seconds", seconds}};
}

TrainSummary run_training(TrainTask& task, const models::Recommender& model, const models::FitContext& ctx) {
  const Config& c = ctx.config;
  const int64_t epochs = c.integer("train.epochs"), batch = c.integer("train.batch_size");
  const int64_t eval_every = c.integer("train.eval_every"), patience = c.integer("train.patience");
  TrainSummary sum;
  sum.metric = c.str("eval.valid_metric");
  PR_CHECK(task.n_samples > 0, ErrorCode::kInvalidArgument, "no training samples");

  std::mt19937_64 rng(static_cast<uint64_t>(c.integer("train.seed")));
  torch::optim::Adam opt(task.module.parameters(),
                         torch::optim::AdamOptions(c.number("train.lr")).weight_decay(c.number("train.l2")));
  std::vector<int64_t> order(static_cast<size_t>(task.n_samples));
  std::iota(order.begin(), order.end(), 0);

  std::vector<torch::Tensor> best;
  auto snapshot = [&] {
    best.clear();
    for (const auto& p : task.module.parameters()) best.push_back(p.detach().clone());
  };
  std::string log_text;
  const std::string log_path = ctx.run_dir.empty() ? "" : ctx.run_dir + "/train_log.jsonl";
  double best_value = -INFINITY;
  int64_t bad_rounds = 0;
  const auto t_start = std::chrono::steady_clock::now();

  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    task.module.train();
    std::shuffle(order.begin(), order.end(), rng);
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, epochs), task.n_samples, "samples");
    double loss_sum = 0;
    int64_t n_batches = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t b = 0; b < task.n_samples; b += batch) {
      const size_t n = static_cast<size_t>(std::min(batch, task.n_samples - b));
      torch::Tensor loss = task.batch_loss(order.data() + b, n, rng);
      opt.zero_grad();
      loss.backward();
      opt.step();
      double l = loss.item<double>();
      PR_CHECK(std::isfinite(l), ErrorCode::kInternal, "training loss became {} at epoch {}, batch {}", l, epoch,
               n_batches + 1);
      loss_sum += l;
      ++n_batches;
      bar.advance(static_cast<int64_t>(n), fmt::format("loss {:.4f}", loss_sum / n_batches));
    }
    bar.finish();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json line = {{"epoch", epoch},
                           {"loss", loss_sum / n_batches},
                           {"seconds", secs},
                           {"samples_per_s", task.n_samples / std::max(1e-9, secs)}};
    sum.epochs_run = epoch;
    std::string msg = fmt::format("epoch {}: loss {:.4f}, {:.1f}s ({:.0f} samples/s)", epoch, loss_sum / n_batches,
                                  secs, task.n_samples / std::max(1e-9, secs));
    if (epoch % eval_every == 0 || epoch == epochs) {
      task.module.eval();
      eval::EvalResult r;
      {
        torch::NoGradGuard no_grad;
        r = ctx.validate(model);
      }
      double v = r.get(sum.metric);
      line["valid"] = r.to_json()["metrics"];
      msg += fmt::format(", valid {} {:.4f}", sum.metric, v);
      if (v > best_value) {
        best_value = v;
        sum.best_epoch = epoch;
        bad_rounds = 0;
        snapshot();
        msg += " (best)";
      } else {
        ++bad_rounds;
      }
    }
    log_info("{}", msg);
    log_text += line.dump() + "\n";
    if (!log_path.empty()) write_file_atomic(log_path, log_text);
    if (patience > 0 && bad_rounds >= patience) {
      sum.stopped_early = true;
      log_info("early stopping: no improvement of {} in {} validation rounds", sum.metric, patience);
      break;
    }
  }
  if (!best.empty()) {
    torch::NoGradGuard no_grad;
    auto params = task.module.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
    log_info("restored the best weights (epoch {}, valid {} {:.4f})", sum.best_epoch, sum.metric, best_value);
  }
  task.module.eval();
  sum.best_value = best_value;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return sum;
}

}  // namespace pocketrec::train
