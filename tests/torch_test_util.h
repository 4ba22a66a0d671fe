// Helpers shared by the LibTorch tests.
#pragma once

#include <functional>
#include <memory>

#include <gtest/gtest.h>

#include "core/config.h"
#include "eval/evaluator.h"
#include "models/torch_models.h"
#include "models/torch_recommender.h"

namespace pocketrec::testing {

// The config's model (model.name), which must be a LibTorch one.
inline std::unique_ptr<models::TorchRecommender> make_torch_model(const Config& c, const data::Dataset& d) {
  auto m = models::default_model_registry().get(c.str("model.name")).create(c, d);
  auto* t = dynamic_cast<models::TorchRecommender*>(m.get());
  EXPECT_NE(t, nullptr) << c.str("model.name") << " is not a LibTorch model";
  m.release();
  return std::unique_ptr<models::TorchRecommender>(t);
}

// A tiny model of the given name (d = 8) for the synthetic data sets of synthetic_data.h.
inline Config small_torch_config(const std::string& model) {
  Config c;
  c.set("model.name", model, "t");
  c.set("model.dim", 8, "t");
  c.set("model.window", 3, "t");
  c.set("model.caser_nh", 4, "t");
  c.set("model.max_len", 6, "t");
  c.set("model.layers", 1, "t");
  c.set("model.dropout", 0.1, "t");
  c.set("train.batch_size", 32, "t");
  c.set("train.lr", 0.01, "t");
  c.set("train.neg_samples", 2, "t");
  c.set("eval.ks", nlohmann::json::array({5}), "t");
  c.set("eval.metrics", nlohmann::json::array({"hr", "ndcg", "map"}), "t");
  c.set("eval.valid_metric", "ndcg@5", "t");
  c.set("eval.threads", 1, "t");
  c.set("output.progress", false, "t");
  return c;
}

// FitContext's validation: `c`'s metrics on d.valid (d must outlive the function; c is copied).
inline std::function<eval::EvalResult(const models::Recommender&)> validation_on(const data::Dataset& d, Config c) {
  return [&d, c](const models::Recommender& r) {
    auto s = r.make_scorer(d);
    return eval::evaluate(d.valid, *s, eval::EvalOptions::from_config(c));
  };
}

}  // namespace pocketrec::testing
