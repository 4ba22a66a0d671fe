#include <cstdio>

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

}  // namespace

int cmd_train(const std::string& config_path, const std::vector<std::string>& overrides) {
  nlohmann::json res = train_and_evaluate(Config::load(config_path, overrides));
  auto cols = metric_columns(res["config"]);
  std::printf("\n%s on %s (%lld parameters): validation-selected, test read once%s\n\n",
              res["model"].get<std::string>().c_str(), res["dataset"].get<std::string>().c_str(),
              static_cast<long long>(res["n_parameters"].get<int64_t>()), protocol_note(res["test"]).c_str());
  std::printf("%s", metrics_table({{"valid", res["valid"]["metrics"]}, {"test", res["test"]["metrics"]}}, cols).c_str());
  return 0;
}

int cmd_distill(const std::string& config_path, const std::vector<std::string>& overrides) {
  nlohmann::json res = distill_and_evaluate(Config::load(config_path, overrides));
  auto cols = metric_columns(res["config"]);
  const auto& size = res["size"];
  std::printf("\n%s distilled from %s (%s): validation-selected, test read once%s\n",
              res["model"].get<std::string>().c_str(), res["teacher"].get<std::string>().c_str(),
              res["method"].get<std::string>().c_str(), protocol_note(res["test"]).c_str());
  std::printf("item table: %lld parameters vs the teacher's %lld (%.2fx smaller); whole model: %lld vs %lld "
              "(%.2fx)\n\n",
              static_cast<long long>(size["student"]["item_table_parameters"].get<int64_t>()),
              static_cast<long long>(size["teacher"]["item_table_parameters"].get<int64_t>()),
              size["item_table_compression"].get<double>(),
              static_cast<long long>(size["student"]["parameters"].get<int64_t>()),
              static_cast<long long>(size["teacher"]["parameters"].get<int64_t>()), size["model_compression"].get<double>());
  std::printf("%s", metrics_table({{"valid", res["valid"]["metrics"]}, {"test", res["test"]["metrics"]}}, cols).c_str());
  return 0;
}

int cmd_eval(const std::string& run_dir, const std::string& split, const std::string& weights,
             const std::vector<std::string>& overrides) {
  nlohmann::json res = evaluate_run(run_dir, split, weights, overrides);
  std::printf("%s", metrics_table({{split, res[split]["metrics"]}}, metric_columns(res["config"])).c_str());
  return 0;
}

int cmd_report(const std::vector<std::string>& run_dirs, const std::string& split, const std::string& metrics,
               const std::string& best_by) {
  std::vector<std::pair<std::string, nlohmann::json>> rows;
  std::vector<std::string> cols;
  if (!metrics.empty())
    for (const auto& m : pocketrec::split(metrics, ',')) cols.push_back(std::string(trim(m)));
  size_t best = 0;
  double best_value = -1;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    const std::string path = run_dirs[i] + "/results.json";
    nlohmann::json r = nlohmann::json::parse(read_file(path), nullptr, false);
    PR_CHECK(!r.is_discarded() && r.contains(split), ErrorCode::kBadFormat, "{}: not a PocketRec results file", path);
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

}  // namespace pocketrec::cli
