// Base of every LibTorch model: the weights are saved and loaded as named arrays (ArrayArchive),
// the parameters counted, and a training task (the trainer's view, train/task.h) built on demand,
// so a derived model provides its network, its task and its query encoder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/negative_sampler.h"
#include "models/recommender.h"
#include "train/task.h"

namespace pocketrec::models {

// Models trained by gradient descent.
class TrainableModel {
 public:
  virtual ~TrainableModel() = default;
  // The network the optimizer trains (its parameters are the model's weights).
  virtual torch::nn::Module& network() const = 0;
  // The model's own training task over data.train. It refers to the model's sample index and
  // sampler, so it is valid until the next call.
  virtual train::TrainTask training_task(const data::Dataset& data) = 0;
};

class TorchModel : public Recommender, public TrainableModel {
 public:
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  int64_t n_parameters() const override;
  torch::nn::Module& network() const override { return module(); }
  train::TrainTask training_task(const data::Dataset& data) override;

 protected:
  virtual const char* model_name() const = 0;
  virtual torch::nn::Module& module() const = 0;
  virtual train::TrainTask make_task(const data::Dataset& data) = 0;
  // The negative sampler of the model's sampling options over data.train, built on first use.
  const data::NegativeSampler& negative_sampler(const data::Dataset& data, const SamplingOptions& sampling);

 private:
  std::unique_ptr<data::NegativeSampler> sampler_;
};

// Copies `from`'s parameters into `to`'s where names and shapes match, except the item tables ("item.",
// "stt_item.", "pq_item."): a student that starts from its teacher's encoder. Returns the values copied.
int64_t copy_weights_outside_item_table(torch::nn::Module& from, torch::nn::Module& to);

// Identifies the data a model was trained on (item and user id maps) for checkpoint resumption.
std::string data_fingerprint(const data::Dataset& data);
std::vector<float> to_float_vector(const torch::Tensor& t);
torch::Tensor int64_tensor(const std::vector<int64_t>& v, std::vector<int64_t> shape);
// f(x) for an activation name: iden, relu, tanh, sigm, gelu.
torch::Tensor activation(const std::string& name, const torch::Tensor& x);

}  // namespace pocketrec::models
