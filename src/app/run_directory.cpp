#include "app/run_directory.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "models/torch_model.h"
#include "models/torch_models.h"
#include "train/checkpoint.h"

namespace pocketrec::app {

Config read_run_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    PR_FAIL(ErrorCode::kBadFormat, "{}: invalid JSON: {}", path, e.what());
  }
  return Config::from_json(saved, path);
}

models::ModelInstance create_model(const models::ModelOptions& options, const data::Dataset& d) {
  return models::default_model_registry().get(options.name).create(options, d);
}

models::ModelInstance load_run_model(const std::string& run_dir, const RunSettings& s, const data::Dataset& d,
                                     const std::string& weights) {
  PR_CHECK(data::IdMap::load_tsv(run_dir + "/items.tsv") == d.item_ids, ErrorCode::kInvalidArgument,
           "{}/items.tsv: the item ids of {} differ from the ones this model was trained with", run_dir, s.data.path);
  if (d.has_users)
    PR_CHECK(data::IdMap::load_tsv(run_dir + "/users.tsv") == d.user_ids, ErrorCode::kInvalidArgument,
             "{}/users.tsv: the user ids of {} differ from the ones this model was trained with", run_dir, s.data.path);
  models::ModelInstance m = create_model(s.model, d);
  const std::string path = weights.empty() ? run_dir + "/model.prarr" : weights;
  if (std::filesystem::path(path).extension() == ".ckpt") {  // a training checkpoint (e.g. checkpoint_last.ckpt)
    PR_CHECK(m.trainable != nullptr, ErrorCode::kInvalidArgument, "--weights {}: {} has no training checkpoints", path,
             m.name);
    train::load_checkpoint_weights(m.trainable->network(), path);
  } else {
    m->load(path);
  }
  return m;
}

std::string selected_model_file(const std::string& run_dir, const RunSettings& s) {
  if (!s.refit) return run_dir + "/model.prarr";
  const std::string path = run_dir + "/checkpoint_best.ckpt";
  PR_CHECK(std::filesystem::exists(path), ErrorCode::kInvalidArgument,
           "{}: missing; {} was refitted (train.refit) and its model selected on validation is kept only as this "
           "checkpoint, which train.checkpoint=false does not write",
           path, run_dir);
  return path;
}

std::string open_output_dir(const RunSettings& s) {
  const std::string& dir = s.output_dir;
  if (!s.train.resume && std::filesystem::exists(dir + "/results.json"))
    log_warn("output.dir {} holds a finished run; this run replaces its model, checkpoints and results", dir);
  make_dirs(dir);
  return dir;
}

void write_run(const std::string& dir, const RunSettings& s, const data::Dataset& d, const models::Recommender& model,
               const nlohmann::json& results) {
  write_file_atomic(dir + "/config.json", s.config.to_json().dump(2) + "\n");
  d.item_ids.save_tsv(dir + "/items.tsv");
  if (d.has_users) d.user_ids.save_tsv(dir + "/users.tsv");
  model.save(dir + "/model.prarr");
  write_file_atomic(dir + "/results.json", results.dump(2) + "\n");
  log_info("wrote {}/results.json", dir);
}

nlohmann::json read_results(const std::string& run_dir, const std::string& split) {
  const std::string path = run_dir + "/results.json";
  nlohmann::json r = nlohmann::json::parse(read_file(path), nullptr, false);
  PR_CHECK(!r.is_discarded() && r.contains(split), ErrorCode::kBadFormat, "{}: not a PocketRec results file", path);
  return r;
}

}  // namespace pocketrec::app
