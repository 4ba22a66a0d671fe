// Helpers shared by the LibTorch tests.
#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "core/config.h"
#include "models/torch_models.h"
#include "models/torch_recommender.h"

namespace pocketrec::testing {

// The config's model (model.name), which must be a LibTorch one.
inline std::unique_ptr<models::TorchRecommender> make_torch_model(const Config& c, const data::Dataset& d) {
  auto m = models::default_model_registry().get(c.str("model.name")).create(c, d);
  auto* t = dynamic_cast<models::TorchRecommender*>(m.get());
  EXPECT_NE(t, nullptr) << c.str("model.name") << " is not a LibTorch model";
  m.release();
  return std::unique_ptr<models::TorchRecommender>(t);
}

}  // namespace pocketrec::testing
