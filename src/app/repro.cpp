// `pocketrec repro NAME`: runs a suite's stages (configs/repro/NAME.json), skipping those already
// done with the same settings, and writes its results.json, table.md and plots (repro_report.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <thread>
#include <tuple>

#include "app/repro_report.h"
#include "app/repro_stage.h"
#include "app/repro_suite.h"
#include "app/results.h"
#include "app/workflows.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"

namespace pocketrec::app {
namespace {

namespace fs = std::filesystem;

// What decides a run's outcome: its resolved config without the keys that do not change results
// (run_identity), plus the epoch budget and the refit, which a resumed run may change but a suite
// fixes; a distilled run's teacher's identity too, so a retrained teacher retrains its students.
// The stage's folder (output.dir) is part of it as well: a stamp describes the stage in its folder.
nlohmann::json stage_identity(const Config& config, const nlohmann::json& teacher_identity) {
  nlohmann::json id = {{"config", run_identity(config)}};
  id["config"]["train"]["epochs"] = config.integer("train.epochs");
  id["config"]["train"]["refit"] = config.boolean("train.refit");
  id["config"]["output"]["dir"] = config.str("output.dir");
  if (!teacher_identity.is_null()) id["teacher"] = teacher_identity;
  return id;
}

// Runs (or skips) one train/distill stage. `resume_from`, when not empty, is a finished stage of the
// same training whose checkpoints this one continues from (a grid's winner refitted: its training
// is resumed past the end, so only the refit runs).
StageOutcome run_stage(const SuiteRun& run, Config config, const nlohmann::json& identity, const std::string& dir,
                       const std::string& resume_from) {
  make_dirs(dir);
  StageStamp stamp(dir + "/repro_stage.json");
  const std::string results = dir + "/results.json";
  if (stamp.done(identity) && fs::exists(results)) {
    log_info("repro: {} is up to date ({})", run.id, dir);
    return {read_json_at(results), stamp.wall_s(), stamp.git_rev()};
  }
  // The same settings interrupted after a checkpoint continue from it; anything else starts over,
  // without what an earlier run with other settings left (a model without a training loop writes
  // no log, and must not show another's; a retrained teacher's students need a new top-K cache),
  // from `resume_from`'s checkpoints when it has them.
  bool resume = stamp.matches(identity) && fs::exists(dir + "/checkpoint_last.ckpt");
  std::string resumed_from = resume ? dir : "";
  if (!stamp.matches(identity)) {
    const std::vector<std::string> trained = {"/checkpoint_last.ckpt", "/checkpoint_best.ckpt", "/train_log.jsonl"};
    for (const std::string& stale : trained) fs::remove(dir + stale);
    for (const char* stale : {"/results.json", "/model.prarr"}) fs::remove(dir + stale);
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().filename().string().rfind("topk_", 0) == 0) fs::remove(entry.path());
    if (!resume_from.empty() && fs::exists(resume_from + trained[0])) {
      for (const std::string& file : trained)
        if (fs::exists(resume_from + file)) fs::copy_file(resume_from + file, dir + file);
      resume = true;
      resumed_from = resume_from;
    } else if (!resume_from.empty() && fs::exists(resume_from + trained[2])) {
      log_warn("repro: {} kept no checkpoint (train.checkpoint=false); its selection is trained again before the refit",
               resume_from);
    }
  }
  // Continued from its own checkpoint, the stage's time includes what each interrupted invocation
  // spent up to its last checkpoint; continued from another stage's (a refit), that time is the
  // other stage's.
  if (resumed_from == dir)
    stamp.resume(identity, dir + "/checkpoint_last.ckpt");
  else
    stamp.start(identity);
  if (resume) config.set("train.resume", true, "repro (a stage continued from its checkpoint)");
  log_info("repro: {} ({} {}{})", run.id, run.distill_from.empty() ? "train" : "distill from " + run.distill_from,
           run.config,
           !resume               ? ""
           : resumed_from == dir ? ", resumed"
                                 : ", resumed from " + resumed_from);
  const auto t0 = std::chrono::steady_clock::now();
  const RunSettings settings = run_settings(config);
  nlohmann::json res = run.distill_from.empty() ? train(settings) : distill(settings);
  stamp.finish(identity, seconds_since(t0));
  return {res, stamp.wall_s(), stamp.git_rev()};
}

// Exports a finished run to <base>.pocket and checks it with the runtime (export_run), unless that
// was done for the same run, weight type and number of check queries; the export's report is
// <base>.export.json.
StageOutcome run_export(const std::string& run_dir, const std::string& base, const std::string& weight_type,
                        const nlohmann::json& run_identity, size_t n_verify) {
  const std::string pocket = base + ".pocket", report = base + ".export.json";
  const nlohmann::json identity = {{"run", run_identity}, {"weight_type", weight_type}, {"verify_queries", n_verify}};
  StageStamp stamp(base + ".export-stage.json");
  if (stamp.done(identity) && fs::exists(report) && fs::exists(pocket)) {
    log_info("repro: the export {} is up to date", pocket);
    return {read_json_at(report), stamp.wall_s(), stamp.git_rev()};
  }
  stamp.start(identity);
  const auto t0 = std::chrono::steady_clock::now();
  ExportRequest request;
  request.run_dir = run_dir;
  request.out_path = pocket;
  request.n_verify = n_verify;
  request.weight_type = weight_type;
  const nlohmann::json res = export_run(request);
  write_file_atomic(report, res.dump(2) + "\n");
  const double wall = seconds_since(t0);
  stamp.finish(identity, wall);
  return {res, wall, stamp.git_rev()};
}

// A probe's settings as results.json and its stage identity show them.
nlohmann::json probe_settings(const PqProbeRequest& r) {
  return {{"subspaces", r.subspaces}, {"rotation", r.rotations}, {"codewords", r.codewords}};
}

// Whether a pq_probe.json holds the rows of these settings: `pocketrec pq-probe` writes the same
// file, so one run by hand in a suite's folder after the stage is not taken for the stage's.
// A report of another shape (edited by hand) does not match, and its stage is redone.
bool probe_report_matches(const nlohmann::json& report, const PqProbeRequest& r) {
  const auto holds = [](const nlohmann::json& j, const char* key, const nlohmann::json& value) {
    return j.is_object() && j.contains(key) && j[key] == value;
  };
  if (!holds(report, "codewords", r.codewords) || !report.contains("rows") || !report["rows"].is_array()) return false;
  const nlohmann::json& rows = report["rows"];
  if (rows.size() != 1 + r.subspaces.size() * r.rotations.size()) return false;
  size_t i = 1;
  for (int64_t m : r.subspaces)
    for (bool rotation : r.rotations) {
      if (!holds(rows[i], "subspaces", m) || !holds(rows[i], "rotation", rotation)) return false;
      ++i;
    }
  return true;
}

// Probes a finished run's item table (pq_probe, which writes <run_dir>/pq_probe.json), unless that was
// done for the same run and settings; the stamp is <run_dir>/pq_probe-stage.json.
StageOutcome run_probe(const std::string& id, const std::string& run_dir, PqProbeRequest request,
                       const nlohmann::json& run_identity) {
  request.run_dir = run_dir;
  const std::string report = run_dir + "/pq_probe.json";
  const nlohmann::json identity = {{"run", run_identity}, {"settings", probe_settings(request)}};
  StageStamp stamp(run_dir + "/pq_probe-stage.json");
  if (stamp.done(identity) && fs::exists(report)) {
    nlohmann::json done = read_json_at(report);
    if (probe_report_matches(done, request)) {
      log_info("repro: the PQ probe of {} is up to date ({})", id, report);
      return {std::move(done), stamp.wall_s(), stamp.git_rev()};
    }
  }
  stamp.start(identity);
  log_info("repro: the PQ probe of {} ({})", id, run_dir);
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json res = pq_probe(request);
  const double wall = seconds_since(t0);
  stamp.finish(identity, wall);
  return {res, wall, stamp.git_rev()};
}

// One entry of results.json "exports": the file and what the runtime measured on it.
nlohmann::json exported_file(const SuiteExport& e, const std::string& pocket, const nlohmann::json& report) {
  nlohmann::json x = {{"run", e.run}, {"weight_type", e.weight_type}, {"file", pocket}, {"bytes", report["bytes"]}};
  if (report.contains("verify")) {
    const nlohmann::json& v = report["verify"];
    x["verify"] = nlohmann::json::object();
    for (const char* key : {"queries", "max_abs_score_diff", "top20_identical", "top20_overlap", "hr@20_runtime",
                            "hr@20_libtorch", "query_us"})
      if (v.contains(key)) x["verify"][key] = v[key];
  }
  return x;
}

// Each epoch's training loss and validation value of the selection metric `metric` (the run's
// train_log.jsonl; empty when the model has no training loop).
nlohmann::json training_curve(const std::string& run_dir, const std::string& metric) {
  nlohmann::json curve = nlohmann::json::array();
  std::ifstream in(run_dir + "/train_log.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (trim(line).empty()) continue;
    const nlohmann::json e = nlohmann::json::parse(line);
    nlohmann::json point = {{"epoch", e["epoch"]}, {"loss", e["loss"]}, {"seconds", e["seconds"]}};
    if (e.contains("valid") && e["valid"].contains(metric)) point["valid"] = {{metric, e["valid"][metric]}};
    curve.push_back(point);
  }
  return curve;
}

// One row of the suite's results.json from a run's own results.json.
nlohmann::json suite_row(const SuiteRun& run, const std::vector<std::string>& overrides, const nlohmann::json& res,
                         const std::string& run_dir) {
  const nlohmann::json& size = res["size"].contains("student") ? res["size"]["student"] : res["size"];
  nlohmann::json row = {{"model", run.id},
                        {"role", run.role},
                        {"architecture", res["model"]},
                        {"method", res.value("method", std::string("supervised"))},
                        {"selected_on", "valid"},
                        {"valid", res["valid"]["metrics"]},
                        {"test", res["test"]["metrics"]},
                        {"params", res["n_parameters"]},
                        {"fp32_bytes", size["fp32_bytes"]},
                        {"config", {{"file", run.config}, {"set", overrides}}},
                        {"best_epoch", res["fit"].value("best_epoch", int64_t{0})},
                        {"epochs_run", res["fit"].value("epochs_run", int64_t{0})}};
  if (!run.compare_to.empty()) row["teacher"] = run.compare_to;
  if (res.contains("refit")) row["refitted"] = true;  // test is the refitted model's, valid the selected one's
  if (size.contains("item_table_parameters")) {
    row["table_params"] = size["item_table_parameters"];
    row["table_bytes"] = size["item_table_bytes"];
    row["table"] = size["item_table"];
  }
  if (res["test"].contains("groups"))
    for (const auto& [group, g] : res["test"]["groups"].items()) {
      row["test_groups"][group] = g["metrics"];
      row["test_group_queries"][group] = g["n_queries"];
    }
  const nlohmann::json curve = training_curve(run_dir, res["config"]["eval"]["valid_metric"].get<std::string>());
  if (!curve.empty()) row["curve"] = curve;
  return row;
}

// A suite's run once done: its folder (the selected grid combination's, first seed's, or for a
// refitted grid <id>/refit), its selected grid combination, that stage's identity and results.json,
// and its row of the suite's results.
struct DoneRun {
  std::string dir;
  std::vector<std::string> combination;
  nlohmann::json identity, results, row;
};

// Which training of a run: the settings it takes from another run, one grid combination, one seed.
struct Variant {
  std::vector<std::string> inherited;    // the selected grid values of run.same_settings_as
  std::vector<std::string> combination;  // one of the run's grid combinations
  std::optional<int64_t> seed;           // one of run.seeds
};

// The overrides of one training of `run`, in order of precedence: the inherited settings, the run's
// own overrides, its grid combination, its seed, then the quick budget's.
std::vector<std::string> variant_overrides(const SuiteRun& run, const Variant& v, const Suite& suite, bool quick) {
  std::vector<std::string> overrides = v.inherited;
  overrides.insert(overrides.end(), run.overrides.begin(), run.overrides.end());
  overrides.insert(overrides.end(), v.combination.begin(), v.combination.end());
  if (v.seed) overrides.push_back("--train.seed=" + std::to_string(*v.seed));
  if (quick) overrides.insert(overrides.end(), suite.quick.begin(), suite.quick.end());
  return overrides;
}

// The config of one training: its file, its overrides, then where it is written and the folder of
// its teacher.
Config variant_config(const SuiteRun& run, const std::vector<std::string>& overrides, const std::string& dir,
                      const std::string& teacher_dir) {
  std::vector<std::string> all = overrides;
  all.push_back("--output.dir=" + dir);
  all.push_back("--output.progress=false");
  if (!run.distill_from.empty()) all.push_back("--distill.teacher=" + teacher_dir);
  return Config::load(run.config, all);
}

// A probe replaces a dense SASRec item table by PQ reconstructions of it with M sub-spaces of
// model.dim / M dimensions (pq_probe): checked before anything is trained, as the configs are.
void check_probed_model(const Suite& suite, size_t run_index, const nlohmann::json& model) {
  const std::string& id = suite.runs[run_index].id;
  for (size_t j = 0; j < suite.probes.size(); ++j) {
    if (suite.probes[j].run != id) continue;
    PR_CHECK(model["name"] == "sasrec" && model["item_table"] == "dense", ErrorCode::kInvalidArgument,
             "{}: key 'probe[{}].run': '{}' is a {} model with a {} item table; a probe quantises a dense SASRec "
             "table",
             suite.path, j, id, model["name"].get<std::string>(), model["item_table"].get<std::string>());
    const int64_t dim = model["dim"].get<int64_t>();
    for (int64_t m : suite.probes[j].settings.subspaces)
      PR_CHECK(dim % m == 0, ErrorCode::kInvalidArgument,
               "{}: key 'probe[{}].subspaces': {} does not divide model.dim = {} of '{}'", suite.path, j, m, dim, id);
  }
}

// Loads every run's every training before anything is trained, so a bad key in the last run costs
// nothing: errors name the suite file and the run. Every run must share the first one's data, split
// and evaluation, which the page reports once.
void check_suite_configs(const Suite& suite, bool quick) {
  nlohmann::json shared, first;
  for (size_t i = 0; i < suite.runs.size(); ++i) {
    const SuiteRun& run = suite.runs[i];
    std::vector<std::vector<std::string>> inherited = {{}};
    for (const SuiteRun& source : suite.runs)
      if (source.id == run.same_settings_as) inherited = grid_candidates(source);
    for (const auto& prefix : inherited)
      for (const auto& combination : grid_candidates(run)) {
        Variant v{prefix, combination, std::nullopt};
        if (!run.seeds.empty()) v.seed = run.seeds.front();
        nlohmann::json resolved;
        try {
          resolved = variant_config(run, variant_overrides(run, v, suite, quick), "check", "check").to_json();
        } catch (const Error& e) {
          PR_FAIL(e.code(), "{}: runs[{}] ('{}'): {}", suite.path, i, run.id, e.what());
        }
        const nlohmann::json evaluated = {{"data", resolved["data"]},
                                          {"split", resolved["split"]},
                                          {"metrics", resolved["eval"]["metrics"]},
                                          {"ks", resolved["eval"]["ks"]},
                                          {"valid_metric", resolved["eval"]["valid_metric"]}};
        check_probed_model(suite, i, resolved["model"]);
        if (shared.is_null()) shared = evaluated, first = resolved;
        PR_CHECK(evaluated == shared, ErrorCode::kInvalidArgument,
                 "{}: runs[{}] ('{}') has other data, split or evaluation settings than runs[0] ({} vs {})", suite.path,
                 i, run.id, evaluated.dump(), shared.dump());
      }
  }
  const std::vector<std::string> columns = metric_columns(first);
  for (size_t i = 0; i < suite.goals.size(); ++i)
    PR_CHECK(std::find(columns.begin(), columns.end(), suite.goals[i].metric) != columns.end(),
             ErrorCode::kInvalidArgument, "{}: key 'goals[{}].metric': the runs report no metric '{}'", suite.path, i,
             suite.goals[i].metric);
  PR_CHECK(std::system("command -v gnuplot > /dev/null 2>&1") == 0, ErrorCode::kInvalidArgument,
           "repro: gnuplot draws the plots and is not installed (Debian: gnuplot-nox; scripts/setup.sh installs it)");
}

// One training of a run, run or found done: where, with which overrides and identity, its outcome
// and its value of the selection metric.
struct Trained {
  std::string dir;
  std::vector<std::string> overrides;
  nlohmann::json identity;
  StageOutcome stage;
  std::string metric;  // the selection metric (eval.valid_metric)
  double valid_value = 0;
};

// `refit`: the run's own train.refit when unset, else this value (a grid's combinations are only
// selected; the winner alone is refitted, resumed from `resume_from`, its selection's folder).
Trained train_variant(const SuiteRun& run, const Variant& v, const Suite& suite, bool quick, const std::string& dir,
                      const DoneRun* teacher, std::optional<bool> refit = std::nullopt,
                      const std::string& resume_from = "") {
  Trained t;
  t.dir = dir;
  t.overrides = variant_overrides(run, v, suite, quick);
  Config config = variant_config(run, t.overrides, dir, teacher ? teacher->dir : "");
  if (refit)
    config.set("train.refit", *refit, *refit ? "repro (a grid's winner, refitted)" : "repro (a grid's selection)");
  t.identity = stage_identity(config, teacher ? teacher->identity : nlohmann::json());
  t.stage = run_stage(run, config, t.identity, dir, resume_from);
  t.metric = config.str("eval.valid_metric");
  const nlohmann::json& valid = t.stage.results["valid"]["metrics"];
  PR_CHECK(valid.contains(t.metric), ErrorCode::kBadFormat, "{}/results.json: no validation {}", dir, t.metric);
  t.valid_value = valid[t.metric].get<double>();
  return t;
}

// The mean and the sample standard deviation of every metric over `values` (objects metric ->
// value with the same keys; the deviation is 0 for one value).
std::pair<nlohmann::json, nlohmann::json> mean_and_deviation(const std::vector<nlohmann::json>& values) {
  nlohmann::json mean = nlohmann::json::object(), deviation = nlohmann::json::object();
  const double n = static_cast<double>(values.size());
  for (const auto& [metric, unused] : values.front().items()) {
    double sum = 0, squares = 0;
    for (const auto& v : values) sum += v[metric].get<double>();
    for (const auto& v : values) squares += std::pow(v[metric].get<double>() - sum / n, 2);
    mean[metric] = sum / n;
    deviation[metric] = values.size() > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
  }
  return {mean, deviation};
}

// Replaces the row's validation and test metrics (and target groups) by their means over the seeds'
// rows, with the sample deviations beside them and each seed's own values listed.
void average_over_seeds(nlohmann::json& row, const std::vector<int64_t>& seeds,
                        const std::vector<nlohmann::json>& rows) {
  row["seeds"] = nlohmann::json::array();
  for (size_t i = 0; i < seeds.size(); ++i)
    row["seeds"].push_back({{"seed", seeds[i]}, {"valid", rows[i]["valid"]}, {"test", rows[i]["test"]}});
  for (const std::string split : {"valid", "test"}) {
    std::vector<nlohmann::json> values;
    for (const auto& r : rows) values.push_back(r[split]);
    std::tie(row[split], row[split + "_std"]) = mean_and_deviation(values);
  }
  if (!row.contains("test_groups")) return;
  for (auto& [group, metrics] : row["test_groups"].items()) {
    std::vector<nlohmann::json> values;
    for (const auto& r : rows) values.push_back(r["test_groups"][group]);
    metrics = mean_and_deviation(values).first;
  }
}

// Trains (or finds done) every grid combination of `run` with its first seed and keeps the one with
// the best validation metric (the first of equals); then trains that combination with each further
// seed. The row lists every combination's validation (and, for the sweep plots, test) value of the
// selection metric, and averages over the seeds. A grid of a refitted run (train.refit) selects
// without refitting; the winner is then refitted in <id>/refit, its training resumed from the
// winner's checkpoints, so one refit is trained instead of one per combination.
DoneRun run_suite_entry(const SuiteRun& run, const Suite& suite, bool quick, const std::string& runs_dir,
                        const std::map<std::string, DoneRun>& done) {
  const std::vector<std::vector<std::string>> candidates = grid_candidates(run);
  const DoneRun* teacher = run.distill_from.empty() ? nullptr : &done.at(run.distill_from);
  Variant v;
  if (!run.same_settings_as.empty()) v.inherited = done.at(run.same_settings_as).combination;
  if (!run.seeds.empty()) v.seed = run.seeds.front();
  DoneRun best;
  double best_value = 0, wall = 0;
  nlohmann::json grid = nlohmann::json::array();
  const bool in_grid = candidates.size() > 1;
  v.combination = candidates.front();
  const bool refit_winner =
      in_grid && variant_config(run, variant_overrides(run, v, suite, quick), "check", "check").boolean("train.refit");
  auto keep = [&](const Trained& t, const std::vector<std::string>& combination) {
    best = {t.dir, combination, t.identity, t.stage.results, suite_row(run, t.overrides, t.stage.results, t.dir)};
    best.row["git_rev"] = t.stage.git_rev;
  };
  size_t selected = 0;
  for (size_t c = 0; c < candidates.size(); ++c) {
    v.combination = candidates[c];
    // Each training has its own folder: <id>/grid-<c> in a grid (and <id>/refit for its refitted
    // winner, below), <id>/seed-<seed> for seeds alone.
    const std::string dir = runs_dir + "/" + run.id +
                            (in_grid                ? "/grid-" + std::to_string(c)
                             : run.seeds.size() > 1 ? "/seed-" + std::to_string(run.seeds.front())
                                                    : "");
    const Trained t =
        train_variant(run, v, suite, quick, dir, teacher, refit_winner ? std::optional<bool>(false) : std::nullopt);
    wall += t.stage.wall_s;
    if (in_grid)
      grid.push_back({{"set", candidates[c]},
                      {"valid", {{t.metric, t.valid_value}}},
                      {"test", {{t.metric, t.stage.results["test"]["metrics"].value(t.metric, 0.0)}}}});
    if (c == 0 || t.valid_value > best_value) keep(t, candidates[c]), selected = c, best_value = t.valid_value;
  }
  if (refit_winner) {
    v.combination = best.combination;
    const Trained t = train_variant(run, v, suite, quick, runs_dir + "/" + run.id + "/refit", teacher, true, best.dir);
    wall += t.stage.wall_s;
    keep(t, best.combination);
  }
  if (in_grid) best.row["selected"] = selected;
  if (run.seeds.size() > 1) {
    std::vector<nlohmann::json> rows = {best.row};
    v.combination = best.combination;
    for (size_t i = 1; i < run.seeds.size(); ++i) {
      v.seed = run.seeds[i];
      const std::string dir = runs_dir + "/" + run.id + "/seed-" + std::to_string(run.seeds[i]);
      const Trained t = train_variant(run, v, suite, quick, dir, teacher);
      wall += t.stage.wall_s;
      rows.push_back(suite_row(run, t.overrides, t.stage.results, dir));
    }
    average_over_seeds(best.row, run.seeds, rows);
  }
  best.row["wall_s"] = wall;
  if (!grid.empty()) best.row["grid"] = grid;
  return best;
}

// Each goal of the suite with its measured ratio and whether it is met; Error naming the suite when
// a row lacks the goal's metric.
nlohmann::json goal_verdicts(const Suite& suite, const nlohmann::json& rows) {
  auto test_value = [&](const std::string& model, const std::string& metric) {
    for (const auto& row : rows)
      if (row["model"] == model) {
        PR_CHECK(row["test"].contains(metric), ErrorCode::kInvalidArgument, "{}: goals: '{}' has no test metric '{}'",
                 suite.path, model, metric);
        return row["test"][metric].get<double>();
      }
    PR_FAIL(ErrorCode::kInvalidArgument, "{}: goals: no row '{}'", suite.path, model);
  };
  nlohmann::json out = nlohmann::json::array();
  for (const SuiteGoal& g : suite.goals) {
    const double of = test_value(g.of, g.metric);
    const double ratio = of > 0 ? test_value(g.model, g.metric) / of : 0.0;
    out.push_back({{"model", g.model},
                   {"metric", g.metric},
                   {"of", g.of},
                   {"at_least", g.at_least},
                   {"ratio", ratio},
                   {"met", of > 0 && ratio >= g.at_least}});
  }
  return out;
}

// Every probe of the suite, run or found done in its run's folder (the one its exports read), as
// results.json's "probes"; their wall times are added to `wall`.
nlohmann::json suite_probes(const Suite& suite, const std::map<std::string, DoneRun>& done, double& wall) {
  nlohmann::json probes = nlohmann::json::array();
  for (const SuiteProbe& p : suite.probes) {
    const DoneRun& d = done.at(p.run);
    const StageOutcome stage = run_probe(p.run, d.dir, p.settings, d.identity);
    wall += stage.wall_s;
    probes.push_back({{"run", p.run},
                      {"settings", probe_settings(p.settings)},
                      {"teacher", stage.results["teacher"]},
                      {"rows", stage.results["rows"]}});
  }
  return probes;
}

}  // namespace

