// POP and ItemCF on hand-made data with scores computed by hand; registry errors.
#include <gtest/gtest.h>

#include <cmath>

#include "core/config.h"
#include "core/error.h"
#include "models/itemcf.h"
#include "models/pop.h"
#include "test_util.h"

using namespace pocketrec;
using namespace pocketrec::models;

namespace {
data::Dataset tiny() {
  // 3 users, 4 items. user0: 0 1 2, user1: 0 1, user2: 1 3 1
  data::Dataset d;
  d.n_users = 3;
  d.n_items = 4;
  d.train.append(std::vector<int32_t>{0, 1, 2});
  d.train.append(std::vector<int32_t>{0, 1});
  d.train.append(std::vector<int32_t>{1, 3, 1});
  return d;
}
}  // namespace

TEST(Pop, CountsTrainingOccurrences) {
  data::Dataset d = tiny();
  Config c;
  PopularityModel m(d.n_items);
  m.fit(d);
  EXPECT_EQ(m.counts(), (std::vector<float>{2, 4, 1, 1}));
  pocketrec::testing::TempDir t;
  m.save(t.path() + "/m");
  PopularityModel back(d.n_items);
  back.load(t.path() + "/m");
  EXPECT_EQ(back.counts(), m.counts());
  PopularityModel wrong(5);
  EXPECT_THROW(wrong.load(t.path() + "/m"), Error);
}

TEST(ItemCF, CosineOfCooccurrenceAndHistoryScores) {
  data::Dataset d = tiny();
  Config c;
  ItemCFModel m(models::ItemCfOptions{}, d.n_items);
  m.fit(d);
  // Users per item (binary): 0:{0,1} 1:{0,1,2} 2:{0} 3:{2}
  EXPECT_NEAR(m.similarity(0, 1), 2.0 / std::sqrt(2.0 * 3.0), 1e-6);
  EXPECT_NEAR(m.similarity(1, 3), 1.0 / std::sqrt(3.0 * 1.0), 1e-6);
  EXPECT_NEAR(m.similarity(0, 2), 1.0 / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(m.similarity(0, 3), 0.0f);
  EXPECT_EQ(m.similarity(2, 2), 0.0f);  // no self-similarity
  // History {0, 2, 0}: distinct {0, 2}; score(1) = sim(0,1) + sim(2,1).
  std::vector<float> out(4, 0.0f);
  std::vector<int32_t> h = {0, 2, 0};
  m.score_history({h.data(), h.size()}, out.data());
  EXPECT_NEAR(out[1], 2.0 / std::sqrt(6.0) + 1.0 / std::sqrt(3.0), 1e-6);
  // Keeping 1 neighbour per item keeps the most similar.
  models::ItemCfOptions one_neighbour;
  one_neighbour.neighbors = 1;
  ItemCFModel k1(one_neighbour, d.n_items);
  k1.fit(d);
  EXPECT_EQ(k1.n_parameters(), 4);
  EXPECT_NEAR(k1.similarity(0, 1), m.similarity(0, 1), 1e-7);  // 0.816 > 0.707
  EXPECT_EQ(k1.similarity(0, 2), 0.0f);
  // Save/load round trip.
  pocketrec::testing::TempDir t;
  m.save(t.path() + "/cf");
  ItemCFModel back(models::ItemCfOptions{}, d.n_items);
  back.load(t.path() + "/cf");
  EXPECT_EQ(back.similarity(1, 3), m.similarity(1, 3));
}

TEST(Registry, UnknownModelSuggestsTheClosestName) {
  ModelRegistry r = empty_model_registry();
  register_baseline_models(r);
  try {
    r.get("itemfc");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "model.name: unknown model 'itemfc' (did you mean 'itemcf'?)");
  }
  // Capabilities come from what is registered: the baselines fit in closed form and nothing else.
  const ModelInstance pop = r.get("pop").create(ModelOptions{}, tiny());
  EXPECT_EQ(pop.name, "pop");
  EXPECT_NE(pop.fitted, nullptr);
  EXPECT_EQ(pop.trainable, nullptr);
  EXPECT_EQ(pop.session_encoder, nullptr);
  EXPECT_EQ(pop.sampled_items, nullptr);
  EXPECT_EQ(pop.exportable, nullptr);
}
