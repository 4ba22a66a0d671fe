#include <filesystem>

#include "app/fit.h"
#include "app/run_directory.h"
#include "app/workflows.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace pocketrec::app {

nlohmann::json evaluate_run(const EvaluateRequest& r) {
  PR_CHECK(r.split == "test" || r.split == "valid", ErrorCode::kInvalidArgument,
           "--split: expected test or valid, got '{}'", r.split);
  Config config = read_run_config(r.run_dir);
  for (const auto& o : r.overrides) {
    const auto [key, value] = parse_override(o);
    PR_CHECK(key.rfind("eval.", 0) == 0 || key.rfind("threads.", 0) == 0, ErrorCode::kInvalidArgument,
             "command line: '{}': only eval.* and threads.* keys can change when re-evaluating a run", key);
    config.set_from_text(key, value, "command line");
  }
  RunSettings s = run_settings(config);
  setup_process(s.process);
  // A refitted model.prarr was trained on the validation data: its split is the folded one, and
  // it has no validation number (results.json's is the selected model's).
  const bool refitted = s.refit && r.weights.empty();
  PR_CHECK(!refitted || r.split == "test", ErrorCode::kInvalidArgument,
           "--split valid: {} was refitted on the validation data (train.refit); its checkpoint_best.ckpt holds the "
           "selected model",
           r.run_dir);
  s.split.fold_validation = refitted;
  const data::Dataset d = data::build_dataset(s.data, s.split);
  const models::ModelInstance model = load_run_model(r.run_dir, s, d, r.weights);
  const eval::EvalResult result = evaluate_split(*model, d, s.eval, r.split);
  nlohmann::json res = {{"model", model.name},
                        {"dataset", d.name},
                        {"weights", r.weights.empty() ? r.run_dir + "/model.prarr" : r.weights},
                        {r.split, split_json(result)},
                        {"config", s.config.to_json()}};
  std::string out = r.run_dir + "/eval_" + r.split;
  if (!r.weights.empty()) out += "_" + std::filesystem::path(r.weights).stem().string();
  write_file_atomic(out + ".json", res.dump(2) + "\n");
  return res;
}

}  // namespace pocketrec::app
