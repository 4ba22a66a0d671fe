#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/run_context.h"
#include "core/config.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/text.h"
#include "eval/metrics.h"

namespace pocketrec::cli {
namespace {

// Metric names in the order the config lists them (metric family, then k).
std::vector<std::string> metric_columns(const nlohmann::json& config_json) {
  Config c = Config::from_json(config_json, "results.json config");
  std::vector<std::string> cols;
  for (const auto& m : eval::make_metric_specs(c.strings("eval.metrics"), c.integers("eval.ks"))) cols.push_back(m.name());
  return cols;
}

std::string protocol_note(const nlohmann::json& split) {
  return split.value("protocol", "") == "sampled" ? " (sampled metrics)" : "";
}

// A run's results.json, which must hold `split`.
nlohmann::json read_results(const std::string& run_dir, const std::string& split) {
  const std::string path = run_dir + "/results.json";
  nlohmann::json r = nlohmann::json::parse(read_file(path), nullptr, false);
  PR_CHECK(!r.is_discarded() && r.contains(split), ErrorCode::kBadFormat, "{}: not a PocketRec results file", path);
  return r;
}

// "a, b ,c" -> {"a", "b", "c"}.
std::vector<std::string> metric_list(const std::string& metrics) {
  std::vector<std::string> cols;
  for (const auto& m : pocketrec::split(metrics, ',')) cols.push_back(std::string(trim(m)));
  return cols;
}

// Table rows of these splits of a results object, each followed by its breakdown groups
// (eval.popularity_split, eval.repeat_split).
std::vector<std::pair<std::string, nlohmann::json>> split_rows(const nlohmann::json& res,
                                                               const std::vector<std::string>& splits) {
  std::vector<std::pair<std::string, nlohmann::json>> rows;
  for (const auto& split : splits) {
    rows.emplace_back(split, res[split]["metrics"]);
    if (res[split].contains("groups"))
      for (const auto& [name, g] : res[split]["groups"].items())
        rows.emplace_back(fmt::format("{}, {} targets ({} queries)", split, name, g["n_queries"].get<int64_t>()),
                          g["metrics"]);
  }
  return rows;
}

}  // namespace

int cmd_train(const std::string& config_path, const std::vector<std::string>& overrides) {
  nlohmann::json res = train_and_evaluate(Config::load(config_path, overrides));
  auto cols = metric_columns(res["config"]);
  std::printf("\n%s on %s (%lld parameters): validation-selected, test read once%s\n\n",
              res["model"].get<std::string>().c_str(), res["dataset"].get<std::string>().c_str(),
              static_cast<long long>(res["n_parameters"].get<int64_t>()), protocol_note(res["test"]).c_str());
  std::printf("%s", metrics_table(split_rows(res, {"valid", "test"}), cols).c_str());
  return 0;
}

int cmd_distill(const std::string& config_path, const std::vector<std::string>& overrides) {
  nlohmann::json res = distill_and_evaluate(Config::load(config_path, overrides));
  auto cols = metric_columns(res["config"]);
  const auto& size = res["size"];
  std::printf("\n%s distilled from %s (%s): validation-selected, test read once%s\n",
              res["model"].get<std::string>().c_str(), res["teacher"].get<std::string>().c_str(),
              res["method"].get<std::string>().c_str(), protocol_note(res["test"]).c_str());
  if (size.contains("item_table_compression"))
    std::printf("item table: %lld parameters vs the teacher's %lld (%.2fx smaller); ",
                static_cast<long long>(size["student"]["item_table_parameters"].get<int64_t>()),
                static_cast<long long>(size["teacher"]["item_table_parameters"].get<int64_t>()),
                size["item_table_compression"].get<double>());
  std::printf("whole model: %lld parameters vs the teacher's %lld (%.2fx smaller)\n\n",
              static_cast<long long>(size["student"]["parameters"].get<int64_t>()),
              static_cast<long long>(size["teacher"]["parameters"].get<int64_t>()), size["model_compression"].get<double>());
  std::printf("%s", metrics_table(split_rows(res, {"valid", "test"}), cols).c_str());
  return 0;
}

int cmd_eval(const std::string& run_dir, const std::string& split, const std::string& weights,
             const std::vector<std::string>& overrides) {
  nlohmann::json res = evaluate_run(run_dir, split, weights, overrides);
  std::printf("%s", metrics_table(split_rows(res, {split}), metric_columns(res["config"])).c_str());
  return 0;
}

int cmd_report(const std::vector<std::string>& run_dirs, const std::string& split, const std::string& metrics,
               const std::string& best_by) {
  std::vector<std::pair<std::string, nlohmann::json>> rows;
  std::vector<std::string> cols = metrics.empty() ? std::vector<std::string>() : metric_list(metrics);
  size_t best = 0;
  double best_value = -1;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    const std::string path = run_dirs[i] + "/results.json";
    nlohmann::json r = read_results(run_dirs[i], split);
    if (cols.empty()) cols = metric_columns(r["config"]);
    std::string label = r["model"].get<std::string>() + protocol_note(r[split]);
    nlohmann::json m = r[split]["metrics"];
    if (!best_by.empty()) {
      // Model selection reads validation only; the reported columns stay those of --split.
      PR_CHECK(r["valid"]["metrics"].contains(best_by), ErrorCode::kInvalidArgument,
               "--best-by: {} has no validation metric '{}'", path, best_by);
      double v = r["valid"]["metrics"][best_by].get<double>();
      m["valid " + best_by] = v;
      label = run_dirs[i];
      if (v > best_value) best_value = v, best = i;
    }
    rows.emplace_back(label, m);
  }
  if (!best_by.empty()) cols.insert(cols.begin(), "valid " + best_by);
  std::printf("%s", metrics_table(rows, cols).c_str());
  if (!best_by.empty())
    std::printf("\nselected on validation %s: %s (%.4f)\n", best_by.c_str(), run_dirs[best].c_str(), best_value);
  return 0;
}

