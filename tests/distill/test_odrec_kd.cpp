// OD-Rec self-supervised KD: the InfoNCE term against hand-computed values (the KL term's are in
// tests/kernels/test_training_kernels.cpp, with the kernel that computes it), the hot-item
// set and the hot/cold split of a hand-made batch, and a whole distillation on a small data set
// that trains every student and head parameter (the reference's cores never train) and learns.
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/progress.h"
#include "distill/odrec_kd.h"
#include "eval/evaluator.h"
#include "models/sasrec.h"
#include "models/torch_models.h"
#include "models/torch_recommender.h"
#include "synthetic_data.h"
#include "torch_test_util.h"
#include "test_util.h"

using namespace pocketrec;

TEST(OdRecKd, InfoNceAgainstHandComputedValues) {
  // tau = 0.5, rows normalised: u = (e1, e2), v = (e1, (e1 + e2)/sqrt 2).
  // row 0: log(e^2 + e^sqrt2) - 2; row 1: log(1 + e^sqrt2) - sqrt2; sum 0.6601693.
  torch::Tensor u = torch::tensor({{1.0, 0.0}, {0.0, 1.0}}, torch::kFloat64);
  torch::Tensor v = torch::tensor({{1.0, 0.0}, {1.0, 1.0}}, torch::kFloat64);
  EXPECT_NEAR(distill::info_nce_sum(u, v, 0.5).item<double>(), 0.66016930012, 1e-10);
  EXPECT_NEAR(distill::info_nce_sum(3 * u, 0.1 * v, 0.5).item<double>(), 0.66016930012, 1e-10);  // scale-free
}

TEST(OdRecKd, HotColdSplitOfAHandMadeBatch) {
  const int64_t pad = 5;
  torch::Tensor is_hot = torch::tensor({1, 0, 1, 0, 0, 0}).to(torch::kBool);  // items 0 and 2 are hot
  torch::Tensor seq = torch::tensor(std::vector<int64_t>{0, 1, 2, 5,    // mixed: hot (0, 2), cold (1)
                                                        1, 3, 5, 5,    // cold only
                                                        2, 0, 5, 5,    // hot only
                                                        4, 5, 5, 5,    // length 1: no group
                                                        3, 2, 1, 0})   // mixed: hot (2, 0), cold (3, 1)
                           .view({5, 4});
  torch::Tensor len = torch::tensor(std::vector<int64_t>{3, 2, 2, 1, 4});
  distill::HotColdBatch g = distill::split_hot_cold(seq, len, is_hot, pad);
  auto vec = [](const torch::Tensor& t) {
    torch::Tensor c = t.contiguous().to(torch::kInt64);
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  EXPECT_EQ(vec(g.mixed), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(vec(g.cold_only), (std::vector<int64_t>{1}));
  EXPECT_EQ(vec(g.hot_only), (std::vector<int64_t>{2}));
  EXPECT_EQ(vec(g.hot_seq), (std::vector<int64_t>{0, 2, 5, 5, 2, 0, 5, 5}));
  EXPECT_EQ(vec(g.cold_seq), (std::vector<int64_t>{1, 5, 5, 5, 3, 1, 5, 5}));
  EXPECT_EQ(vec(g.hot_len), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(vec(g.cold_len), (std::vector<int64_t>{1, 2}));
}

namespace {

Config session_config() {
  Config c = pocketrec::testing::small_torch_config("sasrec");
  c.set("model.sasrec_variant", "odrec", "t");
  c.set("train.epochs", 25, "t");
  c.set("train.patience", 0, "t");
  c.set("train.eval_every", 5, "t");
  c.set("eval.metrics", nlohmann::json::array({"hr", "ndcg"}), "t");
  c.set("eval.mask_history", false, "t");
  return c;
}

std::unique_ptr<models::TorchRecommender> make(const Config& c, const data::Dataset& d) {
  return pocketrec::testing::make_torch_model(c, d);
}

}  // namespace

TEST(OdRecKd, DistillationTrainsEveryStudentParameterAndLearns) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::cycle_sessions();
  pocketrec::testing::TempDir dir;
  for (const char* sub : {"/t", "/s", "/p"}) make_dirs(dir.path() + sub);
  Config tc = session_config();
  auto teacher = make(tc, d);
  teacher->fit(d, models::FitContext{tc, dir.path() + "/t", pocketrec::testing::validation_on(d, tc)});

  Config sc = session_config();
  sc.set("model.item_table", "stt", "t");
  sc.set("model.stt_rank", 4, "t");
  sc.set("distill.hot_fraction", 0.5, "t");
  auto student = make(sc, d);
  auto* t_enc = dynamic_cast<models::SessionEncoder*>(teacher.get());
  auto* s_enc = dynamic_cast<models::SessionEncoder*>(student.get());
  ASSERT_NE(t_enc, nullptr);
  ASSERT_NE(s_enc, nullptr);
  distill::OdRecKdTask kd = distill::make_odrec_kd_task(*t_enc, *s_enc, student->training_task(d, sc), d,
                                                        distill::OdRecKdOptions::from_config(sc));
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : kd.module->named_parameters()) before[p.key()] = p.value().detach().clone();
  std::map<std::string, torch::Tensor> teacher_before;
  for (const auto& p : teacher->network().named_parameters()) teacher_before[p.key()] = p.value().detach().clone();

  // One batch: every term is finite and the contrastive/predictive groups are not empty.
  {
    std::vector<int64_t> ids(32);
    std::iota(ids.begin(), ids.end(), 0);
    std::mt19937_64 rng(1);
    train::Batch b = kd.task.make_batch(ids.data(), ids.size(), rng);
    distill::OdRecKdLosses l = distill::odrec_kd_losses(*t_enc, *s_enc, kd.heads, kd.is_hot, b,
                                                        distill::OdRecKdOptions::from_config(sc));
    for (const auto& t : {l.rec, l.kd, l.cl, l.pred, l.total}) EXPECT_TRUE(std::isfinite(t.item<double>()));
    EXPECT_GT(l.cl.item<double>(), 0.0);
    EXPECT_GT(l.pred.item<double>(), 0.0);
  }
  student->fit_task(d, models::FitContext{sc, dir.path() + "/s", pocketrec::testing::validation_on(d, sc)}, kd.task);

  for (const auto& p : kd.module->named_parameters())
    EXPECT_FALSE(torch::equal(before[p.key()], p.value())) << p.key() << " did not train";
  EXPECT_GT(before.count("student.stt_item.core0") + before.count("student.stt_item.core1"), 1u);
  for (const auto& p : teacher->network().named_parameters())
    EXPECT_TRUE(torch::equal(teacher_before[p.key()], p.value())) << "the teacher changed: " << p.key();

  auto scorer = student->make_scorer(d);
  eval::EvalResult r = eval::evaluate(d.test, *scorer, eval::EvalOptions::from_config(sc));
  auto pop = models::default_model_registry().get("pop").create(sc, d);
  pop->fit(d, models::FitContext{sc, dir.path() + "/p", pocketrec::testing::validation_on(d, sc)});
  auto pop_scorer = pop->make_scorer(d);
  eval::EvalResult rp = eval::evaluate(d.test, *pop_scorer, eval::EvalOptions::from_config(sc));
  EXPECT_GT(r.get("ndcg@5"), rp.get("ndcg@5") + 0.1) << r.get("ndcg@5") << " vs pop " << rp.get("ndcg@5");
}
