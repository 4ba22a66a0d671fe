// PocketRec's workflows, one function each; the command line parses arguments into these requests
// and prints what they return. Each builds the data set, the models and their options from the run
// settings and writes its outputs atomically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/options.h"

namespace pocketrec::app {

// Trains settings.model, selects it on validation, evaluates validation and test once, writes the
// run directory (run_directory.h). Returns its results.json.
nlohmann::json train(const RunSettings& settings);

// Distils the teacher run settings.distill.teacher_dir into the student settings.model with the
// method settings.distill.method (same data and split as the teacher), selected on validation,
// evaluated on test; writes the run directory with both models' sizes. Returns its results.json.
nlohmann::json distill(const RunSettings& settings);

struct LaunchRequest {
  int n_ranks = 1;
  std::vector<std::string> args;  // "train" or "distill" and its arguments
  int port = 0;                   // of the rendezvous on 127.0.0.1; 0 = a free one
  std::string executable;         // this program (the ranks run it again)
};
// Runs args as n_ranks local ranks of one data-parallel run (the dist.* keys added), forwarding
// their output with a "[rank r] " prefix. Returns 0, or the exit code of the first rank that failed
// (the others are stopped).
int launch(const LaunchRequest& request);

struct EvaluateRequest {
  std::string run_dir;
  std::string split = "test";          // test | valid
  std::string weights;                 // a .prarr or a training checkpoint; empty = the run's model.prarr
  std::vector<std::string> overrides;  // --key=value for eval.* and threads.* keys only
};
// Re-evaluates a run's model; writes <run>/eval_<split>[_<weights stem>].json and returns it.
nlohmann::json evaluate_run(const EvaluateRequest& request);

struct ExportRequest {
  std::string run_dir, out_path;
  size_t n_verify = 1000;            // test queries compared between the runtime and LibTorch (0: none)
  std::string weights;               // as EvaluateRequest::weights
  std::string weight_type = "fp32";  // fp32 | fp16 | int8
};
// Writes the run's model as a .pocket file, then verifies it with the runtime (export/verify.h).
// Returns {path, bytes, weight_type, parameters, [item_table_*], [verify: {...}]}.
nlohmann::json export_run(const ExportRequest& request);

struct ReportRequest {
  std::vector<std::string> run_dirs;
  std::string split = "test";
  std::vector<std::string> metrics;  // empty: the first run's own
  std::string best_by;               // a validation metric: also select the best run on it
};
// One Markdown table of the runs' metrics (and the validation-selected run).
std::string report(const ReportRequest& request);

struct DistillReportRequest {
  std::string teacher;
  std::vector<std::string> rd, student;  // distilled and plain students (e.g. one per seed)
  std::string split = "test";
  std::vector<std::string> metrics;
  std::string latency_json;  // optional: bench_query_latency's output, for the time columns
};
// The RD paper's table: teacher, distilled and plain student rows (mean ± sample std over each
// group's runs), parameters and model bytes as shares of the teacher's, and the online time per
// query when latencies are given.
std::string distill_report(const DistillReportRequest& request);

struct RecommendRequest {
  std::string model_path;
  std::vector<int64_t> history;  // original item ids, oldest first
  size_t k = 10;
  bool exclude_history = true;
  std::string scoring = "auto";  // auto | cores | fp32 | int8
  std::optional<int64_t> user;   // the user id, for models with user embeddings
};
struct Recommendation {
  int64_t item = 0;  // the original item id
  float score = 0;
};
// The on-device runtime's top-k through its C API, best first.
std::vector<Recommendation> recommend_items(const RecommendRequest& request);
// A rank | item | score Markdown table.
std::string recommendations_table(const std::vector<Recommendation>& top);

struct PqProbeRequest {
  std::string run_dir;  // a trained SASRec teacher
  std::vector<int64_t> subspaces = {8, 16, 32};
  std::vector<bool> rotations = {false, true};
  int64_t codewords = 256;
};
// The no-training ceiling of a product-quantised student (docs/design/pq.md §5): the teacher with
// its item table replaced by its PQ reconstruction (k-means on the teacher's own table; OPQ with a
// rotation), nothing retrained; HR@20, MRR@20 and HR@20 on repeat and new targets on validation and
// test for each setting. Writes <run>/pq_probe.json and returns it.
nlohmann::json pq_probe(const PqProbeRequest& request);
// The probe's rows as a Markdown table.
std::string pq_probe_table(const nlohmann::json& probe);

struct ReproRequest {
  std::string suite;         // a suite name (configs/repro/NAME.json) or a suite file
  bool quick = false;        // the suite's smaller budget (its "quick" overrides), for CI
  std::string runs_dir;      // empty: runs/repro/NAME (NAME-quick with quick)
  std::string out_dir;       // empty: docs/results/NAME; with quick, <runs_dir>/results
  std::string command_line;  // as typed, recorded in results.json
};
// Runs a reproduction suite (app/repro_suite.h): every run in order, each skipped when it finished
// before with the same settings (and resumed from its checkpoint when it was interrupted), then the
// exports, checked by the runtime and timed, the PQ probes (pq_probe) of the runs the suite names,
// and the suite's query answered by the runtime from the exported file. Writes
// <out_dir>/results.json, table.md and the plots (app/repro_report.h) and returns the results.
nlohmann::json repro(const ReproRequest& request);

// `pocketrec data stats`: users (or sessions), items, interactions and lengths, as Markdown.
std::string data_stats(const std::string& path, const std::string& format, const std::string& columns);

// `pocketrec list models|methods|exporters` as a Markdown table; Error for another kind.
std::string list_components(const std::string& kind);

// The configuration reference (docs/config.md).
std::string config_reference();

// PocketRec's version (the project's one version number).
std::string version();

}  // namespace pocketrec::app
