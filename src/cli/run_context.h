// What `pocketrec train` and `pocketrec eval` do, as functions the tests can call too: build the
// dataset, fit or load the model, evaluate, write the run directory, format the result tables.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace pocketrec {
class Config;
}

namespace pocketrec::cli {

// Both set the process up from the config (threads, progress bars) first.
// Trains config's model, selects it on validation, evaluates validation and test once, and writes
// <output.dir>/{config.json, items.tsv, users.tsv, model.prarr, train_log.jsonl, results.json}.
// Returns the results.json content.
nlohmann::json train_and_evaluate(const Config& config);

// Distils the teacher run in distill.teacher into the student the config describes (same data and
// split), selects it on validation, evaluates on test, writes the run directory like train does plus
// the teacher's and the student's sizes. Returns the results.json content.
nlohmann::json distill_and_evaluate(const Config& config);

// Re-evaluates a run directory's saved model on `split` ("valid" or "test"), or the weights of
// `weights` when given (a model.prarr or a training checkpoint .ckpt); `overrides` may change
// eval.* and threads.* keys. Refuses data whose id maps differ from the ones saved with the model.
// Returns {model, dataset, <split>: metrics, config}.
nlohmann::json evaluate_run(const std::string& run_dir, const std::string& split, const std::string& weights,
                            const std::vector<std::string>& overrides);

// Writes the run's model (or the weights of `weights`, as in evaluate_run) as a .pocket file for the
// on-device runtime (atomically; matrices as weight_type: fp32, fp16 or int8), then loads it with the
// runtime and compares it with the LibTorch model on up to n_verify test queries spread over the test
// split: max |score difference|, identical top-20 lists, top-20 overlap, HR@20 of both, and the top-20
// overlap when scoring with the int8 table. Returns {path, bytes, parameters, verify: {...}}.
nlohmann::json export_run(const std::string& run_dir, const std::string& out_path, size_t n_verify,
                          const std::string& weights = "", const std::string& weight_type = "fp32");

// Online inference time of runs' models on this machine, side by side: one LibTorch thread, each of
// up to max_queries test queries (spread over the split) encoded and scored against every item on its
// own, as a device answering one request would; three rounds over all runs, the median round. The
// runs must share their data and split (the data set is built once). Microseconds per query, per run.
std::vector<double> query_latencies_us(const std::vector<std::string>& run_dirs, size_t max_queries);

// Markdown table: one row per (label, metrics object); columns = the given metric names, or every
// metric of the first row when empty.
std::string metrics_table(const std::vector<std::pair<std::string, nlohmann::json>>& rows,
                          std::vector<std::string> columns);

}  // namespace pocketrec::cli
