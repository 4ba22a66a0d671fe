// Base of every LibTorch model: fit() runs the shared training loop on the model's task, and the
// weights are saved/loaded as named float arrays (ArrayArchive), so a derived model provides only
// its network, its training task and its query encoder.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "models/recommender.h"
#include "train/trainer.h"

namespace pocketrec::models {

class TorchRecommender : public Recommender {
 public:
  void fit(const data::Dataset& data, const FitContext& ctx) override;
  // Trains with another task's loss over this model's network (e.g. a distillation loss whose
  // module holds the network plus the loss's own heads).
  void fit_task(const data::Dataset& data, const FitContext& ctx, train::TrainTask task);
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  int64_t n_parameters() const override;
  nlohmann::json fit_summary() const override { return summary_; }

  // The network and its training task (used by fit(); public for gradient checks and benchmarks).
  torch::nn::Module& network() const { return module(); }
  train::TrainTask training_task(const data::Dataset& data, const Config& config) { return make_task(data, config); }

 protected:
  virtual const char* model_name() const = 0;
  virtual torch::nn::Module& module() const = 0;
  // The training task: the sample count and the loss of a batch of sample ids.
  virtual train::TrainTask make_task(const data::Dataset& data, const Config& config) = 0;
  nlohmann::json summary_ = nlohmann::json::object();
};

// Identifies the data a model was trained on (item and user id maps) for checkpoint resumption.
std::string data_fingerprint(const data::Dataset& data);
std::vector<float> to_float_vector(const torch::Tensor& t);
torch::Tensor int64_tensor(const std::vector<int64_t>& v, std::vector<int64_t> shape);
// f(x) for a config activation name: iden, relu, tanh, sigm, gelu.
torch::Tensor activation(const std::string& name, const torch::Tensor& x);

}  // namespace pocketrec::models
