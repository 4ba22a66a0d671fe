// Helpers shared by the LibTorch tests: models, options and training built from a Config the way a
// run builds them (src/app/options.cpp), so tests set keys by name as a user does.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "app/fit.h"
#include "app/options.h"
#include "app/run_directory.h"
#include "core/config.h"
#include "eval/evaluator.h"
#include "models/sampled_item_task.h"
#include "models/session_encoder.h"
#include "models/torch_model.h"
#include "models/torch_models.h"

namespace pocketrec::testing {

// The config's model (model.name) for d, every capability set.
inline models::ModelInstance make_model(const Config& c, const data::Dataset& d) {
  return app::create_model(app::run_settings(c).model, d);
}

inline eval::EvalOptions eval_options(const Config& c) {
  return app::run_settings(c).eval.options;
}

// Fits m on d as `pocketrec train` does (the config's train.* keys; checkpoints and the training log
// into run_dir when given), with `task` instead of the model's own when given.
inline nlohmann::json fit(models::ModelInstance& m, const data::Dataset& d, const Config& c,
                          const std::string& run_dir = "", train::TrainTask* task = nullptr) {
  app::RunSettings s = app::run_settings(c);
  s.train.run_dir = run_dir;
  return app::fit_model(m, d, s, task);
}

// m's metrics on d's test split under c's evaluation settings.
inline eval::EvalResult evaluate_test(const models::ModelInstance& m, const data::Dataset& d, const Config& c) {
  auto s = m->make_scorer(d);
  return eval::evaluate(d.test, *s, eval_options(c));
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

// A float64 parameter's gradient (already computed by loss().backward()) against central
// differences of loss(), at most `samples` elements spread over the parameter.
inline void expect_gradient_matches_central_differences(const torch::Tensor& parameter,
                                                        const std::function<torch::Tensor()>& loss,
                                                        const std::string& label, int64_t samples = 1 << 30) {
  torch::Tensor flat = parameter.data().view({-1}), grad = parameter.grad().view({-1});
  for (int64_t i = 0; i < flat.numel(); i += std::max<int64_t>(1, flat.numel() / samples)) {
    torch::NoGradGuard g;
    const double h = 1e-6, x0 = flat[i].item<double>();
    flat[i] = x0 + h;
    const double up = loss().item<double>();
    flat[i] = x0 - h;
    const double down = loss().item<double>();
    flat[i] = x0;
    EXPECT_NEAR(grad[i].item<double>(), (up - down) / (2 * h), 1e-6) << label << " element " << i;
  }
}

}  // namespace pocketrec::testing
