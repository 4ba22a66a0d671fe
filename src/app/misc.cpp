#include <pocketrec/pocketrec.h>

#include "app/workflows.h"
#include "core/error.h"
#include "data/stats.h"
#include "distill/method.h"
#include "export/exporter.h"
#include "models/torch_models.h"

namespace pocketrec::app {
namespace {

template <typename Registry>
std::string table_of(const Registry& registry, const char* kind) {
  std::string md = fmt::format("| {} | description |\n|---|---|\n", kind);
  for (const auto& e : registry.all()) md += fmt::format("| {} | {} |\n", e.name, e.description);
  return md;
}

}  // namespace

std::string data_stats(const std::string& path, const std::string& format, const std::string& columns) {
  return data::compute_stats(path, format, columns).to_markdown();
}

std::string list_components(const std::string& kind) {
  if (kind == "models") return table_of(models::default_model_registry(), "model");
  if (kind == "methods") return table_of(distill::default_distill_methods(), "method");
  if (kind == "exporters") return table_of(exporter::default_exporters(), "model");
  PR_FAIL(ErrorCode::kInvalidArgument, "list: expected models, methods or exporters, got '{}'", kind);
}

std::string config_reference() {
  return config_reference_markdown();
}

std::string version() {
  return pocketrec_version();
}

}  // namespace pocketrec::app
