#include "cli/run_context.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "data/dataset.h"
#include "eval/evaluator.h"
#include "core/progress.h"
#include "models/torch_models.h"
#include "models/torch_recommender.h"
#include "train/process_setup.h"

namespace pocketrec::cli {
namespace {

eval::EvalResult evaluate_split(const models::Recommender& model, const data::Dataset& d, const Config& c,
                                const std::string& split) {
  eval::EvalOptions opt = eval::EvalOptions::from_config(c);
  opt.label = split;
  auto scorer = model.make_scorer(d);
  return eval::evaluate(split == "test" ? d.test : d.valid, *scorer, opt);
}

// Threads and progress bars as the run's config says.
void setup_run(const Config& c) {
  ProgressBar::set_enabled(c.boolean("output.progress"));
  set_compute_threads(static_cast<int>(c.integer("threads.torch")), static_cast<int>(c.integer("threads.blas")));
}

nlohmann::json split_json(const eval::EvalResult& r) {
  nlohmann::json j = r.to_json();
  if (r.sampled) j["note"] = "sampled metrics: each target ranked against eval.sampled_negatives sampled items";
  return j;
}

}  // namespace

nlohmann::json train_and_evaluate(const Config& config) {
  setup_run(config);
  data::Dataset d = data::build_dataset(config);
  models::ModelRegistry registry = models::default_model_registry();
  const std::string name = config.str("model.name");
  auto model = registry.get(name).create(config, d);

  const std::string dir = config.str("output.dir");
  make_dirs(dir);
  models::FitContext ctx{config, dir, [&](const models::Recommender& m) { return evaluate_split(m, d, config, "valid"); }};
  log_info("train: {} on {} ({} parameters)", name, d.name, model->n_parameters());
  model->fit(d, ctx);
  eval::EvalResult valid = evaluate_split(*model, d, config, "valid");
  eval::EvalResult test = evaluate_split(*model, d, config, "test");  // read once, after model selection

  nlohmann::json res;
  res["model"] = name;
  res["dataset"] = d.name;
  res["data_path"] = config.str("data.path");
  res["n_parameters"] = model->n_parameters();
  res["n_users"] = d.n_users;
  res["n_items"] = d.n_items;
  res["fit"] = model->fit_summary();
  res["valid"] = split_json(valid);
  res["test"] = split_json(test);
  res["config"] = config.to_json();

  write_file_atomic(dir + "/config.json", config.to_json().dump(2) + "\n");
  d.item_ids.save_tsv(dir + "/items.tsv");
  if (d.has_users) d.user_ids.save_tsv(dir + "/users.tsv");
  model->save(dir + "/model.prarr");
  write_file_atomic(dir + "/results.json", res.dump(2) + "\n");
  log_info("train: wrote {}/results.json", dir);
  return res;
}

nlohmann::json evaluate_run(const std::string& run_dir, const std::string& split, const std::string& weights,
                            const std::vector<std::string>& overrides) {
  PR_CHECK(split == "test" || split == "valid", ErrorCode::kInvalidArgument, "--split: expected test or valid, got '{}'",
           split);
  const std::string cfg_path = run_dir + "/config.json";
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(read_file(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    PR_FAIL(ErrorCode::kBadFormat, "{}: invalid JSON: {}", cfg_path, e.what());
  }
  Config config = Config::from_json(saved, cfg_path);
  for (const auto& o : overrides) {
    std::string s = o;
    while (!s.empty() && s[0] == '-') s.erase(0, 1);
    const auto eq = s.find('=');
    PR_CHECK(eq != std::string::npos, ErrorCode::kInvalidArgument, "command line: '{}': expected --key=value", o);
    const std::string key = s.substr(0, eq);
    PR_CHECK(key.rfind("eval.", 0) == 0 || key.rfind("threads.", 0) == 0, ErrorCode::kInvalidArgument,
             "command line: '{}': only eval.* and threads.* keys can change when re-evaluating a run", key);
    config.set_from_text(key, s.substr(eq + 1), "command line");
  }
  setup_run(config);
  data::Dataset d = data::build_dataset(config);
  PR_CHECK(data::IdMap::load_tsv(run_dir + "/items.tsv") == d.item_ids, ErrorCode::kInvalidArgument,
           "{}/items.tsv: the item ids of {} differ from the ones this model was trained with", run_dir,
           config.str("data.path"));
  if (d.has_users)
    PR_CHECK(data::IdMap::load_tsv(run_dir + "/users.tsv") == d.user_ids, ErrorCode::kInvalidArgument,
             "{}/users.tsv: the user ids of {} differ from the ones this model was trained with", run_dir,
             config.str("data.path"));
  models::ModelRegistry registry = models::default_model_registry();
  auto model = registry.get(config.str("model.name")).create(config, d);
  const std::string weights_path = weights.empty() ? run_dir + "/model.prarr" : weights;
  if (std::filesystem::path(weights_path).extension() == ".ckpt") {  // a training checkpoint (e.g. checkpoint_last.ckpt)
    auto* torch_model = dynamic_cast<models::TorchRecommender*>(model.get());
    PR_CHECK(torch_model != nullptr, ErrorCode::kInvalidArgument, "--weights {}: {} has no training checkpoints",
             weights_path, config.str("model.name"));
    train::load_checkpoint_weights(torch_model->network(), weights_path);
  } else {
    model->load(weights_path);
  }
  eval::EvalResult r = evaluate_split(*model, d, config, split);
  nlohmann::json res = {{"model", config.str("model.name")}, {"dataset", d.name},  {"weights", weights_path},
                        {split, split_json(r)},             {"config", config.to_json()}};
  std::string out = run_dir + "/eval_" + split;
  if (!weights.empty()) out += "_" + std::filesystem::path(weights).stem().string();
  write_file_atomic(out + ".json", res.dump(2) + "\n");
  return res;
}

std::string metrics_table(const std::vector<std::pair<std::string, nlohmann::json>>& rows,
                          std::vector<std::string> columns) {
  if (rows.empty()) return "";
  if (columns.empty())
    for (auto it = rows[0].second.begin(); it != rows[0].second.end(); ++it) columns.push_back(it.key());
  // Keep the natural order: metric family, then k (nlohmann sorts keys alphabetically).
  std::string md = "| |";
  std::string sep = "|---|";
  for (const auto& c : columns) md += " " + c + " |", sep += "---|";
  md += "\n" + sep + "\n";
  for (const auto& [label, metrics] : rows) {
    md += "| " + label + " |";
    for (const auto& c : columns)
      md += metrics.contains(c) ? fmt::format(" {:.4f} |", metrics[c].get<double>()) : std::string(" – |");
    md += "\n";
  }
  return md;
}

}  // namespace pocketrec::cli