nlohmann::json repro(const ReproRequest& r) {
  const auto t0 = std::chrono::steady_clock::now();
  git_revision();  // the tree as it is when the stages start, whatever is edited while they run
  const Suite suite = read_suite(suite_path(r.suite));
  const std::string tag = suite.name + (r.quick ? "-quick" : "");
  const std::string runs_dir = r.runs_dir.empty() ? "runs/repro/" + tag : r.runs_dir;
  const std::string out_dir = !r.out_dir.empty() ? r.out_dir
                              : r.quick          ? runs_dir + "/results"
                                                 : "docs/results/" + suite.name;
  check_suite_configs(suite, r.quick);
  make_dirs(runs_dir);
  std::map<std::string, DoneRun> done;
  double wall = 0;
  for (const SuiteRun& run : suite.runs) {
    done[run.id] = run_suite_entry(run, suite, r.quick, runs_dir, done);
    wall += done[run.id].row["wall_s"].get<double>();
  }
  nlohmann::json exports = nlohmann::json::array();
  std::map<std::string, std::string> first_file;  // run -> its first exported file, which its row shows
  for (const SuiteExport& e : suite.exports) {
    DoneRun& d = done.at(e.run);
    const std::string base = runs_dir + "/" + e.file_stem();
    const StageOutcome stage = run_export(d.dir, base, e.weight_type, d.identity, r.quick ? 200 : 1000);
    wall += stage.wall_s;
    exports.push_back(exported_file(e, base + ".pocket", stage.results));
    if (!first_file.emplace(e.run, base + ".pocket").second) continue;
    const nlohmann::json& x = exports.back();
    d.row["file_bytes"] = x["bytes"];
    if (!x.contains("verify")) continue;
    d.row["query_us"] = x["verify"]["query_us"];
    d.row["runtime_parity"] = {{"queries", x["verify"]["queries"]},
                               {"max_abs_score_diff", x["verify"]["max_abs_score_diff"]},
                               {"top20_identical", x["verify"]["top20_identical"]}};
  }
  // After the exports: nothing else reads a probe, so one that fails at run time (K more than the
  // run's items; the rest is checked with the configs) leaves every export done.
  const nlohmann::json probes = suite_probes(suite, done, wall);
  nlohmann::json rows = nlohmann::json::array();
  for (const SuiteRun& run : suite.runs) rows.push_back(done.at(run.id).row);
  const nlohmann::json& first = done.at(suite.runs.front().id).results;
  nlohmann::json out = {{"name", suite.name},
                        {"title", suite.title},
                        {"command", r.command_line},
                        {"suite", suite.path},
                        {"git_rev", git_revision()},
                        {"machine", machine_description()},
                        {"wall_s", wall},
                        {"quick", r.quick},
                        {"dataset", first["dataset"]},
                        {"valid_metric", first["config"]["eval"]["valid_metric"]},
                        {"metrics", metric_columns(first["config"])},
                        {"rows", rows},
                        {"exports", exports}};
  if (!suite.query.run.empty()) {
    RecommendRequest q;
    q.model_path = first_file.at(suite.query.run);
    q.history = suite.query.history;
    q.k = static_cast<size_t>(suite.query.k);
    nlohmann::json top = nlohmann::json::array();
    for (const Recommendation& rec : recommend_items(q)) top.push_back({{"item", rec.item}, {"score", rec.score}});
    out["query"] = {{"run", suite.query.run}, {"file", q.model_path}, {"history", suite.query.history}, {"top", top}};
  }
  if (!probes.empty()) out["probes"] = probes;
  out["goals"] = goal_verdicts(suite, rows);
  if (!suite.paper.is_null()) out["paper"] = suite.paper;
  write_suite_pages(out, out_dir);
  log_info("repro: {} done in {:.0f} s (all stages: {:.0f} s); wrote {}", suite.name, seconds_since(t0), wall, out_dir);
  return out;
}

}  // namespace pocketrec::app
