// `pocketrec repro NAME`: runs a suite's stages (configs/repro/NAME.json), skipping those already
// done with the same settings, and writes its results.json, table.md and plots (repro_report.h).
#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "app/repro_report.h"
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

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What decides a run's outcome: its resolved config without the keys that do not change results
// (run_identity), plus the epoch budget and the refit, which a resumed run may change but a suite
// fixes; a distilled run's teacher's identity too, so a retrained teacher retrains its students.
nlohmann::json stage_identity(const Config& config, const nlohmann::json& teacher_identity) {
  nlohmann::json id = {{"config", run_identity(config)}};
  id["config"]["train"]["epochs"] = config.integer("train.epochs");
  id["config"]["train"]["refit"] = config.boolean("train.refit");
  if (!teacher_identity.is_null()) id["teacher"] = teacher_identity;
  return id;
}

// The JSON file at `path`; Error(kBadFormat) naming it when it is not JSON.
nlohmann::json read_json_at(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  PR_CHECK(!j.is_discarded(), ErrorCode::kBadFormat, "{}: not valid JSON", path);
  return j;
}

std::string git_revision();  // below

// A stage's stamp file: the identity it last started with and, once finished, its wall time and
// the code revision that ran it. A stage is done when its stamp is finished with today's identity
// and its outputs exist.
struct StageStamp {
  std::string path;
  nlohmann::json saved;  // null when there is none (or it is unreadable: the stage is redone)

  explicit StageStamp(std::string p) : path(std::move(p)) {
    if (fs::exists(path)) saved = nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
    if (!saved.is_object()) saved = nullptr;
  }
  bool matches(const nlohmann::json& identity) const {
    return saved.is_object() && saved.contains("identity") && saved["identity"] == identity;
  }
  bool done(const nlohmann::json& identity) const { return matches(identity) && saved.value("finished", false); }
  double wall_s() const { return saved.is_object() ? saved.value("wall_s", 0.0) : 0.0; }
  std::string git_rev() const { return saved.is_object() ? saved.value("git_rev", std::string()) : ""; }
  void start(const nlohmann::json& identity) { write({{"identity", identity}, {"finished", false}}); }
  void finish(const nlohmann::json& identity, double wall) {
    write({{"identity", identity}, {"finished", true}, {"wall_s", wall}, {"git_rev", git_revision()}});
  }

 private:
  void write(nlohmann::json j) {
    saved = std::move(j);
    write_file_atomic(path, saved.dump(2) + "\n");
  }
};

struct StageOutcome {
  nlohmann::json results;  // the run's results.json, or the export's report
  double wall_s = 0;
  std::string git_rev;  // of the code that ran the stage
};

// Runs (or skips) one train/distill stage.
StageOutcome run_stage(const SuiteRun& run, Config config, const nlohmann::json& identity, const std::string& dir) {
  make_dirs(dir);
  StageStamp stamp(dir + "/repro_stage.json");
  const std::string results = dir + "/results.json";
  if (stamp.done(identity) && fs::exists(results)) {
    log_info("repro: {} is up to date ({})", run.id, dir);
    return {read_json_at(results), stamp.wall_s(), stamp.git_rev()};
  }
  // The same settings interrupted after a checkpoint continue from it; anything else starts over,
  // without what an earlier run with other settings left (a model without a training loop writes
  // no log, and must not show another's).
  const bool resume = stamp.matches(identity) && fs::exists(dir + "/checkpoint_last.ckpt");
  if (!stamp.matches(identity))
    for (const char* stale :
         {"/results.json", "/checkpoint_last.ckpt", "/checkpoint_best.ckpt", "/train_log.jsonl", "/model.prarr"})
      fs::remove(dir + stale);
  stamp.start(identity);
  if (resume) config.set("train.resume", true, "repro (an interrupted stage)");
  log_info("repro: {} ({} {}{})", run.id, run.distill_from.empty() ? "train" : "distill from " + run.distill_from,
           run.config, resume ? ", resumed" : "");
  const auto t0 = std::chrono::steady_clock::now();
  const RunSettings settings = run_settings(config);
  nlohmann::json res = run.distill_from.empty() ? train(settings) : distill(settings);
  const double wall = seconds_since(t0);
  stamp.finish(identity, wall);
  return {res, wall, stamp.git_rev()};
}

