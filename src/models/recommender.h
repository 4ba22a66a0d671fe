// The model contract and the registry that picks a model by name from the config.
//
// A model learns from Dataset::train, is selected on Dataset::valid (through FitContext::validate)
// and hands the evaluator a Scorer. This header is LibTorch-free: LibTorch models implement the
// same interface in their own translation units.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "eval/evaluator.h"
#include "eval/scorer.h"

namespace pocketrec {
class Config;
}

namespace pocketrec::models {

class Recommender;

struct FitContext {
  const Config& config;
  std::string run_dir;  // training log goes here
  // Evaluates the model in its current state on the validation split.
  std::function<eval::EvalResult(const Recommender&)> validate;
};

class Recommender {
 public:
  virtual ~Recommender() = default;
  virtual void fit(const data::Dataset& data, const FitContext& ctx) = 0;
  virtual std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset& data) const = 0;
  virtual void save(const std::string& path) const = 0;  // atomic
  virtual void load(const std::string& path) = 0;       // Error naming the file if it does not fit
  virtual int64_t n_parameters() const = 0;
  // What training did (epochs, best epoch, best validation value, ...), stored in results.json.
  virtual nlohmann::json fit_summary() const { return nlohmann::json::object(); }
};

struct ModelInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Recommender>(const Config&, const data::Dataset&)> create;
};

class ModelRegistry {
 public:
  void add(ModelInfo info);
  const ModelInfo& get(const std::string& name) const;  // Error with a did-you-mean for unknown names
  const std::vector<ModelInfo>& all() const { return models_; }

 private:
  std::vector<ModelInfo> models_;
};

// Adds pop and itemcf (LibTorch-free).
void register_baseline_models(ModelRegistry& registry);

}  // namespace pocketrec::models
