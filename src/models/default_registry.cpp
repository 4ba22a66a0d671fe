#include "models/torch_models.h"

namespace pocketrec::models {

ModelRegistry default_model_registry() {
  ModelRegistry r;
  register_baseline_models(r);
  register_torch_models(r);
  return r;
}

}  // namespace pocketrec::models
