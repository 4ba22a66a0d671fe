#include "models/recommender.h"

#include "core/error.h"
#include "core/text.h"
#include "models/itemcf.h"
#include "models/pop.h"

namespace pocketrec::models {

void ModelRegistry::add(ModelInfo info) {
  for (const auto& m : models_) PR_ASSERT(m.name != info.name, "model '{}' registered twice", info.name);
  models_.push_back(std::move(info));
}

const ModelInfo& ModelRegistry::get(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& m : models_) {
    if (m.name == name) return m;
    names.push_back(m.name);
  }
  auto hint = did_you_mean(name, names);
  PR_FAIL(ErrorCode::kInvalidArgument, "model.name: unknown model '{}'{}", name,
          hint ? fmt::format(" (did you mean '{}'?)", *hint) : std::string(" (see `pocketrec list models`)"));
}

void register_baseline_models(ModelRegistry& registry) {
  registry.add({"pop", "Most popular items by training frequency (non-personalised baseline).",
                [](const Config&, const data::Dataset& d) { return std::make_unique<PopularityModel>(d.n_items); }});
  registry.add({"itemcf", "Item-based CF: cosine similarity of item co-occurrence over users/sessions, summed over "
                          "the query's history (Sarwar et al., WWW'01).",
                [](const Config& c, const data::Dataset& d) { return std::make_unique<ItemCFModel>(c, d.n_items); }});
}

}  // namespace pocketrec::models
