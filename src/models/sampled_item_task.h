// Models scored on sampled items (Caser, Fossil, SASRec): for any training sample, the scores of any
// items. The model's own training (sigmoid log-loss on the target and sampled negatives,
// docs/design/rankdistill.md §3) and ranking distillation (§4) are both built on this one view, so a
// model written against it can be a teacher or a student without knowing about distillation.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "data/dataset.h"
#include "data/negative_sampler.h"
#include "data/samples.h"
#include "train/task.h"

namespace pocketrec::models {

struct SampledItemTask {
  torch::nn::Module* module = nullptr;
  const data::Sequences* train = nullptr;
  const data::SampleIndex* samples = nullptr;      // sample id -> (user, target position)
  const data::NegativeSampler* sampler = nullptr;  // the model's negative sampler (its sampling options)
  int32_t n_items = 0;
  // Targets per sample: the items at pos, pos+1, ..., pos+n_targets-1 (Caser's T, its "skip"
  // behaviour; 1 for every other model).
  int64_t n_targets = 1;
  int64_t neg_samples = 1;  // negatives per target of the model's own loss (its sampling options)
  // The model's inputs for samples ids[0..n) and the items to score: row b scores items[b*m, b*m+m).
  std::function<train::Batch(const int64_t* ids, size_t n, const std::vector<int64_t>& items, int64_t m)> make_batch;
  // Scores [n, m] of a batch from make_batch: the training forward (dropout follows the module's
  // mode). Columns from `with_grad` on are scored from the same forward (same dropout) but outside
  // autograd: scores that only feed non-differentiable weights (RD's rank samples) then cost no
  // backward. Pass m to differentiate every column.
  std::function<torch::Tensor(const train::Batch& batch, int64_t with_grad)> scores;
  // Scores of every item [n, n_items] for samples ids[0..n), in eval mode without gradients: what a
  // teacher ranks. Leaves the module in eval mode, like make_scorer (training resets it each epoch).
  std::function<torch::Tensor(const int64_t* ids, size_t n)> score_all;

  // A task over a model's network, its training data, sample index and sampler; the three functions
  // are the model's to set.
  static SampledItemTask over(torch::nn::Module& module, const data::Dataset& d, const data::SampleIndex& samples,
                              const data::NegativeSampler& sampler, int64_t neg_samples) {
    SampledItemTask t;
    t.module = &module;
    t.train = &d.train;
    t.samples = &samples;
    t.sampler = &sampler;
    t.n_items = d.n_items;
    t.neg_samples = neg_samples;
    return t;
  }

  int64_t size() const { return static_cast<int64_t>(samples->size()); }
  int32_t user(int64_t id) const { return samples->seq[static_cast<size_t>(id)]; }
  int32_t target(int64_t id, int64_t t = 0) const {
    return train->items[static_cast<size_t>(samples->pos[static_cast<size_t>(id)] + t)];
  }
};

// Implemented by the models that score sampled items. The task refers to the model's own sample
// index and sampler, so it is valid until the next call.
class SampledItemModel {
 public:
  virtual ~SampledItemModel() = default;
  virtual SampledItemTask sampled_item_task(const data::Dataset& data) = 0;
};

// Scores of the columns [0, m) of a batch as score(begin, end) [n, end - begin]: [0, with_grad) with
// autograd, [with_grad, m) inside a NoGradGuard (the models' SampledItemTask::scores).
torch::Tensor scores_with_grad_prefix(int64_t m, int64_t with_grad,
                                      const std::function<torch::Tensor(int64_t begin, int64_t end)>& score);

// -log sigmoid(pos) - sum log(1 - sigmoid(neg)) per row ([B, P], [B, N] -> [B]), with softplus so it
// never overflows (the reference writes log(sigmoid), docs/design/rankdistill.md §9.11).
torch::Tensor sigmoid_log_loss(const torch::Tensor& pos, const torch::Tensor& neg);

// The model's own training: per sample its T = task.n_targets targets and n_neg negatives per target
// drawn by the task's sampler; loss = mean over the batch of sigmoid_log_loss (summed over the T
// targets and T*n_neg negatives, as the RD reference sums over its columns).
train::TrainTask sigmoid_loss_task(const SampledItemTask& task, int64_t n_neg);

}  // namespace pocketrec::models
