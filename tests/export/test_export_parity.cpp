// The on-device runtime against LibTorch: a SASRec of each kind (standard pre-LN with 2 heads and
// histories longer than max_len, the OD-Rec teacher, the OD-Rec STT student) and a Caser are exported
// and loaded from a buffer; every item's score must match the LibTorch model's within 1e-4 and the
// top-k lists must be identical, in every scoring mode the model offers. fp16 and int8 weight files
// are checked the same way against the LibTorch model with its weights rounded as the file stores them.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/config.h"
#include "core/progress.h"
#include "export/exporter.h"
#include "models/torch_models.h"
#include "pocket_format.h"
#include "pocketrec/pocketrec.h"
#include "synthetic_data.h"
#include "torch_test_util.h"

using namespace pocketrec;

namespace {

struct Case {
  std::string variant;
  bool stt;
  int heads;
  bool ordered = false;  // an STT table with an item order (stt_item.slot_of_item in the file)
};

// Every score of every test query within 1e-4 of LibTorch's and the top-10 from pocketrec_recommend in
// LibTorch's order (ties to the smaller index), for each scoring mode; returns the largest difference.
double expect_runtime_matches(models::Recommender& model, const data::Dataset& d, const std::string& bytes,
                              const std::vector<pocketrec_scoring>& modes, const char* architecture) {
  auto scorer = model.make_scorer(d);
  std::vector<int32_t> queries(d.test.size());
  std::iota(queries.begin(), queries.end(), 0);
  scorer->prepare(d.test, queries.data(), queries.size());
  const int32_t N = d.n_items;
  double worst = 0;
  for (pocketrec_scoring mode : modes) {
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = mode;
    pocketrec_model* m = nullptr;
    EXPECT_EQ(pocketrec_model_load_buffer(bytes.data(), bytes.size(), &p, &m), POCKETREC_STATUS_OK)
        << pocketrec_last_error();
    if (!m) return INFINITY;
    pocketrec_context* ctx = nullptr;
    EXPECT_EQ(pocketrec_context_init(m, &ctx), POCKETREC_STATUS_OK);
    EXPECT_EQ(pocketrec_model_n_items(m), static_cast<size_t>(N));
    EXPECT_STREQ(pocketrec_model_architecture(m), architecture);
    const bool users = pocketrec_model_n_users(m) > 0;
    std::vector<float> ref(N), got(N);
    double max_diff = 0, min_spread = INFINITY;
    for (size_t q = 0; q < queries.size(); ++q) {
      scorer->score(q, 1, 0, N, ref.data(), static_cast<size_t>(N));
      std::vector<int64_t> hist;
      for (int32_t item : d.test.history[queries[q]]) hist.push_back(std::stoll(d.item_ids.token(item)));
      if (users)
        EXPECT_EQ(pocketrec_context_set_user(ctx, std::stoll(d.user_ids.token(d.test.users[queries[q]]))),
                  POCKETREC_STATUS_OK);
      EXPECT_EQ(pocketrec_score_all(ctx, hist.data(), hist.size(), got.data()), POCKETREC_STATUS_OK)
          << pocketrec_last_error();
      for (int32_t j = 0; j < N; ++j) max_diff = std::max(max_diff, static_cast<double>(std::fabs(ref[j] - got[j])));
      const auto [lo, hi] = std::minmax_element(ref.begin(), ref.end());
      min_spread = std::min(min_spread, static_cast<double>(*hi - *lo));
      std::vector<int32_t> order(N);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return ref[a] > ref[b]; });
      int64_t items[10];
      float scores[10];
      size_t n_out = 0;
      EXPECT_EQ(pocketrec_recommend(ctx, hist.data(), hist.size(), 10, 0, items, scores, &n_out), POCKETREC_STATUS_OK);
      EXPECT_EQ(n_out, 10u);
      for (size_t r = 0; r < n_out; ++r) EXPECT_EQ(items[r], std::stoll(d.item_ids.token(order[r]))) << "query " << q;
    }
    EXPECT_LT(max_diff, 1e-4) << "scoring mode " << mode;
    // The scores of every query spread over far more than the tolerance, so agreeing within 1e-4 is a
    // real check (a runtime that ignored a weight, or scored a constant, could not pass it).
    EXPECT_GT(min_spread, 100 * 1e-4) << "scoring mode " << mode;
    worst = std::max(worst, max_diff);
    pocketrec_context_free(ctx);
    pocketrec_model_free(m);
  }
  return worst;
}

