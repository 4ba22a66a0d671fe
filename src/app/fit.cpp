#include "app/fit.h"
#include "app/process.h"

#include <optional>

#include "core/error.h"
#include "core/progress.h"
#include "data/popularity.h"
#include "models/torch_model.h"
#include "train/process_setup.h"

namespace pocketrec::app {

void setup_process(const ProcessSettings& s) {
  ProgressBar::set_enabled(s.progress);
  set_compute_threads(s.torch_threads, s.blas_threads);
}

eval::EvalResult evaluate_split(const models::Recommender& model, const data::Dataset& d, const EvalSettings& s,
                                const std::string& split) {
  eval::EvalOptions opt = s.options;
  opt.label = split;
  const data::EvalSet& set = split == "test" ? d.test : d.valid;
  if (s.popularity_split > 0) {
    std::vector<uint8_t> hot = data::hot_items(d.train, d.n_items, s.popularity_split), group(hot.size());
    for (size_t i = 0; i < hot.size(); ++i) group[i] = hot[i] ? 0 : 1;
    for (auto& g : eval::target_item_groups(set, group, {"hot", "cold"})) opt.groups.push_back(std::move(g));
  }
  if (s.repeat_split)
    for (auto& g : eval::repeat_groups(set)) opt.groups.push_back(std::move(g));
  auto scorer = model.make_scorer(d);
  return eval::evaluate(set, *scorer, opt);
}

nlohmann::json split_json(const eval::EvalResult& r) {
  nlohmann::json j = r.to_json();
  if (r.sampled) j["note"] = "sampled metrics: each target ranked against eval.sampled_negatives sampled items";
  return j;
}

nlohmann::json fit_model(models::ModelInstance& m, const data::Dataset& d, const RunSettings& s,
                         train::TrainTask* task) {
  if (m.fitted != nullptr && task == nullptr) {
    PR_CHECK(!s.train.resume, ErrorCode::kInvalidArgument,
             "train.resume: {} is fitted in closed form, there is no training to resume", m.name);
    m.fitted->fit(d);
    return nlohmann::json::object();
  }
  PR_CHECK(m.trainable != nullptr, ErrorCode::kInvalidArgument, "model.name: {} is not trained by gradient descent",
           m.name);
  bool known = false;  // fail now, not after the first epoch
  for (const auto& metric : s.eval.options.metrics) known = known || metric.name() == s.eval.valid_metric;
  PR_CHECK(known, ErrorCode::kInvalidArgument,
           "eval.valid_metric: '{}' is not among the computed metrics (eval.metrics x eval.ks)", s.eval.valid_metric);
  std::optional<train::TrainTask> own;
  if (task == nullptr) task = &own.emplace(m.trainable->training_task(d));
  train::TrainerHooks hooks;
  const models::Recommender& model = *m.model;
  hooks.validate = [&model, &d, &s] { return evaluate_split(model, d, s.eval, "valid"); };
  hooks.normalize_identity = [](const nlohmann::json& saved) { return run_identity(saved); };
  train::Trainer trainer(s.train, hooks);
  return trainer.run(*task).to_json();
}

}  // namespace pocketrec::app

namespace pocketrec::app {

void prepare_process() {
  apply_malloc_settings();
}

}  // namespace pocketrec::app
