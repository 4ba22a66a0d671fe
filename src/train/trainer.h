// The training loop shared by every LibTorch model: Adam, shuffled mini-batches, validation every
// n epochs, early stopping with patience on the validation metric, best weights restored at the
// end, and a JSON-lines log (loss, validation metrics, samples/s per epoch). A model supplies only
// its loss on a batch of sample ids. The step is "backward, then optimizer step", so gradients can
// later be all-reduced between the two without touching the models.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/recommender.h"

namespace pocketrec::train {

struct TrainTask {
  torch::nn::Module& module;
  int64_t n_samples;
  // Mean loss of the samples ids[0..n) (indices into the model's sample index).
  std::function<torch::Tensor(const int64_t* ids, size_t n, std::mt19937_64& rng)> batch_loss;
};

struct TrainSummary {
  int64_t epochs_run = 0, best_epoch = 0;
  double best_value = 0;
  std::string metric;
  bool stopped_early = false;
  double seconds = 0;
  nlohmann::json to_json() const;
};

// Trains task.module on the settings in ctx.config (train.*, eval.valid_metric), validating the
// recommender through ctx.validate. On return the module holds the best validated weights.
TrainSummary run_training(TrainTask& task, const models::Recommender& model, const models::FitContext& ctx);

}  // namespace pocketrec::train
