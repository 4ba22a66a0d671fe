// The model contract and the registry that creates a model by name (LibTorch-free).
//
// Every model hands the evaluator a Scorer and saves/loads its weights. What else a model can do is
// a capability: a closed-form fit (POP, ItemCF), gradient training (the LibTorch models), a session
// encoder (SASRec: OD-Rec distillation), scores of sampled items (Caser, Fossil, SASRec: ranking
// distillation), an export for the on-device runtime. A ModelInstance carries one pointer per
// capability, filled at creation from the model's type (instance_of), so callers ask for a
// capability by reading a field, never by casting.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "core/registry.h"
#include "data/dataset.h"
#include "eval/scorer.h"
#include "models/model_options.h"

namespace pocketrec::models {

class Recommender {
 public:
  virtual ~Recommender() = default;
  virtual std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset& data) const = 0;
  virtual void save(const std::string& path) const = 0;  // atomic
  virtual void load(const std::string& path) = 0;        // Error naming the file if it does not fit
  virtual int64_t n_parameters() const = 0;
};

// Models fitted in closed form from the training data (no epochs, no validation).
class FittedModel {
 public:
  virtual ~FittedModel() = default;
  virtual void fit(const data::Dataset& data) = 0;
};

// Capabilities of the LibTorch models, defined in their own (LibTorch) headers.
class TrainableModel;    // models/torch_model.h
class SessionEncoder;    // models/session_encoder.h
class SampledItemModel;  // models/sampled_item_task.h
class ExportableModel;   // models/exportable.h

struct ModelInstance {
  std::string name;  // the registered name (model.name)
  std::unique_ptr<Recommender> model;
  FittedModel* fitted = nullptr;
  TrainableModel* trainable = nullptr;
  SessionEncoder* session_encoder = nullptr;
  SampledItemModel* sampled_items = nullptr;
  ExportableModel* exportable = nullptr;

  Recommender& operator*() const { return *model; }
  Recommender* operator->() const { return model.get(); }
};

// A ModelInstance of `m` with each capability pointer set when T implements it. Call it where T is
// a complete type (its model's .cpp), with the capability headers T derives from included.
template <typename T>
ModelInstance instance_of(std::string name, std::unique_ptr<T> m) {
  ModelInstance i;
  i.name = std::move(name);
  if constexpr (std::is_base_of_v<FittedModel, T>) i.fitted = m.get();
  if constexpr (std::is_base_of_v<TrainableModel, T>) i.trainable = m.get();
  if constexpr (std::is_base_of_v<SessionEncoder, T>) i.session_encoder = m.get();
  if constexpr (std::is_base_of_v<SampledItemModel, T>) i.sampled_items = m.get();
  if constexpr (std::is_base_of_v<ExportableModel, T>) i.exportable = m.get();
  i.model = std::move(m);
  return i;
}

struct ModelInfo {
  std::string name;
  std::string description;
  std::function<ModelInstance(const ModelOptions&, const data::Dataset&)> create;
};

using ModelRegistry = Registry<ModelInfo>;

// Registers model T, constructed as T(const ModelOptions&, const data::Dataset&), under `name`.
template <typename T>
void add_model(ModelRegistry& registry, const std::string& name, std::string description) {
  registry.add({name, std::move(description), [name](const ModelOptions& o, const data::Dataset& d) {
                  return instance_of(name, std::make_unique<T>(o, d));
                }});
}

inline ModelRegistry empty_model_registry() {
  return ModelRegistry("model", "model.name", "pocketrec list models");
}

// Adds pop and itemcf (LibTorch-free).
void register_baseline_models(ModelRegistry& registry);

}  // namespace pocketrec::models
