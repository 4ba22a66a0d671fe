#include "app/results.h"

#include <fmt/format.h>

#include "app/fit.h"
#include "models/session_encoder.h"

namespace pocketrec::app {

nlohmann::json model_size_json(const models::ModelInstance& m) {
  nlohmann::json j = {{"parameters", m->n_parameters()}, {"fp32_bytes", 4 * m->n_parameters()}};
  if (m.session_encoder != nullptr) {
    const models::ItemTableSize t = m.session_encoder->item_table_size();
    j["item_table_parameters"] = t.parameters;
    j["item_table_code_bytes"] = t.code_bytes;
    j["item_table_bytes"] = t.bytes();
    j["item_table"] = t.description;
  }
  return j;
}

nlohmann::json run_results(const RunSettings& s, const data::Dataset& d, const models::ModelInstance& m,
                           const nlohmann::json& fit, const eval::EvalResult& valid, const eval::EvalResult& test,
                           const nlohmann::json& extra) {
  nlohmann::json res = extra;
  res["model"] = m.name;
  res["dataset"] = d.name;
  res["data_path"] = s.data.path;
  res["n_parameters"] = m->n_parameters();
  res["n_users"] = d.n_users;
  res["n_items"] = d.n_items;
  if (!res.contains("size")) res["size"] = model_size_json(m);
  res["fit"] = fit;
  res["valid"] = split_json(valid);
  res["test"] = split_json(test);
  res["config"] = s.config.to_json();
  return res;
}

std::string metrics_table(const std::vector<std::pair<std::string, nlohmann::json>>& rows,
                          std::vector<std::string> columns) {
  if (rows.empty()) return "";
  if (columns.empty())
    for (auto it = rows[0].second.begin(); it != rows[0].second.end(); ++it) columns.push_back(it.key());
  std::string md = "| |";
  std::string sep = "|---|";
  for (const auto& c : columns) md += " " + c + " |", sep += "---|";
  md += "\n" + sep + "\n";
  for (const auto& [label, metrics] : rows) {
    md += "| " + label + " |";
    for (const auto& c : columns)
      md += metrics.contains(c) ? fmt::format(" {:.4f} |", metrics[c].get<double>()) : std::string(" – |");
    md += "\n";
  }
  return md;
}

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

std::vector<std::string> metric_columns(const nlohmann::json& config_json) {
  const Config c = Config::from_json(config_json, "results.json config");
  std::vector<std::string> cols;
  for (const auto& m : eval::make_metric_specs(c.strings("eval.metrics"), c.integers("eval.ks")))
    cols.push_back(m.name());
  return cols;
}

std::string protocol_note(const nlohmann::json& split) {
  return split.value("protocol", "") == "sampled" ? " (sampled metrics)" : "";
}

std::string run_summary_text(const nlohmann::json& res) {
  if (res.contains("worker_rank"))
    return fmt::format("rank {} of {}: trained (rank 0 validates, evaluates and writes the run)\n",
                       res["worker_rank"].get<int64_t>(), res["world_size"].get<int64_t>());
  std::string out;
  const nlohmann::json& size = res["size"];
  if (res.contains("method")) {
    out += fmt::format("\n{} distilled from {} ({}): validation-selected, test read once{}\n",
                       res["model"].get<std::string>(), res["teacher"].get<std::string>(),
                       res["method"].get<std::string>(), protocol_note(res["test"]));
    if (size.contains("item_table_compression"))
      out += fmt::format("item table: {} parameters vs the teacher's {} ({:.2f}x smaller); ",
                         size["student"]["item_table_parameters"].get<int64_t>(),
                         size["teacher"]["item_table_parameters"].get<int64_t>(),
                         size["item_table_compression"].get<double>());
    out += fmt::format("whole model: {} parameters vs the teacher's {} ({:.2f}x smaller)\n\n",
                       size["student"]["parameters"].get<int64_t>(), size["teacher"]["parameters"].get<int64_t>(),
                       size["model_compression"].get<double>());
  } else {
    out += fmt::format("\n{} on {} ({} parameters): validation-selected, test read once{}\n\n",
                       res["model"].get<std::string>(), res["dataset"].get<std::string>(),
                       res["n_parameters"].get<int64_t>(), protocol_note(res["test"]));
  }
  return out + metrics_table(split_rows(res, {"valid", "test"}), metric_columns(res["config"]));
}

}  // namespace pocketrec::app
