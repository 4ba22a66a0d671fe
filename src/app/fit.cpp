#include "app/fit.h"
#include "app/process.h"

#include <optional>

#include "app/run_directory.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
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

std::unique_ptr<train::DataParallel> join_group(const RunSettings& s) {
  if (s.dist.world_size <= 1) return nullptr;
  return std::make_unique<train::DataParallel>(s.dist);
}

nlohmann::json worker_result(const train::DataParallel& parallel, const nlohmann::json& fit) {
  return {{"worker_rank", parallel.rank()}, {"world_size", parallel.world_size()}, {"train", fit}};
}

namespace {

// FNV-1a over every parameter's bytes: equal on every rank of a data-parallel run (logged by each).
uint64_t parameter_checksum(torch::nn::Module& module) {
  uint64_t h = 1469598103934665603ULL;
  for (const auto& p : module.parameters()) {
    const torch::Tensor t = p.detach().contiguous();
    const auto* bytes = static_cast<const uint8_t*>(t.data_ptr());
    for (size_t i = 0; i < static_cast<size_t>(t.nbytes()); ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
  }
  return h;
}

}  // namespace

nlohmann::json fit_model(models::ModelInstance& m, const data::Dataset& d, const RunSettings& s, train::TrainTask* task,
                         train::DataParallel* parallel, bool validate) {
  PR_CHECK(parallel == nullptr || m.trainable != nullptr || task != nullptr, ErrorCode::kInvalidArgument,
           "dist.world_size: {} is fitted in closed form; only gradient-trained models train data-parallel", m.name);
  if (m.fitted != nullptr && task == nullptr) {
    PR_CHECK(!s.train.resume, ErrorCode::kInvalidArgument,
             "train.resume: {} is fitted in closed form, there is no training to resume", m.name);
    m.fitted->fit(d);
    return nlohmann::json::object();
  }
  PR_CHECK(m.trainable != nullptr, ErrorCode::kInvalidArgument, "model.name: {} is not trained by gradient descent",
           m.name);
  bool known = !validate;  // fail now, not after the first epoch
  for (const auto& metric : s.eval.options.metrics) known = known || metric.name() == s.eval.valid_metric;
  PR_CHECK(known, ErrorCode::kInvalidArgument,
           "eval.valid_metric: '{}' is not among the computed metrics (eval.metrics x eval.ks)", s.eval.valid_metric);
  std::optional<train::TrainTask> own;
  if (task == nullptr) task = &own.emplace(m.trainable->training_task(d));
  train::TrainerHooks hooks;
  const models::Recommender& model = *m.model;
  if (validate) hooks.validate = [&model, &d, &s] { return evaluate_split(model, d, s.eval, "valid"); };
  hooks.normalize_identity = [](const nlohmann::json& saved) { return run_identity(saved); };
  hooks.parallel = parallel;
  hooks.writer = parallel == nullptr || parallel->is_writer();
  train::Trainer trainer(s.train, hooks);
  nlohmann::json fit = trainer.run(*task).to_json();
  if (parallel) {
    const uint64_t checksum = parameter_checksum(task->module);
    log_info("rank {} of {}: parameter checksum {:016x}; {} bytes all-reduced per step, {:.1f} s communicating",
             parallel->rank(), parallel->world_size(), checksum, parallel->bytes_per_step(),
             parallel->communication_seconds());
    fit["world_size"] = parallel->world_size();
    fit["allreduce_bytes_per_step"] = parallel->bytes_per_step();
    fit["communication_seconds"] = parallel->communication_seconds();
    fit["parameter_checksum"] = fmt::format("{:016x}", checksum);
  }
  return fit;
}

Refit refit_model(const RunSettings& s, const data::Dataset& selected_on, const nlohmann::json& selected_fit,
                  const std::function<train::TrainTask*(Refit&)>& make_task) {
  data::SplitOptions split = s.split;
  split.fold_validation = true;
  Refit r{data::build_dataset(s.data, split), models::ModelInstance{}, nlohmann::json::object()};
  const data::EvalSet &t = r.data.test, &t0 = selected_on.test;
  PR_CHECK(r.data.item_ids == selected_on.item_ids && r.data.user_ids == selected_on.user_ids && t.users == t0.users &&
               t.history == t0.history && t.targets == t0.targets && r.data.valid.size() == 0,
           ErrorCode::kInternal, "train.refit: the folded split changed the id maps or the test queries");
  r.model = create_model(s.model, r.data);
  const int64_t epochs = selected_fit.value("best_epoch", int64_t{0});
  log_info("refit: {} on training + validation data ({} training sequences){}", r.model.name, r.data.train.size(),
           r.model.fitted != nullptr ? "" : fmt::format(" for the {} epochs selected on validation", epochs));
  if (r.model.fitted == nullptr) {
    PR_CHECK(epochs > 0, ErrorCode::kInternal, "train.refit: no epoch was selected on validation");
    RunSettings refit = s;
    refit.train.epochs = epochs;
    refit.train.patience = 0;
    refit.train.resume = false;
    refit.train.checkpoint = false;
    refit.train.run_dir = s.output_dir + "/refit";
    make_dirs(refit.train.run_dir);
    r.fit = fit_model(r.model, r.data, refit, make_task ? make_task(r) : nullptr, nullptr, /*validate=*/false);
    for (const char* unused : {"best_epoch", "best_valid", "valid_metric", "stopped_early"}) r.fit.erase(unused);
  } else {
    fit_model(r.model, r.data, s);
  }
  r.fit["epochs"] = epochs;
  return r;
}

}  // namespace pocketrec::app

namespace pocketrec::app {

void prepare_process() {
  apply_malloc_settings();
}

}  // namespace pocketrec::app
