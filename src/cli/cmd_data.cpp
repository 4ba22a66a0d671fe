#include <cstdio>

#include "cli/commands.h"
#include "core/config.h"
#include "data/stats.h"
#include "models/torch_models.h"

namespace pocketrec::cli {

int cmd_data_stats(const std::string& path, const std::string& format, const std::string& columns) {
  data::DataStats s = data::compute_stats(path, format, columns);
  std::printf("%s", s.to_markdown().c_str());
  return 0;
}

int cmd_list_models() {
  std::printf("| model | description |\n|---|---|\n");
  const models::ModelRegistry registry = models::default_model_registry();
  for (const auto& m : registry.all())
    std::printf("| %s | %s |\n", m.name.c_str(), m.description.c_str());
  return 0;
}

int cmd_help_config() {
  std::printf("%s", config_reference_markdown().c_str());
  return 0;
}

}  // namespace pocketrec::cli
