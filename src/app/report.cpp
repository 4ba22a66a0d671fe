#include <cctype>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "app/results.h"
#include "app/run_directory.h"
#include "app/workflows.h"
#include "core/error.h"
#include "core/text.h"

namespace pocketrec::app {
namespace {

// "0.0970" for one run, "0.0968 ± 0.0012" (sample standard deviation) for several.
std::string mean_std(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  if (v.size() < 2) return fmt::format("{:.4f}", mean);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return fmt::format("{:.4f} ± {:.4f}", mean, std::sqrt(ss / static_cast<double>(v.size() - 1)));
}

// Microseconds per query of each run directory, from bench_query_latency's JSON output.
nlohmann::json read_latencies(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(read_file(path), nullptr, false);
  PR_CHECK(!j.is_discarded() && j.contains("us_per_query"), ErrorCode::kBadFormat,
           "{}: not a bench_query_latency result (no us_per_query)", path);
  return j["us_per_query"];
}

struct RowCost {
  double params = 0, bytes = 0, us = 0;
};

}  // namespace

std::string report(const ReportRequest& r) {
  std::vector<std::pair<std::string, nlohmann::json>> rows;
  std::vector<std::string> cols = r.metrics;
  size_t best = 0;
  double best_value = -1;
  for (size_t i = 0; i < r.run_dirs.size(); ++i) {
    const nlohmann::json res = read_results(r.run_dirs[i], r.split);
    if (cols.empty()) cols = metric_columns(res["config"]);
    std::string label = res["model"].get<std::string>() + protocol_note(res[r.split]);
    nlohmann::json m = res[r.split]["metrics"];
    if (!r.best_by.empty()) {
      // Model selection reads validation only; the reported columns stay those of the split.
      PR_CHECK(res["valid"]["metrics"].contains(r.best_by), ErrorCode::kInvalidArgument,
               "--best-by: {}/results.json has no validation metric '{}'", r.run_dirs[i], r.best_by);
      const double v = res["valid"]["metrics"][r.best_by].get<double>();
      m["valid " + r.best_by] = v;
      label = r.run_dirs[i];
      if (v > best_value) best_value = v, best = i;
    }
    rows.emplace_back(label, m);
  }
  if (!r.best_by.empty()) cols.insert(cols.begin(), "valid " + r.best_by);
  std::string out = metrics_table(rows, cols);
  if (!r.best_by.empty())
    out += fmt::format("\nselected on validation {}: {} ({:.4f})\n", r.best_by, r.run_dirs[best], best_value);
  return out;
}

std::string distill_report(const DistillReportRequest& r) {
  const nlohmann::json t = read_results(r.teacher, r.split);
  std::string name = t["model"].get<std::string>();
  name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  const std::vector<std::pair<std::string, std::vector<std::string>>> groups = {
      {name + "-T", {r.teacher}}, {name + "-RD", r.rd}, {name + "-S", r.student}};
  const nlohmann::json latencies = r.latency_json.empty() ? nlohmann::json() : read_latencies(r.latency_json);
  const bool timed = !latencies.is_null();
  std::string md = "| model | runs |", sep = "|---|---|";
  for (const auto& c : r.metrics) md += " " + c + " |", sep += "---|";
  md += " #params | params / T | model bytes / T |";
  sep += "---|---|---|";
  if (timed) md += " µs per query (1 thread) | time / T |", sep += "---|---|";
  md += "\n" + sep + "\n";
  RowCost teacher_cost;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& [label, dirs] = groups[g];
    if (dirs.empty()) continue;
    std::vector<std::vector<double>> vals(r.metrics.size());
    RowCost cost;
    const double n = static_cast<double>(dirs.size());
    for (const auto& dir : dirs) {
      const nlohmann::json res = read_results(dir, r.split);
      PR_CHECK(res["dataset"] == t["dataset"], ErrorCode::kInvalidArgument,
               "{}: data set {} differs from the teacher's {}", dir, res["dataset"].dump(), t["dataset"].dump());
      for (size_t c = 0; c < r.metrics.size(); ++c) {
        PR_CHECK(res[r.split]["metrics"].contains(r.metrics[c]), ErrorCode::kInvalidArgument,
                 "--metrics: {} has no {} metric '{}'", dir, r.split, r.metrics[c]);
        vals[c].push_back(res[r.split]["metrics"][r.metrics[c]].get<double>());
      }
      cost.params += static_cast<double>(res["n_parameters"].get<int64_t>()) / n;
      cost.bytes += static_cast<double>(std::filesystem::file_size(dir + "/model.prarr")) / n;
      if (timed) {
        PR_CHECK(latencies.contains(dir), ErrorCode::kInvalidArgument, "--latency {}: no time for {}", r.latency_json,
                 dir);
        cost.us += latencies[dir].get<double>() / n;
      }
    }
    if (g == 0) teacher_cost = cost;
    md += "| " + label + " | " + std::to_string(dirs.size()) + " |";
    for (const auto& v : vals) md += " " + mean_std(v) + " |";
    md += fmt::format(" {:.0f} | {:.1f}% | {:.1f}% |", cost.params, 100 * cost.params / teacher_cost.params,
                      100 * cost.bytes / teacher_cost.bytes);
    if (timed) md += fmt::format(" {:.1f} | {:.2f} |", cost.us, cost.us / teacher_cost.us);
    md += "\n";
  }
  return fmt::format("{} on {}, {} split (mean ± std over the runs of a row)\n\n{}", name,
                     t["dataset"].get<std::string>(), r.split, md);
}

}  // namespace pocketrec::app
