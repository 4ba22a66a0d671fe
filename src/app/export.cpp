#include <filesystem>

#include "app/fit.h"
#include "app/results.h"
#include "app/run_directory.h"
#include "app/workflows.h"
#include "core/log.h"
#include "core/text.h"
#include "export/exporter.h"
#include "export/verify.h"

namespace pocketrec::app {

nlohmann::json export_run(const ExportRequest& r) {
  const exporter::WeightType type = exporter::parse_weight_type(r.weight_type);
  const RunSettings s = run_settings(read_run_config(r.run_dir));
  setup_process(s.process);
  const data::Dataset d = data::build_dataset(s.data, s.split);
  const models::ModelInstance model = load_run_model(r.run_dir, s, d, r.weights);
  const exporter::ExporterRegistry exporters = exporter::default_exporters();
  PR_CHECK(exporters.contains(model.name), ErrorCode::kInvalidArgument,
           "export: {} models are not supported by the runtime (sasrec, caser, fossil)", model.name);
  nlohmann::json provenance = {{"run", r.run_dir},
                               {"weights", r.weights.empty() ? r.run_dir + "/model.prarr" : r.weights},
                               {"config", s.config.to_json()}};
  const std::string results_path = r.run_dir + "/results.json";
  if (std::filesystem::exists(results_path))
    provenance["valid"] = nlohmann::json::parse(read_file(results_path))["valid"]["metrics"];
  if (s.refit && r.weights.empty()) provenance["refit"] = true;  // valid is the selected model's
  exporters.get(model.name).write(model, d, provenance, type).save(r.out_path);
  const auto file_bytes = std::filesystem::file_size(r.out_path);
  nlohmann::json res = {{"path", r.out_path},
                        {"bytes", file_bytes},
                        {"weight_type", r.weight_type},
                        {"parameters", model->n_parameters()}};
  const nlohmann::json size = model_size_json(model);
  for (const char* key : {"item_table_parameters", "item_table_bytes"})
    if (size.contains(key)) res[key] = size[key];
  log_info("export: wrote {} ({} bytes, {} parameters, {} weights)", r.out_path, file_bytes, model->n_parameters(),
           r.weight_type);
  if (r.n_verify > 0 && d.test.size() > 0) res["verify"] = exporter::verify_pocket(*model, d, r.out_path, r.n_verify);
  return res;
}

}  // namespace pocketrec::app