namespace {

struct RunGroup {
  std::string label;
  std::vector<std::string> dirs;
};

// "0.0970" for one run, "0.0968 ± 0.0012" (sample standard deviation) for several.
std::string mean_std(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  if (v.size() < 2) return fmt::format("{:.4f}", mean);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return fmt::format("{:.4f} ± {:.4f}", mean, std::sqrt(ss / static_cast<double>(v.size() - 1)));
}

}  // namespace

int cmd_distill_report(const std::string& teacher, const std::vector<std::string>& rd,
                       const std::vector<std::string>& student, const std::string& split, const std::string& metrics,
                       size_t time_queries) {
  const std::vector<std::string> cols = metric_list(metrics);
  const nlohmann::json t = read_results(teacher, split);
  std::string name = t["model"].get<std::string>();
  name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  const std::vector<RunGroup> groups = {{name + "-T", {teacher}}, {name + "-RD", rd}, {name + "-S", student}};
  // Model size and online time per query (measured here, 1 thread).
  struct Cost {
    double params = 0, bytes = 0, us = 0;
  };
  std::vector<Cost> cost(groups.size());
  // Every run timed side by side in one call (rounds over all of them), before the table is built.
  std::vector<std::string> all_runs;
  for (const auto& grp : groups) all_runs.insert(all_runs.end(), grp.dirs.begin(), grp.dirs.end());
  const std::vector<double> us = time_queries > 0 ? query_latencies_us(all_runs, time_queries) : std::vector<double>();
  size_t run_index = 0;
  std::string md = "| model | runs |";
  std::string sep = "|---|---|";
  for (const auto& c : cols) md += " " + c + " |", sep += "---|";
  md += " #params | params / T | model bytes / T |";
  sep += "---|---|---|";
  if (time_queries > 0) md += " µs per query (1 thread) | time / T |", sep += "---|---|";
  md += "\n" + sep + "\n";
  for (size_t g = 0; g < groups.size(); ++g) {
    const RunGroup& grp = groups[g];
    if (grp.dirs.empty()) continue;
    std::vector<std::vector<double>> vals(cols.size());
    for (const auto& dir : grp.dirs) {
      nlohmann::json r = read_results(dir, split);
      PR_CHECK(r["dataset"] == t["dataset"], ErrorCode::kInvalidArgument, "{}: data set {} differs from the teacher's {}",
               dir, r["dataset"].dump(), t["dataset"].dump());
      for (size_t c = 0; c < cols.size(); ++c) {
        PR_CHECK(r[split]["metrics"].contains(cols[c]), ErrorCode::kInvalidArgument, "--metrics: {} has no {} metric '{}'",
                 dir, split, cols[c]);
        vals[c].push_back(r[split]["metrics"][cols[c]].get<double>());
      }
      const double n = static_cast<double>(grp.dirs.size());
      cost[g].params += static_cast<double>(r["n_parameters"].get<int64_t>()) / n;
      cost[g].bytes += static_cast<double>(std::filesystem::file_size(dir + "/model.prarr")) / n;
      if (time_queries > 0) cost[g].us += us[run_index] / n;
      ++run_index;
    }
    md += "| " + grp.label + " | " + std::to_string(grp.dirs.size()) + " |";
    for (const auto& v : vals) md += " " + mean_std(v) + " |";
    md += fmt::format(" {:.0f} | {:.1f}% | {:.1f}% |", cost[g].params, 100 * cost[g].params / cost[0].params,
                      100 * cost[g].bytes / cost[0].bytes);
    if (time_queries > 0) md += fmt::format(" {:.1f} | {:.2f} |", cost[g].us, cost[g].us / cost[0].us);
    md += "\n";
  }
  std::printf("%s on %s, %s split (mean ± std over the runs of a row)\n\n%s", name.c_str(),
              t["dataset"].get<std::string>().c_str(), split.c_str(), md.c_str());
  return 0;
}

}  // namespace pocketrec::cli