// LayerNorm gamma/beta away from 1/0 and larger weights, so every parameter matters.
void perturb(torch::nn::Module& module) {
  torch::NoGradGuard g;
  torch::manual_seed(5);
  for (auto& p : module.parameters()) p.add_(torch::randn_like(p) * 0.3);
}

Config sasrec_config(const std::string& variant, bool stt, int heads) {
  const bool odrec = variant == "odrec";
  Config c;
  c.set("model.name", "sasrec", "t");
  c.set("model.sasrec_variant", variant, "t");
  c.set("model.dim", 16, "t");
  c.set("model.heads", heads, "t");
  c.set("model.inner", 24, "t");
  c.set("model.max_len", odrec ? 5 : 4, "t");  // community histories (5-7 items) exceed 4
  c.set("model.layers", 2, "t");
  c.set("train.seed", 11, "t");
  if (stt) {
    c.set("model.item_table", "stt", "t");
    c.set("model.stt_rank", 4, "t");
    c.set("model.stt_t", 2, "t");
  }
  return c;
}

class RuntimeParity : public ::testing::TestWithParam<Case> {};

TEST_P(RuntimeParity, ScoresMatchLibTorchAndTopListsAreIdentical) {
  ProgressBar::set_enabled(false);
  const Case k = GetParam();
  const bool odrec = k.variant == "odrec";
  data::Dataset d = odrec ? pocketrec::testing::cycle_sessions() : pocketrec::testing::community_users();
  Config c = sasrec_config(k.variant, k.stt, k.heads);
  if (k.ordered) c.set("model.stt_item_order", "teacher", "t");
  auto model = pocketrec::testing::make_model(c, d);
  models::SessionEncoder* enc = model.session_encoder;
  ASSERT_NE(enc, nullptr);
  perturb(enc->encoder_module());
  if (k.ordered) {  // a fixed permutation of the slots, padding slots included, written into the order buffer
    torch::Tensor order = enc->encoder_module().named_buffers()["stt_item.slot_of_item"];
    std::vector<int64_t> slots(static_cast<size_t>(order.numel()));
    std::iota(slots.begin(), slots.end(), 0);
    std::mt19937_64 rng(3);
    std::shuffle(slots.begin(), slots.end(), rng);
    order.copy_(torch::tensor(slots));
  }
  const std::string bytes = exporter::pocket_of(model, d, {{"test", true}}, exporter::WeightType::kF32).bytes();
  std::vector<pocketrec_scoring> modes = {POCKETREC_SCORING_FP32_TABLE};
  if (k.stt) modes.push_back(POCKETREC_SCORING_CORES);
  expect_runtime_matches(*model, d, bytes, modes, odrec ? "sasrec-odrec" : "sasrec");
}

INSTANTIATE_TEST_SUITE_P(Sasrec, RuntimeParity,
                         ::testing::Values(Case{"standard", false, 2}, Case{"odrec", false, 1}, Case{"odrec", true, 1},
                                           Case{"odrec", true, 1, /*ordered=*/true}),
                         [](const auto& info) {
                           return info.param.variant + (info.param.stt ? "_stt" : "_dense") +
                                  (info.param.ordered ? "_ordered" : "");
                         });