// Exports a finished run to <base>.pocket and checks it with the runtime (export_run), unless that
// was done for the same run and number of check queries; the export's report is <base>.export.json.
StageOutcome run_export(const std::string& run_dir, const std::string& base, const nlohmann::json& run_identity,
                        size_t n_verify) {
  const std::string pocket = base + ".pocket", report = base + ".export.json";
  const nlohmann::json identity = {{"run", run_identity}, {"verify_queries", n_verify}};
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
  const nlohmann::json res = export_run(request);
  write_file_atomic(report, res.dump(2) + "\n");
  const double wall = seconds_since(t0);
  stamp.finish(identity, wall);
  return {res, wall, stamp.git_rev()};
}

// Each epoch's training loss and validation metrics (the run's train_log.jsonl; empty when the
// model has no training loop).
nlohmann::json training_curve(const std::string& run_dir) {
  nlohmann::json curve = nlohmann::json::array();
  std::ifstream in(run_dir + "/train_log.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (trim(line).empty()) continue;
    const nlohmann::json e = nlohmann::json::parse(line);
    nlohmann::json point = {{"epoch", e["epoch"]}, {"loss", e["loss"]}, {"seconds", e["seconds"]}};
    if (e.contains("valid")) point["valid"] = e["valid"];
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
  if (size.contains("item_table_parameters")) {
    row["table_params"] = size["item_table_parameters"];
    row["table_bytes"] = size["item_table_bytes"];
    row["table"] = size["item_table"];
  }
  if (res["test"].contains("groups"))
    for (const auto& [group, g] : res["test"]["groups"].items()) row["test_groups"][group] = g["metrics"];
  const nlohmann::json curve = training_curve(run_dir);
  if (!curve.empty()) row["curve"] = curve;
  return row;
}

// A suite's run once done: its folder (the selected grid combination's, when it has a grid), that
// stage's identity and results.json, and its row of the suite's results.
struct DoneRun {
  std::string dir;
  nlohmann::json identity, results, row;
};

// The config of one grid combination of `run`: its file, its overrides, the combination's, the
// quick budget's, then where it is written and the folder of its teacher.
Config combination_config(const SuiteRun& run, const std::vector<std::string>& overrides, const std::string& dir,
                          const std::string& teacher_dir) {
  std::vector<std::string> all = overrides;
  all.push_back("--output.dir=" + dir);
  all.push_back("--output.progress=false");
  if (!run.distill_from.empty()) all.push_back("--distill.teacher=" + teacher_dir);
  return Config::load(run.config, all);
}

std::vector<std::string> combination_overrides(const SuiteRun& run, const std::vector<std::string>& combination,
                                               const Suite& suite, bool quick) {
  std::vector<std::string> overrides = run.overrides;
  overrides.insert(overrides.end(), combination.begin(), combination.end());
  if (quick) overrides.insert(overrides.end(), suite.quick.begin(), suite.quick.end());
  return overrides;
}

// Loads every run's every combination before anything is trained, so a bad key in the last run
// costs nothing: errors name the suite file and the run. Every run must share the first one's data,
// split and evaluation, which the page reports once.
void check_suite_configs(const Suite& suite, bool quick) {
  nlohmann::json shared;
  for (size_t i = 0; i < suite.runs.size(); ++i) {
    const SuiteRun& run = suite.runs[i];
    for (const auto& combination : grid_candidates(run)) {
      nlohmann::json resolved;
      try {
        resolved =
            combination_config(run, combination_overrides(run, combination, suite, quick), "check", "check").to_json();
      } catch (const Error& e) {
        PR_FAIL(e.code(), "{}: runs[{}] ('{}'): {}", suite.path, i, run.id, e.what());
      }
      const nlohmann::json evaluated = {{"data", resolved["data"]},
                                        {"split", resolved["split"]},
                                        {"metrics", resolved["eval"]["metrics"]},
                                        {"ks", resolved["eval"]["ks"]},
                                        {"valid_metric", resolved["eval"]["valid_metric"]}};
      if (shared.is_null()) shared = evaluated;
      PR_CHECK(evaluated == shared, ErrorCode::kInvalidArgument,
               "{}: runs[{}] ('{}') has other data, split or evaluation settings than runs[0] ({} vs {})", suite.path,
               i, run.id, evaluated.dump(), shared.dump());
    }
  }
  PR_CHECK(std::system("command -v gnuplot > /dev/null 2>&1") == 0, ErrorCode::kInvalidArgument,
           "repro: gnuplot draws the plots and is not installed (Debian: gnuplot-nox; scripts/setup.sh installs it)");
}

// Trains (or finds done) every grid combination of `run` and keeps the one with the best
// validation metric (the first of equals); the row lists every combination's validation value.
DoneRun run_suite_entry(const SuiteRun& run, const Suite& suite, bool quick, const std::string& runs_dir,
                        const std::map<std::string, DoneRun>& done) {
  const std::vector<std::vector<std::string>> candidates = grid_candidates(run);
  DoneRun best;
  double best_value = 0, wall = 0;
  nlohmann::json grid = nlohmann::json::array();
  for (size_t c = 0; c < candidates.size(); ++c) {
    const std::string dir = runs_dir + "/" + run.id + (candidates.size() > 1 ? "/grid-" + std::to_string(c) : "");
    const std::vector<std::string> overrides = combination_overrides(run, candidates[c], suite, quick);
    const DoneRun* teacher = run.distill_from.empty() ? nullptr : &done.at(run.distill_from);
    const Config config = combination_config(run, overrides, dir, teacher ? teacher->dir : "");
    const nlohmann::json identity = stage_identity(config, teacher ? teacher->identity : nlohmann::json());
    const StageOutcome stage = run_stage(run, config, identity, dir);
    wall += stage.wall_s;
    const std::string metric = config.str("eval.valid_metric");
    const nlohmann::json& valid = stage.results["valid"]["metrics"];
    PR_CHECK(valid.contains(metric), ErrorCode::kBadFormat, "{}/results.json: no validation {}", dir, metric);
    const double value = valid[metric].get<double>();
    if (candidates.size() > 1) grid.push_back({{"set", candidates[c]}, {"valid", {{metric, value}}}});
    if (c == 0 || value > best_value) {
      best = {dir, identity, stage.results, suite_row(run, overrides, stage.results, dir)};
      best.row["git_rev"] = stage.git_rev;
      best_value = value;
    }
  }
  best.row["wall_s"] = wall;
  if (!grid.empty()) best.row["grid"] = grid;
  return best;
}

std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    if (::pclose(p) != 0) out.clear();
  }
  return std::string(trim(out));
}

