// Registration of the LibTorch models (defined in their own translation units, so this header,
// and every file that includes it, stays free of <torch/torch.h>).
#pragma once

#include "models/recommender.h"

namespace pocketrec::models {

// Adds bpr, caser, fossil and sasrec (each defined in its own .cpp).
void register_torch_models(ModelRegistry& registry);
void register_bpr(ModelRegistry& registry);
void register_caser(ModelRegistry& registry);
void register_fossil(ModelRegistry& registry);
void register_sasrec(ModelRegistry& registry);

// Every model: the baselines and the LibTorch ones.
ModelRegistry default_model_registry();

}  // namespace pocketrec::models
