// Typed settings of a run, built once from the config table: the only place in PocketRec that reads
// configuration keys by name. Every layer below receives its own option struct.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "data/dataset.h"
#include "distill/method.h"
#include "eval/evaluator.h"
#include "models/model_options.h"
#include "train/options.h"

namespace pocketrec::app {

// How the validation and test splits are evaluated.
struct EvalSettings {
  eval::EvalOptions options;    // metrics, masking, batching, threads, sampled negatives
  std::string valid_metric;     // selects epochs and runs (eval.valid_metric)
  double popularity_split = 0;  // > 0: also report hot / cold target groups
  bool repeat_split = false;    // also report repeat / new target groups
};

struct ProcessSettings {
  int torch_threads = 0, blas_threads = 1;
  bool progress = true;
};

struct RunSettings {
  Config config;  // the resolved table (data.root filled in), saved with the run
  data::DataOptions data;
  data::SplitOptions split;
  models::ModelOptions model;
  train::TrainOptions train;
  EvalSettings eval;
  distill::DistillOptions distill;
  ProcessSettings process;
  train::DistOptions dist;
  bool refit = false;  // train.refit (fit.h: refit_model)
  std::string output_dir;
};

// Every typed setting of `config` (each value was checked against its key's spec when it was set).
RunSettings run_settings(const Config& config);

// The folder relative data paths resolve against: data.root, else $POCKETREC_DATA, else
// ../shared/data.
std::string data_root(const Config& config);

// What a resumed run must repeat: the resolved config without the keys that may change between
// the interrupted and the resumed process (train.resume, train.epochs, train.refit, output.progress, threads.*,
// evaluation batching and threads, none of which changes results) and without output.dir, so that
// a run's checkpoints resume in another folder.
nlohmann::json run_identity(const Config& config);
// The same of a saved identity: keys added to PocketRec after it was written take their defaults
// (the behaviour that run had), so such a run still resumes.
nlohmann::json run_identity(const nlohmann::json& saved);

// The data and split a run was trained on, with the data path resolved: two runs on the same
// examples have equal identities.
nlohmann::json data_identity(const RunSettings& settings);

}  // namespace pocketrec::app
