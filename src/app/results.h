// results.json of a run, built by one function for `train` and `distill`, and the Markdown tables
// the commands print from results.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/options.h"
#include "data/dataset.h"
#include "eval/evaluator.h"
#include "models/recommender.h"

namespace pocketrec::app {

// The sizes of a model: parameters, fp32 bytes and, for session models, the item table's stored
// size (parameters, code bytes, bytes).
nlohmann::json model_size_json(const models::ModelInstance& m);

// {model, dataset, data_path, n_parameters, n_users, n_items, size, fit, valid, test, config}, plus
// whatever `extra` holds (a distillation's method, teacher and size ratios).
nlohmann::json run_results(const RunSettings& settings, const data::Dataset& d, const models::ModelInstance& m,
                           const nlohmann::json& fit, const eval::EvalResult& valid, const eval::EvalResult& test,
                           const nlohmann::json& extra = nlohmann::json::object());

// Markdown table: one row per (label, metrics object); columns = the given metric names, or every
// metric of the first row when empty. Values to 4 decimals, "–" where a row lacks a column.
std::string metrics_table(const std::vector<std::pair<std::string, nlohmann::json>>& rows,
                          std::vector<std::string> columns);

// Rows of these splits of a results object, each followed by its breakdown groups.
std::vector<std::pair<std::string, nlohmann::json>> split_rows(const nlohmann::json& results,
                                                               const std::vector<std::string>& splits);

// The metric names a results object's config computes, in config order (metric family, then k).
std::vector<std::string> metric_columns(const nlohmann::json& config_json);

// " (sampled metrics)" when a split was evaluated on sampled items, else "".
std::string protocol_note(const nlohmann::json& split);

// What `train` and `distill` print after a run: a title line, sizes, and the valid/test table.
std::string run_summary_text(const nlohmann::json& results);

}  // namespace pocketrec::app
