// The on-device runtime against LibTorch: a SASRec of each kind (standard pre-LN with 2 heads and
// histories longer than max_len, the OD-Rec teacher, the OD-Rec STT student) is exported and loaded
// from a buffer; every item's score must match the LibTorch model's within 1e-4 and the top-k lists
// must be identical, in every scoring mode the model offers.
#include <gtest/gtest.h>

#include <numeric>

#include "core/config.h"
#include "core/progress.h"
#include "export/export_sasrec.h"
#include "models/sasrec.h"
#include "models/torch_models.h"
#include "models/torch_recommender.h"
#include "pocketrec/pocketrec.h"
#include "synthetic_data.h"

using namespace pocketrec;

namespace {

struct Case {
  std::string variant;
  bool stt;
  int heads;
};

class RuntimeParity : public ::testing::TestWithParam<Case> {};

TEST_P(RuntimeParity, ScoresMatchLibTorchAndTopListsAreIdentical) {
  ProgressBar::set_enabled(false);
  const Case k = GetParam();
  const bool odrec = k.variant == "odrec";
  data::Dataset d = odrec ? pocketrec::testing::cycle_sessions() : pocketrec::testing::community_users();
  Config c;
  c.set("model.name", "sasrec", "t");
  c.set("model.sasrec_variant", k.variant, "t");
  c.set("model.dim", 16, "t");
  c.set("model.heads", k.heads, "t");
  c.set("model.inner", 24, "t");
  c.set("model.max_len", odrec ? 5 : 4, "t");  // community histories (5-7 items) exceed 4
  c.set("model.layers", 2, "t");
  c.set("train.seed", 11, "t");
  if (k.stt) {
    c.set("model.item_table", "stt", "t");
    c.set("model.stt_rank", 4, "t");
    c.set("model.stt_t", 2, "t");
  }
  auto reg = models::default_model_registry();
  auto model = reg.get("sasrec").create(c, d);
  auto* enc = dynamic_cast<models::SessionEncoder*>(model.get());
  ASSERT_NE(enc, nullptr);
  {  // LayerNorm gamma/beta away from 1/0 and larger weights, so every parameter matters
    torch::NoGradGuard g;
    torch::manual_seed(5);
    for (auto& p : enc->encoder_module().parameters()) p.add_(torch::randn_like(p) * 0.3);
  }
  const std::string bytes = exporter::sasrec_pocket(*enc, c, d.item_ids, {{"test", true}}).bytes();

  auto scorer = model->make_scorer(d);
  std::vector<int32_t> queries(d.test.size());
  std::iota(queries.begin(), queries.end(), 0);
  scorer->prepare(d.test, queries.data(), queries.size());
  const int32_t N = d.n_items;
  std::vector<pocketrec_scoring> modes = {POCKETREC_SCORING_FP32_TABLE};
  if (k.stt) modes.push_back(POCKETREC_SCORING_CORES);
  for (pocketrec_scoring mode : modes) {
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = mode;
    pocketrec_model* m = nullptr;
    ASSERT_EQ(pocketrec_model_load_buffer(bytes.data(), bytes.size(), &p, &m), POCKETREC_STATUS_OK)
        << pocketrec_last_error();
    pocketrec_context* ctx = nullptr;
    ASSERT_EQ(pocketrec_context_init(m, &ctx), POCKETREC_STATUS_OK);
    EXPECT_EQ(pocketrec_model_n_items(m), static_cast<size_t>(N));
    EXPECT_STREQ(pocketrec_model_architecture(m), odrec ? "sasrec-odrec" : "sasrec");
    std::vector<float> ref(N), got(N);
    double max_diff = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
      scorer->score(q, 1, 0, N, ref.data(), static_cast<size_t>(N));
      std::vector<int64_t> hist;
      for (int32_t item : d.test.history[queries[q]]) hist.push_back(std::stoll(d.item_ids.token(item)));
      ASSERT_EQ(pocketrec_score_all(ctx, hist.data(), hist.size(), got.data()), POCKETREC_STATUS_OK)
          << pocketrec_last_error();
      for (int32_t j = 0; j < N; ++j) max_diff = std::max(max_diff, static_cast<double>(std::fabs(ref[j] - got[j])));
      // The top-10 from pocketrec_recommend (history kept) = LibTorch's order, ties to the smaller index.
      std::vector<int32_t> order(N);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return ref[a] > ref[b]; });
      int64_t items[10];
      float scores[10];
      size_t n_out = 0;
      ASSERT_EQ(pocketrec_recommend(ctx, hist.data(), hist.size(), 10, 0, items, scores, &n_out), POCKETREC_STATUS_OK);
      ASSERT_EQ(n_out, 10u);
      for (int r = 0; r < 10; ++r) EXPECT_EQ(items[r], std::stoll(d.item_ids.token(order[r]))) << "query " << q;
    }
    EXPECT_LT(max_diff, 1e-4) << "scoring mode " << mode;
    EXPECT_GT(max_diff, 0.0);  // a different implementation, not the same numbers by construction
    pocketrec_context_free(ctx);
    pocketrec_model_free(m);
  }
}

INSTANTIATE_TEST_SUITE_P(Sasrec, RuntimeParity,
                         ::testing::Values(Case{"standard", false, 2}, Case{"odrec", false, 1}, Case{"odrec", true, 1}),
                         [](const auto& info) { return info.param.variant + (info.param.stt ? "_stt" : "_dense"); });

TEST(Export, RefusesAnSttLayoutTheRuntimeCannotRead) {
  data::Dataset d = pocketrec::testing::cycle_sessions();
  Config c;
  c.set("model.name", "sasrec", "t");
  c.set("model.sasrec_variant", "odrec", "t");
  c.set("model.dim", 8, "t");
  c.set("model.item_table", "stt", "t");
  c.set("model.stt_rank", 4, "t");
  c.set("model.stt_layout", "flat", "t");
  auto model = models::default_model_registry().get("sasrec").create(c, d);
  auto* enc = dynamic_cast<models::SessionEncoder*>(model.get());
  try {
    exporter::sasrec_pocket(*enc, c, d.item_ids, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 cores in the canonical layout"), std::string::npos) << e.what();
  }
}

}  // namespace
