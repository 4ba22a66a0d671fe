#include "models/recommender.h"

#include "models/itemcf.h"
#include "models/pop.h"

namespace pocketrec::models {

void register_baseline_models(ModelRegistry& registry) {
  registry.add({"pop", "Most popular items by training frequency (non-personalised baseline).",
                [](const ModelOptions&, const data::Dataset& d) {
                  return instance_of("pop", std::make_unique<PopularityModel>(d.n_items));
                }});
  registry.add({"itemcf",
                "Item-based CF: cosine similarity of item co-occurrence over users/sessions, summed over "
                "the query's history (Sarwar et al., WWW'01).",
                [](const ModelOptions& o, const data::Dataset& d) {
                  return instance_of("itemcf", std::make_unique<ItemCFModel>(o.itemcf, d.n_items));
                }});
}

}  // namespace pocketrec::models
