// What the trainer trains: a module, its samples and the loss of a batch of them. Models (and the
// distillation methods, whose modules hold a student plus their own heads) provide one; the trainer
// knows nothing else about them.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace pocketrec::train {

// A mini-batch as the model's input tensors.
using Batch = std::vector<torch::Tensor>;

struct TrainTask {
  torch::nn::Module& module;  // what the optimizer trains and checkpoints store
  int64_t n_samples;
  // The data pipeline: gathers samples ids[0..n) (indices into the task's sample index) and draws
  // their negatives into tensors. Timed separately from the model in the training log.
  std::function<Batch(const int64_t* ids, size_t n, std::mt19937_64& rng)> make_batch;
  // The model: mean training loss of a batch.
  std::function<torch::Tensor(const Batch& batch)> loss;
  // Identifies the data the samples come from: resuming refuses a checkpoint made on other data.
  std::string data_fingerprint;
  // Called before each epoch's first batch with the epoch number (1-based, also after a resume), for
  // losses that change with the epoch (ranking distillation's discrepancy weights).
  std::function<void(int64_t epoch)> on_epoch_begin;

  torch::Tensor batch_loss(const int64_t* ids, size_t n, std::mt19937_64& rng) const {
    return loss(make_batch(ids, n, rng));
  }
};

}  // namespace pocketrec::train
