#include <fmt/format.h>

#include "app/fit.h"
#include "app/run_directory.h"
#include "app/workflows.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "models/session_encoder.h"
#include "models/torch_model.h"

namespace pocketrec::app {
namespace {

// HR@20, MRR@20 and the repeat / new HR@20 of a split's results.
nlohmann::json probe_metrics(const eval::EvalResult& r) {
  nlohmann::json j = {{"hr@20", r.get("hr@20")}, {"mrr@20", r.get("mrr@20")}, {"n_queries", r.n_queries}};
  for (const auto& g : r.groups)
    for (size_t i = 0; i < r.metrics.size(); ++i)
      if (r.metrics[i].name() == "hr@20") j["hr@20_" + g.name] = g.values[i];
  return j;
}

nlohmann::json probe_row(const models::ModelInstance& m, const data::Dataset& d, const EvalSettings& eval) {
  return {{"valid", probe_metrics(evaluate_split(*m, d, eval, "valid"))},
          {"test", probe_metrics(evaluate_split(*m, d, eval, "test"))}};
}

}  // namespace

nlohmann::json pq_probe(const PqProbeRequest& r) {
  RunSettings s = run_settings(read_run_config(r.run_dir));
  setup_process(s.process);
  s.eval.repeat_split = true;
  s.eval.popularity_split = 0;
  s.eval.options.metrics = eval::make_metric_specs({"hr", "mrr"}, {20});
  const data::Dataset d = data::build_dataset(s.data, s.split);
  models::ModelInstance teacher = load_run_model(r.run_dir, s, d, selected_model_file(r.run_dir, s));
  PR_CHECK(teacher.session_encoder != nullptr, ErrorCode::kInvalidArgument,
           "pq-probe: {} holds a {} model; the probe replaces a SASRec teacher's item table", r.run_dir, teacher.name);
  const models::ItemTableSize dense = teacher.session_encoder->item_table_size();
  nlohmann::json rows = nlohmann::json::array();
  nlohmann::json row = {{"table", "teacher (dense)"}, {"table_bytes", dense.bytes()}, {"ratio", 1.0}};
  row.update(probe_row(teacher, d, s.eval));
  rows.push_back(row);
  for (int64_t M : r.subspaces)
    for (bool rotation : r.rotations) {
      models::ModelOptions o = s.model;
      o.sasrec.table.kind = models::ItemTableKind::kPq;
      o.sasrec.table.pq.subspaces = M;
      o.sasrec.table.pq.codewords = r.codewords;
      o.sasrec.table.pq.codes = models::PqCodeSource::kTeacher;
      o.sasrec.table.pq.rotation = rotation;
      models::ModelInstance probe = create_model(o, d);
      models::copy_weights_outside_item_table(teacher.session_encoder->encoder_module(),
                                              probe.session_encoder->encoder_module());
      probe.session_encoder->init_item_table_from(*teacher.session_encoder, s.train.seed);
      const models::ItemTableSize size = probe.session_encoder->item_table_size();
      nlohmann::json pr = {{"table", size.description},
                           {"subspaces", M},
                           {"rotation", rotation},
                           {"table_bytes", size.bytes()},
                           {"ratio", static_cast<double>(dense.bytes()) / static_cast<double>(size.bytes())}};
      pr.update(probe_row(probe, d, s.eval));
      log_info("pq-probe: {}: test HR@20 {:.4f}, MRR@20 {:.4f}", size.description, pr["test"]["hr@20"].get<double>(),
               pr["test"]["mrr@20"].get<double>());
      rows.push_back(pr);
    }
  nlohmann::json out = {{"teacher", r.run_dir}, {"dataset", d.name}, {"codewords", r.codewords}, {"rows", rows}};
  write_file_atomic(r.run_dir + "/pq_probe.json", out.dump(2) + "\n");
  return out;
}

std::string pq_probe_table(const nlohmann::json& probe) {
  std::string md =
      "| item table | bytes | smaller | valid HR@20 | valid MRR@20 | test HR@20 | test MRR@20 | test HR@20 new | test "
      "HR@20 repeat |\n|---|---|---|---|---|---|---|---|---|\n";
  auto pct = [](const nlohmann::json& j, const char* k) {
    return j.contains(k) ? fmt::format("{:.2f}", 100 * j[k].get<double>()) : std::string("–");
  };
  for (const auto& r : probe["rows"])
    md += fmt::format("| {} | {} | {:.1f}x | {} | {} | {} | {} | {} | {} |\n", r["table"].get<std::string>(),
                      r["table_bytes"].get<int64_t>(), r["ratio"].get<double>(), pct(r["valid"], "hr@20"),
                      pct(r["valid"], "mrr@20"), pct(r["test"], "hr@20"), pct(r["test"], "mrr@20"),
                      pct(r["test"], "hr@20_new"), pct(r["test"], "hr@20_repeat"));
  return md;
}

}  // namespace pocketrec::app
