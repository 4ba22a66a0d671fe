// The training loop shared by every LibTorch model: Adam (coupled L2, fused_adam.h) or AdamW (decoupled weight
// decay), shuffled mini-batches, validation every n epochs, early stopping with patience, the
// best weights restored at the end, a JSON-lines log (loss, validation metrics, samples/s), and
// checkpoints that make a killed run resumable to exactly the result of an uninterrupted one:
//   checkpoint_last.ckpt  every epoch: weights, optimizer, both RNG states, epoch, early-stopping
//                         state, log, config and a data fingerprint
//   checkpoint_best.ckpt  the best validated weights
// Checkpoints are LibTorch archives sealed with a length + CRC-32 trailer and written atomically.
// A model supplies only its loss on a batch of sample ids. The step is "backward, then optimizer
// step", so gradients can be all-reduced between the two without touching the models.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/config.h"
#include "models/recommender.h"

namespace pocketrec::train {

// A mini-batch as the model's input tensors.
using Batch = std::vector<torch::Tensor>;

struct TrainTask {
  torch::nn::Module& module;
  int64_t n_samples;
  // The data pipeline: gathers samples ids[0..n) (indices into the model's sample index) and draws
  // their negatives into tensors. Timed separately from the model in the training log.
  std::function<Batch(const int64_t* ids, size_t n, std::mt19937_64& rng)> make_batch;
  // The model: mean training loss of a batch.
  std::function<torch::Tensor(const Batch& batch)> loss;
  std::string data_fingerprint;  // resuming refuses a checkpoint made on other data
  // Called before each epoch's first batch with the epoch number (1-based, also after a resume), for
  // losses that change with the epoch (ranking distillation's hybrid weights).
  std::function<void(int64_t epoch)> on_epoch_begin;

  torch::Tensor batch_loss(const int64_t* ids, size_t n, std::mt19937_64& rng) const { return loss(make_batch(ids, n, rng)); }
};

struct TrainSummary {
  int64_t epochs_run = 0, best_epoch = 0;
  double best_value = 0;
  std::string metric;
  bool stopped_early = false, resumed = false;
  double seconds = 0, seconds_per_epoch = 0, samples_per_s = 0;
  double data_fraction = 0;  // share of training-step time spent in make_batch (data pipeline, sampling)
  nlohmann::json to_json() const;
};

// The optimizer of the train.* settings: Adam with the coupled train.l2 (as FusedAdam), or AdamW
// with the decoupled train.weight_decay; both set is an error.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const Config& config, std::vector<torch::Tensor> params);

// Trains task.module with the train.* settings of ctx.config, validating the recommender through
// ctx.validate. On return the module holds the best validated weights (in eval mode).
TrainSummary run_training(TrainTask& task, const models::Recommender& model, const models::FitContext& ctx);

// The part of a run's config (as JSON) that its resumption must repeat: everything but train.resume,
// train.epochs (may be raised), output.progress, threads.* and the eval
// batching and threads, which do not change results. Keys missing from `config` (added to PocketRec
// after it was written) take their defaults.
nlohmann::json resumable_config(const nlohmann::json& config);

// Reads the weights of a checkpoint file into `module` (names and shapes must match).
void load_checkpoint_weights(torch::nn::Module& module, const std::string& path);

}  // namespace pocketrec::train
