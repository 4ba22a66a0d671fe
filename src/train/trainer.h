// The training loop shared by every LibTorch model and distillation: Adam (coupled L2, fused_adam.h)
// or AdamW (decoupled weight decay), shuffled mini-batches, validation every n epochs, early
// stopping with patience, the best weights restored at the end, a JSON-lines log (loss, validation
// metrics, samples/s), and checkpoints that make a killed run resumable to exactly the result of an
// uninterrupted one:
//   checkpoint_last.ckpt  every epoch: weights, optimizer, both RNG states, epoch, early-stopping
//                         state, log, run identity and the data fingerprint
//   checkpoint_best.ckpt  the best validated weights
// The trainer sees a TrainTask (module, samples, batch, loss) and a validation callback, nothing of
// the model behind them. A step is "backward, the after-backward hook, optimizer step".
// With a DataParallel group (data_parallel.h) every rank shuffles and samples the same way, takes its
// shard of each global batch, and the gradients are averaged before the step; dropout draws from
// streams seeded by (seed, rank, step), so a run repeats and resumes exactly.
// Rank 0 alone validates and writes; its decisions (improved, stop) are broadcast.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "eval/evaluator.h"
#include "train/data_parallel.h"
#include "train/fused_adam.h"
#include "train/options.h"
#include "train/task.h"

namespace pocketrec::train {

struct TrainSummary {
  int64_t epochs_run = 0, best_epoch = 0;
  double best_value = 0;
  std::string metric;
  bool stopped_early = false, resumed = false;
  double seconds = 0, seconds_per_epoch = 0, samples_per_s = 0;
  double data_fraction = 0;  // share of training-step time spent in make_batch (data pipeline, sampling)
  nlohmann::json to_json() const;
};

struct TrainerHooks {
  // The metrics of the module's current weights on the validation split; called in eval mode
  // without gradients. Its result must hold the options' valid_metric. Empty: no validation, the
  // weights of the last epoch are kept (a refit for a number of epochs chosen before).
  std::function<eval::EvalResult()> validate;
  // After each backward pass, before the optimizer step (gradient reduction across processes).
  std::function<void(torch::nn::Module&)> after_backward;
  // Whether this process writes the log and the checkpoints (one writer per run).
  bool writer = true;
  // Data-parallel training across processes (null: this process alone).
  DataParallel* parallel = nullptr;
  // A checkpoint's saved run identity as the current one would be written (e.g. with settings added
  // to PocketRec since then at their defaults); identity when empty.
  std::function<nlohmann::json(const nlohmann::json& saved)> normalize_identity;
};

// The optimizer of the options: Adam with the coupled l2 (as FusedAdam), or AdamW with the
// decoupled weight_decay; both set is an error.
Optimizer make_optimizer(const TrainOptions& options, std::vector<torch::Tensor> params);

class Trainer {
 public:
  Trainer(TrainOptions options, TrainerHooks hooks);
  // Trains task.module; on return it holds the best validated weights (in eval mode), or the last
  // epoch's without a validation hook.
  TrainSummary run(TrainTask& task);

 private:
  void resume(TrainTask& task);
  // One epoch of steps; returns the mean loss and adds the data pipeline's seconds to *data_seconds.
  double train_epoch(TrainTask& task, int64_t epoch, double* data_seconds);
  // A validation round after `epoch`: updates the best value and snapshot; returns whether it improved.
  bool validate(TrainTask& task, int64_t epoch, nlohmann::json& log_line, std::string& message);
  void write_checkpoints(TrainTask& task, int64_t epoch, bool improved);
  void snapshot_best(torch::nn::Module& module);
  void restore_best(torch::nn::Module& module);

  TrainOptions options_;
  TrainerHooks hooks_;
  Optimizer optimizer_;
  std::mt19937_64 rng_;
  std::vector<int64_t> order_;
  // One step on the samples order_[b, b + n): this process's whole batch, or its shard of it.
  double train_step(TrainTask& task, int64_t b, size_t n, int64_t step, double* data_seconds);
  // Rank 0's validation round, its outcome shared with every rank; returns whether it improved.
  bool validate_round(TrainTask& task, int64_t epoch, nlohmann::json& log_line, std::string& message);

  std::vector<torch::Tensor> best_;  // the best validated weights
  std::string log_text_;
  double best_value_;
  int64_t bad_rounds_ = 0, first_epoch_ = 1;
  bool finished_ = false;
  TrainSummary summary_;
};

// Keeps the JSON value `run_identity` comparable: the first path where two identities differ
// ("/train/lr"), or "" when they are equal.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace pocketrec::train
