// LibTorch models: each loss's gradient against central finite differences in double precision,
// Caser's parameter count against the RD formula, every model learning structured data, and the
// best checkpoint giving bit-identical scores after a reload.
#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "core/config.h"
#include "core/progress.h"
#include "data/readers.h"
#include "eval/evaluator.h"
#include "models/sampled_item_task.h"
#include "models/soft_attention_readout.h"
#include "models/torch_models.h"
#include "synthetic_data.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train/checkpoint.h"

using namespace pocketrec;

namespace {

Config small_config(const std::string& model) {
  return pocketrec::testing::small_torch_config(model);
}

models::ModelInstance make(const Config& c, const data::Dataset& d) {
  return pocketrec::testing::make_model(c, d);
}

eval::EvalResult evaluate(const models::Recommender& m, const data::Dataset& d, const Config& c) {
  auto s = m.make_scorer(d);
  return eval::evaluate(d.test, *s, pocketrec::testing::eval_options(c));
}

struct Case {
  std::string model, variant, loss;
  bool sessions;
  bool stt = false;  // SASRec with a semi-tensor-train item table (the OD-Rec student)
  int64_t caser_targets = 1;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << (c.variant.empty() ? "" : "/" + c.variant) << (c.stt ? "/stt" : "");
}

void use_stt_table(Config& c) {
  c.set("model.item_table", "stt", "t");
  c.set("model.stt_rank", 4, "t");
  c.set("model.stt_t", 2, "t");
}

void gradient_check(const Case& k) {
  ProgressBar::set_enabled(false);
  data::Dataset d = k.sessions ? pocketrec::testing::cycle_sessions() : pocketrec::testing::community_users();
  Config c = small_config(k.model);
  if (!k.variant.empty()) c.set("model.sasrec_variant", k.variant, "t");
  if (!k.loss.empty()) c.set("train.loss", k.loss, "t");
  if (k.stt) use_stt_table(c);
  c.set("model.caser_targets", k.caser_targets, "t");
  auto m = make(c, d);
  train::TrainTask task = m.trainable->training_task(d);
  torch::nn::Module& net = m.trainable->network();
  net.to(torch::kFloat64);
  net.eval();  // no dropout: the loss is a deterministic function of the parameters
  std::vector<int64_t> ids(std::min<int64_t>(16, task.n_samples));
  std::iota(ids.begin(), ids.end(), 0);
  auto loss_at = [&] {
    std::mt19937_64 rng(99);  // the same negatives every call
    return task.batch_loss(ids.data(), ids.size(), rng);
  };
  net.zero_grad();
  torch::Tensor l = loss_at();
  ASSERT_EQ(l.scalar_type(), torch::kFloat64);
  l.backward();
  std::mt19937 pick(7);
  constexpr int kPerParameter = 6;
  int checked = 0, expected = 0;
  for (auto& p : net.named_parameters()) {
    expected += kPerParameter;
    torch::Tensor w = p.value();
    ASSERT_TRUE(w.grad().defined()) << p.key();
    torch::Tensor flat = w.detach().view(-1), gflat = w.grad().view(-1);
    for (int rep = 0; rep < kPerParameter; ++rep) {
      const int64_t i = std::uniform_int_distribution<int64_t>(0, flat.numel() - 1)(pick);
      const double h = 1e-5, orig = flat[i].item<double>();
      double plus, minus;
      {
        torch::NoGradGuard g;
        flat[i] = orig + h;
        plus = loss_at().item<double>();
        flat[i] = orig - h;
        minus = loss_at().item<double>();
        flat[i] = orig;
      }
      const double numeric = (plus - minus) / (2 * h), analytic = gflat[i].item<double>();
      EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-4 * std::abs(numeric)) << k.model << " " << p.key() << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_EQ(checked, expected);  // every parameter of the network, none skipped
  EXPECT_GT(expected, 0);
}

}  // namespace

TEST(GradientCheck, Bpr) {
  gradient_check({"bpr", "", "", false});
}
TEST(GradientCheck, BprSessions) {
  gradient_check({"bpr", "", "", true});
}
TEST(GradientCheck, Caser) {
  gradient_check({"caser", "", "", false});
}
TEST(GradientCheck, CaserThreeTargets) {
  gradient_check({"caser", "", "", false, false, 3});
}
TEST(GradientCheck, Fossil) {
  gradient_check({"fossil", "", "", false});
}
TEST(GradientCheck, SasRecCrossEntropy) {
  gradient_check({"sasrec", "standard", "ce", false});
}
TEST(GradientCheck, SasRecBce) {
  gradient_check({"sasrec", "standard", "bce", false});
}
TEST(GradientCheck, SasRecOdRecTeacher) {
  gradient_check({"sasrec", "odrec", "", true});
}
TEST(GradientCheck, SasRecOdRecSttStudent) {
  gradient_check({"sasrec", "odrec", "", true, true});
}

TEST(Caser, ParameterCountEqualsTheRdFormula) {
  data::Dataset d = pocketrec::testing::community_users();
  Config c = small_config("caser");
  c.set("model.dim", 10, "t");
  c.set("model.window", 5, "t");
  c.set("model.caser_nv", 2, "t");
  c.set("model.caser_nh", 16, "t");
  auto m = make(c, d);
  const int64_t U = d.n_users, I = d.n_items + 1, dd = 10, L = 5, nv = 2, nh = 16;
  int64_t conv_h = 0;
  for (int64_t h = 1; h <= L; ++h) conv_h += nh * h * dd + nh;
  const int64_t formula = U * dd + 3 * I * dd + I + (nv * L + nv) + conv_h + (nv * dd + nh * L) * dd + dd;
  EXPECT_EQ(m->n_parameters(), formula);
}

// The RD paper's Gowalla Caser-T (docs/design/rankdistill.md §2): U = 13,149 users, 14,009 items plus the
// padding row, d = 100, L = 5, nv = 2, nh = 16: the model built at those sizes has 5,584,102
// parameters, and the d = 50 student 2,794,102 (50.0%).
TEST(Caser, ParameterCountAtTheRdPapersGowallaSizes) {
  data::Dataset d;
  d.n_users = 13149;
  d.n_items = 14009;
  Config c = small_config("caser");
  c.set("model.window", 5, "t");
  c.set("model.caser_nv", 2, "t");
  c.set("model.caser_nh", 16, "t");
  c.set("model.dim", 100, "t");
  EXPECT_EQ(make(c, d)->n_parameters(), 5584102);
  c.set("model.dim", 50, "t");
  EXPECT_EQ(make(c, d)->n_parameters(), 2794102);
}

// model.caser_targets = T: a window's batch row is [its T next items | n_neg negatives per target],
// the negatives outside the user's history, and the loss sums -log sigmoid over the T targets and
// -log(1 - sigmoid) over the T*n_neg negatives (the scores recomputed here from the same batch).
TEST(Caser, EachWindowPredictsItsNextTItems) {
  data::Dataset d = pocketrec::testing::community_users();
  Config c = small_config("caser");
  const int64_t T = 2, n_neg = 3, L = c.integer("model.window");
  c.set("model.caser_targets", T, "t");
  c.set("train.neg_samples", n_neg, "t");
  auto m = make(c, d);
  auto* pw = m.sampled_items;
  ASSERT_NE(pw, nullptr);
  models::SampledItemTask st = pw->sampled_item_task(d);
  int64_t windows = 0;  // c-L-T+1 per sequence of length c >= L+T, one padded window when T < c < L+T
  for (size_t u = 0; u < d.train.size(); ++u) {
    const int64_t len = static_cast<int64_t>(d.train.length(u));
    windows += len >= L + T ? len - L - T + 1 : (len > T ? 1 : 0);
  }
  ASSERT_EQ(st.size(), windows);
  ASSERT_EQ(st.n_targets, T);
  train::TrainTask task = m.trainable->training_task(d);
  m.trainable->network().eval();
  std::vector<int64_t> ids{0, 3, st.size() - 1};
  std::mt19937_64 rng(5);
  train::Batch batch = task.make_batch(ids.data(), ids.size(), rng);
  const torch::Tensor items = batch[2];
  ASSERT_EQ(items.sizes(), (std::vector<int64_t>{3, T * (1 + n_neg)}));
  for (int64_t b = 0; b < 3; ++b) {
    const size_t u = static_cast<size_t>(st.user(ids[b]));
    const auto hist = d.train[u];
    const int64_t pos = st.samples->pos[static_cast<size_t>(ids[b])];
    for (int64_t t = 0; t < T; ++t) EXPECT_EQ(items[b][t].item<int64_t>(), d.train.items[pos + t]);
    for (int64_t j = T; j < items.size(1); ++j)
      EXPECT_EQ(std::count(hist.begin(), hist.end(), items[b][j].item<int64_t>()), 0) << "negative in the history";
  }
  torch::Tensor s = st.scores(batch, items.size(1));
  const double expected =
      (torch::softplus(-s.slice(1, 0, T)).sum(1) + torch::softplus(s.slice(1, T)).sum(1)).mean().item<double>();
  EXPECT_NEAR(task.loss(batch).item<double>(), expected, 1e-6 * std::abs(expected));
}

TEST(Fossil, ParameterCountEqualsTheFormula) {
  data::Dataset d = pocketrec::testing::community_users();
  auto m = make(small_config("fossil"), d);
  EXPECT_EQ(m->n_parameters(), 2 * d.n_items * 8 + d.n_items + 3 + d.n_users * 3);
}

class LearnsStructure : public ::testing::TestWithParam<Case> {};

TEST_P(LearnsStructure, BeatsPopAndTheBestCheckpointReloadsBitIdentically) {
  ProgressBar::set_enabled(false);
  const Case k = GetParam();
  data::Dataset d = k.sessions ? pocketrec::testing::cycle_sessions() : pocketrec::testing::community_users();
  Config c = small_config(k.model);
  c.set("train.epochs", 60, "t");
  c.set("train.patience", 0, "t");
  c.set("train.eval_every", 5, "t");
  if (!k.variant.empty()) c.set("model.sasrec_variant", k.variant, "t");
  if (k.sessions) c.set("eval.mask_history", false, "t");
  if (k.stt) use_stt_table(c);
  pocketrec::testing::TempDir dir;
  auto m = make(c, d);
  pocketrec::testing::fit(m, d, c, dir.path());
  eval::EvalResult r = evaluate(*m, d, c);
  Config pc = c;
  pc.set("model.name", "pop", "t");
  auto pop = make(pc, d);
  pocketrec::testing::fit(pop, d, pc);
  eval::EvalResult rp = evaluate(*pop, d, c);
  EXPECT_GT(r.get("ndcg@5"), rp.get("ndcg@5") + 0.1)
      << k.model << " " << r.get("ndcg@5") << " vs pop " << rp.get("ndcg@5");
  // A fresh model loaded from checkpoint_best.ckpt scores exactly like the trained one.
  auto fresh = make(c, d);
  train::load_checkpoint_weights(fresh.trainable->network(), dir.path() + "/checkpoint_best.ckpt");
  EXPECT_EQ(evaluate(*fresh, d, c).values, r.values);
}

INSTANTIATE_TEST_SUITE_P(Models, LearnsStructure,
                         ::testing::Values(Case{"caser", "", "", false}, Case{"fossil", "", "", false},
                                           Case{"sasrec", "standard", "", false}, Case{"sasrec", "odrec", "", true},
                                           Case{"sasrec", "odrec", "", true, true}),
                         [](const auto& info) {
                           return info.param.model + (info.param.variant.empty() ? "" : "_" + info.param.variant) +
                                  (info.param.stt ? "_stt" : "");
                         });

// Resuming compares the saved config with the current one: a key added to PocketRec after the
// checkpoint was written takes its default (the behaviour the run had) instead of refusing the run.
TEST(Trainer, ResumeConfigComparisonFillsKeysAddedLater) {
  Config c = small_config("caser");
  nlohmann::json old_run = c.to_json();
  old_run["distill"].erase("rd_alpha");  // a checkpoint written before distill.rd_alpha existed
  old_run["train"]["epochs"] = 3;        // epochs may be raised on resumption
  EXPECT_EQ(app::run_identity(old_run), app::run_identity(c));
  old_run["train"]["lr"] = 0.5;  // a real difference is still one
  EXPECT_NE(app::run_identity(old_run), app::run_identity(c));
}

// The soft-attention readout computes its gate at the real rows only; the result equals the
// formula over all rows with padded weights zeroed (soft_attention_readout.h), for masks with
// holes (OD-Rec's hot/cold sub-sessions), a full row and a row with one real item, and so do the
// gradients.
TEST(SoftAttentionReadout, RealRowsOnlyEqualsTheMaskedFormula) {
  torch::manual_seed(3);
  models::SoftAttentionReadout r(6);
  r->to(torch::kFloat64);
  const int64_t B = 3, L = 5, d = 6;
  torch::Tensor H = torch::randn({B, L, d}, torch::kFloat64).requires_grad_(true);
  torch::Tensor valid = torch::tensor({1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0}, torch::kBool).view({B, L});
  torch::Tensor lengths = torch::tensor({3, 5, 1}, torch::kInt64);
  torch::Tensor got = r->forward(H, valid, lengths);
  torch::Tensor hs = H.sum(1) / lengths.to(torch::kFloat64).unsqueeze(1);
  torch::Tensor gate = torch::sigmoid(r->glu1->forward(torch::tanh(H)) + r->glu2->forward(hs).unsqueeze(1));
  torch::Tensor want = (r->w2->forward(gate) * valid.unsqueeze(2).to(torch::kFloat64) * H).sum(1);
  EXPECT_TRUE(torch::allclose(got, want, 1e-12, 1e-12)) << got - want;
  auto gh_got = torch::autograd::grad({got.sum()}, {H, r->glu1->weight});
  auto gh_want = torch::autograd::grad({want.sum()}, {H, r->glu1->weight});
  for (size_t i = 0; i < gh_got.size(); ++i) EXPECT_TRUE(torch::allclose(gh_got[i], gh_want[i], 1e-12, 1e-12)) << i;
}

// Without validation queries (a refit on train + validation: split.ratios [0.8, 0, 0.2]) nothing can
// be selected: the trainer keeps the latest epoch and never stops early.
TEST(Trainer, NoValidationQueriesKeepTheLatestEpoch) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::community_users();
  d.valid = data::EvalSet{};
  Config c = small_config("bpr");
  c.set("train.epochs", 4, "t");
  c.set("train.patience", 1, "t");
  auto m = make(c, d);
  const nlohmann::json s = pocketrec::testing::fit(m, d, c);
  EXPECT_EQ(s["epochs_run"], 4);
  EXPECT_EQ(s["best_epoch"], 4);
  EXPECT_FALSE(s["stopped_early"].get<bool>());
}
