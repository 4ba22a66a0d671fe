#include "models/torch_models.h"

namespace pocketrec::models {

void register_torch_models(ModelRegistry& registry) {
  register_bpr(registry);
  register_caser(registry);
  register_fossil(registry);
  register_sasrec(registry);
}

ModelRegistry default_model_registry() {
  ModelRegistry r = empty_model_registry();
  register_baseline_models(r);
  register_torch_models(r);
  return r;
}

}  // namespace pocketrec::models