// The checked-out commit, "+modified" when tracked files outside docs/results (which repro itself
// rewrites) differ from it; "unknown" outside git.
// Asked of git once per process: the code that runs does not change while it runs.
std::string git_revision() {
  static const std::string revision = [] {
    const std::string rev = command_output("git rev-parse HEAD 2>/dev/null");
    if (rev.empty()) return std::string("unknown");
    const std::string changes =
        command_output("git status --porcelain --untracked-files=no -- . ':(exclude)docs/results' 2>/dev/null");
    return changes.empty() ? rev : rev + "+modified";
  }();
  return revision;
}

std::string machine_description() {
  std::string cpu;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; cpu.empty() && std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      cpu = std::string(trim(line.substr(line.find(':') + 1)));
  utsname u{};
  const std::string arch = ::uname(&u) == 0 ? u.machine : "unknown";
  return fmt::format("{}, {}{} CPUs", arch, cpu.empty() ? "" : cpu + ", ", std::thread::hardware_concurrency());
}

}  // namespace

nlohmann::json repro(const ReproRequest& r) {
  const auto t0 = std::chrono::steady_clock::now();
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
  for (const std::string& id : suite.exports) {
    DoneRun& d = done.at(id);
    const StageOutcome stage = run_export(d.dir, runs_dir + "/" + id, d.identity, r.quick ? 200 : 1000);
    wall += stage.wall_s;
    const nlohmann::json& exported = stage.results;
    d.row["file_bytes"] = exported["bytes"];
    if (!exported.contains("verify")) continue;
    const nlohmann::json& v = exported["verify"];
    d.row["query_us"] = v["query_us"];
    d.row["runtime_parity"] = {{"queries", v["queries"]},
                               {"max_abs_score_diff", v["max_abs_score_diff"]},
                               {"top20_identical", v["top20_identical"]}};
  }
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
                        {"rows", rows}};
  if (!suite.query.run.empty()) {
    RecommendRequest q;
    q.model_path = runs_dir + "/" + suite.query.run + ".pocket";
    for (int64_t item : suite.query.history) q.history += std::to_string(item) + " ";
    q.k = static_cast<size_t>(suite.query.k);
    nlohmann::json top = nlohmann::json::array();
    for (const Recommendation& rec : recommend_items(q)) top.push_back({{"item", rec.item}, {"score", rec.score}});
    out["query"] = {{"run", suite.query.run}, {"file", q.model_path}, {"history", suite.query.history}, {"top", top}};
  }
  write_suite_pages(out, out_dir);
  log_info("repro: {} done in {:.0f} s (all stages: {:.0f} s); wrote {}", suite.name, seconds_since(t0), wall, out_dir);
  return out;
}

}  // namespace pocketrec::app