TEST(Export, RefusesAnSttLayoutTheRuntimeCannotRead) {
  data::Dataset d = pocketrec::testing::cycle_sessions();
  Config c;
  c.set("model.name", "sasrec", "t");
  c.set("model.sasrec_variant", "odrec", "t");
  c.set("model.dim", 8, "t");
  c.set("model.item_table", "stt", "t");
  c.set("model.stt_rank", 4, "t");
  c.set("model.stt_layout", "flat", "t");
  auto model = pocketrec::testing::make_model(c, d);
  try {
    exporter::pocket_of(model, d, {}, exporter::WeightType::kF32);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 cores in the canonical layout"), std::string::npos) << e.what();
  }
}

// fp16 and int8 files against the LibTorch model whose matrices were rounded exactly as the file
// stores them (torch's kHalf; format::quantize_row_i8 per row): the runtime must decode them to the
// same numbers (and the files are smaller, if not 2x and 4x at this toy size).
TEST(ExportWeightTypes, Fp16AndInt8FilesDecodeToTheRoundedWeights) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::cycle_sessions();
  const Config c = sasrec_config("odrec", /*stt=*/true, 1);
  size_t fp32_bytes = 0;
  for (auto type : {exporter::WeightType::kF32, exporter::WeightType::kF16, exporter::WeightType::kI8}) {
    auto model = pocketrec::testing::make_model(c, d);
    models::SessionEncoder* enc = model.session_encoder;
    perturb(enc->encoder_module());
    const std::string bytes = exporter::pocket_of(model, d, {}, type).bytes();
    {
      torch::NoGradGuard g;
      for (auto& p : enc->encoder_module().parameters()) {
        if (p.dim() < 2 || p.numel() / p.size(0) < 8) continue;  // kept f32
        if (type == exporter::WeightType::kF16) {
          p.copy_(p.to(torch::kHalf).to(torch::kFloat32));
        } else if (type == exporter::WeightType::kI8) {
          torch::Tensor t = p.contiguous();
          const int64_t rows = t.size(0), cols = t.numel() / rows;
          std::vector<int8_t> q(static_cast<size_t>(cols));
          float* x = t.data_ptr<float>();
          for (int64_t r = 0; r < rows; ++r) {
            const float s = format::quantize_row_i8(x + r * cols, static_cast<size_t>(cols), q.data());
            for (int64_t j = 0; j < cols; ++j) x[r * cols + j] = s * static_cast<float>(q[static_cast<size_t>(j)]);
          }
          p.copy_(t);
        }
      }
    }
    expect_runtime_matches(*model, d, bytes, {POCKETREC_SCORING_CORES}, "sasrec-odrec");
    if (type == exporter::WeightType::kF32) fp32_bytes = bytes.size();
    if (type == exporter::WeightType::kF16) EXPECT_LT(bytes.size(), fp32_bytes * 0.7);
    if (type == exporter::WeightType::kI8) EXPECT_LT(bytes.size(), fp32_bytes * 0.6);  // headers, scales, padding
  }
}

