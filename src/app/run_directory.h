// A run directory (output.dir): what `train` and `distill` write and every later command reads.
//   config.json       the resolved config (data.root filled in)
//   items.tsv, users.tsv  the id maps the model was trained with
//   model.prarr       the weights (named arrays)
//   train_log.jsonl, checkpoint_{last,best}.ckpt   (gradient-trained models)
//   results.json      written last: its presence marks a finished run
// Every file is written atomically.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "app/options.h"
#include "data/dataset.h"
#include "models/recommender.h"

namespace pocketrec::app {

// The run's saved config.json. Error(kBadFormat) naming the file if it is not valid JSON.
Config read_run_config(const std::string& run_dir);

// The registered model of settings.model for data d (every capability set).
models::ModelInstance create_model(const models::ModelOptions& options, const data::Dataset& d);

// The weights file of the run's model selected on validation: model.prarr, or for a refitted run
// (train.refit, whose model.prarr has seen the validation data) checkpoint_best.ckpt. Refuses a
// refitted run without that checkpoint (train.checkpoint=false).
std::string selected_model_file(const std::string& run_dir, const RunSettings& settings);

// The run's model for `d` (whose id maps must be the ones the run saved), with the weights of
// `weights` (a .prarr, or a training checkpoint .ckpt) or of the run's model.prarr when empty.
models::ModelInstance load_run_model(const std::string& run_dir, const RunSettings& settings, const data::Dataset& d,
                                     const std::string& weights);

// output.dir, created. A finished run already there (its results.json) is replaced, with a warning:
// re-running a config is how a run is redone, but a trained teacher is as easily replaced by mistake.
std::string open_output_dir(const RunSettings& settings);

// Writes what every run directory holds, results.json last.
void write_run(const std::string& dir, const RunSettings& settings, const data::Dataset& d,
               const models::Recommender& model, const nlohmann::json& results);

// The run's results.json, which must hold `split`: Error(kBadFormat) naming the file otherwise.
nlohmann::json read_results(const std::string& run_dir, const std::string& split);

}  // namespace pocketrec::app