TEST(ExportWeightTypes, HalfDecodingIsExact) {
  EXPECT_EQ(format::f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(format::f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(format::f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(format::f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(format::f16_to_f32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(format::f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(format::f16_to_f32(0x7C00), INFINITY);
  EXPECT_TRUE(std::isnan(format::f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::signbit(format::f16_to_f32(0x8000)));
  for (float x : {0.1f, -3.75f, 1e-5f, 1234.5f}) {  // torch's conversion round-trips through ours
    torch::Tensor h = torch::tensor({x}).to(torch::kHalf);
    uint16_t bits;
    std::memcpy(&bits, h.data_ptr<at::Half>(), 2);
    EXPECT_EQ(format::f16_to_f32(bits), h.to(torch::kFloat32).item<float>()) << x;
  }
}

// Caser (user embedding, vertical + horizontal convolutions, item bias) with histories shorter and
// longer than the window: scores and top lists as in LibTorch, for each user set on the context.
TEST(CaserParity, ScoresMatchLibTorch) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::community_users();
  Config c;
  c.set("model.name", "caser", "t");
  c.set("model.dim", 8, "t");
  c.set("model.window", 6, "t");  // longer than some test histories (5-7 items): left padding is used
  c.set("model.caser_nv", 2, "t");
  c.set("model.caser_nh", 3, "t");
  c.set("model.caser_ac_conv", "relu", "t");
  c.set("model.caser_ac_fc", "tanh", "t");
  c.set("train.seed", 3, "t");
  auto model = pocketrec::testing::make_model(c, d);
  torch::nn::Module* net = &model.trainable->network();
  ASSERT_NE(net, nullptr);
  perturb(*net);
  const std::string bytes = exporter::pocket_of(model, d, {}, exporter::WeightType::kF32).bytes();
  expect_runtime_matches(*model, d, bytes, {POCKETREC_SCORING_FP32_TABLE}, "caser");

  // Without a user the runtime refuses to score; a SASRec context refuses a user.
  pocketrec_model* m = nullptr;
  ASSERT_EQ(pocketrec_model_load_buffer(bytes.data(), bytes.size(), nullptr, &m), POCKETREC_STATUS_OK);
  EXPECT_EQ(pocketrec_model_n_users(m), static_cast<size_t>(d.n_users));
  pocketrec_context* ctx = nullptr;
  ASSERT_EQ(pocketrec_context_init(m, &ctx), POCKETREC_STATUS_OK);
  const int64_t item = std::stoll(d.item_ids.token(0));
  std::vector<float> out(static_cast<size_t>(d.n_items));
  EXPECT_EQ(pocketrec_score_all(ctx, &item, 1, out.data()), POCKETREC_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pocketrec_last_error()).find("pocketrec_context_set_user"), std::string::npos);
  EXPECT_EQ(pocketrec_context_set_user(ctx, 1000000), POCKETREC_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pocketrec_last_error()).find("unknown user id 1000000"), std::string::npos);
  pocketrec_context_free(ctx);
  pocketrec_model_free(m);
}

// Fossil (FISM over the distinct history items + a Markov chain with per-user weights, item bias):
// scores and top lists as in LibTorch for each user, with the whole history as input.
TEST(FossilParity, ScoresMatchLibTorch) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::community_users();
  Config c;
  c.set("model.name", "fossil", "t");
  c.set("model.dim", 8, "t");
  c.set("model.window", 3, "t");
  c.set("model.fossil_alpha", 0.3, "t");
  c.set("train.seed", 3, "t");
  auto model = pocketrec::testing::make_model(c, d);
  torch::nn::Module* net = &model.trainable->network();
  ASSERT_NE(net, nullptr);
  perturb(*net);  // eta and eta_u start at 0: make the Markov chain and bias count
  const std::string bytes = exporter::pocket_of(model, d, {}, exporter::WeightType::kF32).bytes();
  expect_runtime_matches(*model, d, bytes, {POCKETREC_SCORING_FP32_TABLE, POCKETREC_SCORING_AUTO}, "fossil");
  pocketrec_model* m = nullptr;
  ASSERT_EQ(pocketrec_model_load_buffer(bytes.data(), bytes.size(), nullptr, &m), POCKETREC_STATUS_OK);
  size_t longest = 0;
  for (size_t q = 0; q < d.test.size(); ++q) longest = std::max(longest, d.test.history[q].size());
  EXPECT_GE(pocketrec_model_max_history(m), longest);  // every test history is read whole
  EXPECT_EQ(pocketrec_model_n_users(m), static_cast<size_t>(d.n_users));
  pocketrec_model_free(m);
  // A history bound shorter than the Markov window is refused, naming the sizes.
  exporter::PocketWriter bad = exporter::pocket_of(model, d, {}, exporter::WeightType::kF32);
  bad.set_i64("fossil.max_history", 2);
  const std::string bad_bytes = bad.bytes();
  EXPECT_EQ(pocketrec_model_load_buffer(bad_bytes.data(), bad_bytes.size(), nullptr, &m), POCKETREC_STATUS_BAD_FORMAT);
  EXPECT_NE(std::string(pocketrec_last_error()).find("window 3, max_history 2"), std::string::npos)
      << pocketrec_last_error();
}

}  // namespace
