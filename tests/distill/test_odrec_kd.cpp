// OD-Rec self-supervised KD: the InfoNCE term against hand-computed values (the KL term's are in
// tests/kernels/test_training_kernels.cpp, with the kernel that computes it), the hot-item
// set and the hot/cold split of a hand-made batch, and a whole distillation on a small data set
// that trains every student and head parameter (the reference's cores never train) and learns.
#include <gtest/gtest.h>

#include <set>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/progress.h"
#include "distill/odrec_kd.h"
#include "eval/evaluator.h"
#include "models/torch_models.h"
#include "synthetic_data.h"
#include "test_util.h"
#include "torch_test_util.h"

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
  torch::Tensor seq = torch::tensor(std::vector<int64_t>{0, 1, 2, 5,          // mixed: hot (0, 2), cold (1)
                                                         1, 3, 5, 5,          // cold only
                                                         2, 0, 5, 5,          // hot only
                                                         4, 5, 5, 5,          // length 1: no group
                                                         3, 2, 1, 0})         // mixed: hot (2, 0), cold (3, 1)
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

models::ModelInstance make(const Config& c, const data::Dataset& d) {
  return pocketrec::testing::make_model(c, d);
}

distill::OdRecKdOptions kd_options(const Config& c) {
  return app::run_settings(c).distill.odrec;
}

}  // namespace

TEST(OdRecKd, DistillationTrainsEveryStudentParameterAndLearns) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::cycle_sessions();
  pocketrec::testing::TempDir dir;
  for (const char* sub : {"/t", "/s", "/p"}) make_dirs(dir.path() + sub);
  Config tc = session_config();
  auto teacher = make(tc, d);
  pocketrec::testing::fit(teacher, d, tc, dir.path() + "/t");

  Config sc = session_config();
  sc.set("model.item_table", "stt", "t");
  sc.set("model.stt_rank", 4, "t");
  sc.set("distill.hot_fraction", 0.5, "t");
  auto student = make(sc, d);
  models::SessionEncoder* t_enc = teacher.session_encoder;
  models::SessionEncoder* s_enc = student.session_encoder;
  ASSERT_NE(t_enc, nullptr);
  ASSERT_NE(s_enc, nullptr);
  distill::OdRecKdTask kd =
      distill::make_odrec_kd_task(*t_enc, *s_enc, student.trainable->training_task(d), d, kd_options(sc));
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : kd.module->named_parameters()) before[p.key()] = p.value().detach().clone();
  std::map<std::string, torch::Tensor> teacher_before;
  for (const auto& p : teacher.trainable->network().named_parameters())
    teacher_before[p.key()] = p.value().detach().clone();

  // One batch: every term is finite and the contrastive/predictive groups are not empty.
  {
    std::vector<int64_t> ids(32);
    std::iota(ids.begin(), ids.end(), 0);
    std::mt19937_64 rng(1);
    train::Batch b = kd.task.make_batch(ids.data(), ids.size(), rng);
    distill::OdRecKdLosses l = distill::odrec_kd_losses(*t_enc, *s_enc, kd.heads, kd.is_hot, b, kd_options(sc));
    for (const auto& t : {l.rec, l.kd, l.cl, l.pred, l.total}) EXPECT_TRUE(std::isfinite(t.item<double>()));
    EXPECT_GT(l.cl.item<double>(), 0.0);
    EXPECT_GT(l.pred.item<double>(), 0.0);
  }
  pocketrec::testing::fit(student, d, sc, dir.path() + "/s", &kd.task);

  for (const auto& p : kd.module->named_parameters())
    EXPECT_FALSE(torch::equal(before[p.key()], p.value())) << p.key() << " did not train";
  // What trained is the student's whole network (its STT cores included) plus the heads.
  std::set<const void*> trained;
  for (const auto& p : kd.module->parameters()) trained.insert(p.data_ptr());
  for (const auto& p : student.trainable->network().named_parameters())
    EXPECT_EQ(trained.count(p.value().data_ptr()), 1u) << p.key() << " is not trained by the distillation";
  EXPECT_EQ(kd.module->parameters().size(),
            student.trainable->network().parameters().size() + kd.heads->parameters().size());
  for (const auto& p : teacher.trainable->network().named_parameters())
    EXPECT_TRUE(torch::equal(teacher_before[p.key()], p.value())) << "the teacher changed: " << p.key();
}

namespace {

// The SessionEncoder of a model made by make().
models::SessionEncoder& encoder(const models::ModelInstance& m) {
  return *m.session_encoder;
}

}  // namespace

// Knowledge the labels do not carry: the student's training sessions are noisy (each item after the
// first replaced by a random one with probability 0.6), the teacher was trained on clean sessions.
// Distilled with the KD terms (para 0.8), the student learns the cycle from the teacher's
// distributions and tests far above the same student trained on its noisy labels alone (para = beta
// = alpha = 0), on the clean test sessions, in the same epochs (measured: nDCG@5 0.95 vs 0.21).
TEST(OdRecKd, DistillationTeachesWhatTheNoisyLabelsDoNot) {
  ProgressBar::set_enabled(false);
  const data::Dataset clean = pocketrec::testing::cycle_sessions();
  const data::Dataset noisy = pocketrec::testing::cycle_sessions(0.6);
  pocketrec::testing::TempDir dir;
  Config tc = session_config();
  auto teacher = make(tc, clean);
  pocketrec::testing::fit(teacher, clean, tc);
  auto distil = [&](bool kd) {
    Config sc = session_config();
    sc.set("train.epochs", 10, "t");
    sc.set("train.checkpoint", false, "t");
    sc.set("distill.para", kd ? 0.8 : 0.0, "t");
    if (!kd) sc.set("distill.beta", 0.0, "t"), sc.set("distill.alpha", 0.0, "t");
    auto student = make(sc, noisy);
    distill::OdRecKdTask task = distill::make_odrec_kd_task(
        encoder(teacher), encoder(student), student.trainable->training_task(noisy), noisy, kd_options(sc));
    pocketrec::testing::fit(student, noisy, sc, "", &task.task);
    return pocketrec::testing::evaluate_test(student, clean, sc).get("ndcg@5");
  };
  const double with_kd = distil(true), without = distil(false);
  std::printf("test nDCG@5 %.3f with the KD terms, %.3f without\n", with_kd, without);
  EXPECT_GT(with_kd, without + 0.1);
}

// With the self-supervised terms off (beta = alpha = 0) the KD needs no common dimension: a student
// of half the teacher's d is built without heads, trains only its own network, and learns the cycle
// from the teacher's distributions far better than from its noisy labels alone.
TEST(OdRecKd, PlainKdTeachesAStudentOfAnotherDimension) {
  ProgressBar::set_enabled(false);
  const data::Dataset clean = pocketrec::testing::cycle_sessions();
  const data::Dataset noisy = pocketrec::testing::cycle_sessions(0.6);
  Config tc = session_config();
  auto teacher = make(tc, clean);
  pocketrec::testing::fit(teacher, clean, tc);
  const int64_t half = tc.integer("model.dim") / 2;
  auto distil = [&](double para) {
    Config sc = session_config();
    sc.set("model.dim", half, "t");
    sc.set("train.epochs", 10, "t");
    sc.set("train.checkpoint", false, "t");
    sc.set("distill.para", para, "t");
    sc.set("distill.beta", 0.0, "t");
    sc.set("distill.alpha", 0.0, "t");
    auto student = make(sc, noisy);
    distill::OdRecKdTask task = distill::make_odrec_kd_task(
        encoder(teacher), encoder(student), student.trainable->training_task(noisy), noisy, kd_options(sc));
    EXPECT_FALSE(task.heads);
    EXPECT_EQ(task.module->parameters().size(), student.trainable->network().parameters().size());
    pocketrec::testing::fit(student, noisy, sc, "", &task.task);
    return pocketrec::testing::evaluate_test(student, clean, sc).get("ndcg@5");
  };
  const double with_kd = distil(0.8), without = distil(0.0);
  std::printf("d = %lld student, test nDCG@5 %.3f with the KL term, %.3f without\n", static_cast<long long>(half),
              with_kd, without);
  EXPECT_GT(with_kd, without + 0.1);
  // The self-supervised terms mix teacher and student rows, so they refuse two dimensions.
  Config sc = session_config();
  sc.set("model.dim", half, "t");
  auto student = make(sc, noisy);
  EXPECT_THROW(distill::make_odrec_kd_task(encoder(teacher), encoder(student), student.trainable->training_task(noisy),
                                           noisy, kd_options(sc)),
               Error);
}

namespace {

// Two SASRec encoders (teacher and STT student, eval mode: no dropout) over cycle_sessions, the KD
// heads, items 0..14 hot, and a batch of pure sessions: rows 0 and 1 hot-only, rows 2 and 3 cold-only.
struct PureBatch {
  data::Dataset d = pocketrec::testing::cycle_sessions();
  Config c;
  models::ModelInstance teacher, student;
  distill::OdRecKdHeads heads{8};
  torch::Tensor is_hot;
  train::Batch batch;
  PureBatch() {
    c = session_config();
    teacher = make(c, d);
    Config sc = c;
    sc.set("model.item_table", "stt", "t");
    sc.set("model.stt_rank", 4, "t");
    torch::manual_seed(3);
    student = make(sc, d);
    teacher.trainable->network().eval();
    student.trainable->network().eval();
    is_hot = torch::zeros({d.n_items + 1}, torch::kBool);
    is_hot.slice(0, 0, 15).fill_(true);
    const int64_t pad = d.n_items, L = c.integer("model.max_len");
    std::vector<std::vector<int64_t>> rows = {{0, 1, 2}, {3, 4}, {20, 21, 22}, {25, 26}};
    std::vector<int64_t> seq(4 * L, pad), len, y = {3, 5, 23, 27};
    for (size_t r = 0; r < rows.size(); ++r) {
      std::copy(rows[r].begin(), rows[r].end(), seq.begin() + static_cast<int64_t>(r) * L);
      len.push_back(static_cast<int64_t>(rows[r].size()));
    }
    batch = {torch::tensor(seq).view({4, L}), torch::tensor(len), torch::tensor(y)};
  }
  torch::Tensor session(const models::ModelInstance& m) {
    models::SessionEncoder& e = encoder(m);
    return e.session_vectors(batch[0], batch[1], e.item_rows(batch[0], e.item_table()));
  }
};

}  // namespace

// The total is (1 - para) L_rec + para L_kd + beta L_cl + alpha L_pred (docs/design/odrec.md §3.3.5):
// the components do not depend on the weights, and the total follows them.
TEST(OdRecKd, TotalLossComposesTheComponentsWithTheirWeights) {
  PureBatch p;
  auto losses = [&](double para, double beta, double alpha) {
    distill::OdRecKdOptions o;
    o.para = para, o.beta = beta, o.alpha = alpha;
    torch::NoGradGuard g;
    return distill::odrec_kd_losses(encoder(p.teacher), encoder(p.student), p.heads, p.is_hot, p.batch, o);
  };
  const distill::OdRecKdLosses a = losses(0.8, 0.2, 0.001), b = losses(0.3, 1.5, 2.0), only_rec = losses(0, 0, 0);
  const double rec = a.rec.item<double>(), kd = a.kd.item<double>(), cl = a.cl.item<double>(),
               pred = a.pred.item<double>();
  for (double v : {rec, kd, cl, pred}) EXPECT_GT(v, 0.0);
  EXPECT_DOUBLE_EQ(b.rec.item<double>(), rec);
  EXPECT_DOUBLE_EQ(b.kd.item<double>(), kd);
  EXPECT_DOUBLE_EQ(b.cl.item<double>(), cl);
  EXPECT_DOUBLE_EQ(b.pred.item<double>(), pred);
  EXPECT_NEAR(a.total.item<double>(), 0.2 * rec + 0.8 * kd + 0.2 * cl + 0.001 * pred, 1e-5 * a.total.item<double>());
  EXPECT_NEAR(b.total.item<double>(), 0.7 * rec + 0.3 * kd + 1.5 * cl + 2.0 * pred, 1e-5 * b.total.item<double>());
  EXPECT_NEAR(only_rec.total.item<double>(), rec, 1e-6 * rec);
  // beta = alpha = 0 takes the plain-KD path (no views, no heads): the same L_rec and L_kd.
  const distill::OdRecKdLosses plain = losses(0.8, 0, 0);
  EXPECT_NEAR(plain.rec.item<double>(), rec, 1e-6 * rec);
  EXPECT_NEAR(plain.kd.item<double>(), kd, 1e-6 * kd);
  EXPECT_EQ(plain.cl.item<double>(), 0.0);
  EXPECT_EQ(plain.pred.item<double>(), 0.0);
  EXPECT_NEAR(plain.total.item<double>(), 0.2 * rec + 0.8 * kd, 1e-5 * plain.total.item<double>());
}

// The predictive loss on a batch of pure sessions (no mixed one, so no recombined views):
//   aligned (default)   u' = [s_T(cold-only); s_T(hot-only)], v' = [s_S(cold-only); s_S(hot-only)]
//   as published        u' = [s_S(hot-only); s_T(cold-only)], v' = [s_S(cold-only); s_T(hot-only)]
// both against the targets Y = [y(cold-only); y(hot-only)] (docs/design/odrec.md §3.3.4):
//   L_pred = CE(norm(u') E_S^T, Y) + CE(norm(v') E_T^T, Y), each a mean over the rows.
TEST(OdRecKd, PredictiveLossTargetsAreAlignedOrAsPublished) {
  PureBatch p;
  torch::NoGradGuard g;
  const torch::Tensor s_t = p.session(p.teacher), s_s = p.session(p.student);
  const torch::Tensor E_t = encoder(p.teacher).item_table(), E_s = encoder(p.student).item_table();
  const torch::Tensor Y = torch::tensor(std::vector<int64_t>{23, 27, 3, 5});  // cold-only rows 2, 3; hot-only 0, 1
  auto rows = [](const torch::Tensor& s, std::vector<int64_t> r) { return s.index_select(0, torch::tensor(r)); };
  auto unit = [](const torch::Tensor& x) { return x / x.norm(2, 1, true); };
  auto ce = [&](const torch::Tensor& q, const torch::Tensor& E) {
    return torch::nn::functional::cross_entropy(torch::matmul(unit(q).to(torch::kFloat64), E.t().to(torch::kFloat64)),
                                                Y)
        .item<double>();
  };
  const double aligned = ce(rows(s_t, {2, 3, 0, 1}), E_s) + ce(rows(s_s, {2, 3, 0, 1}), E_t);
  const double published = ce(torch::cat({rows(s_s, {0, 1}), rows(s_t, {2, 3})}), E_s) +
                           ce(torch::cat({rows(s_s, {2, 3}), rows(s_t, {0, 1})}), E_t);
  ASSERT_GT(std::abs(aligned - published), 1e-3);  // the two orders give different losses here
  for (const bool as_published : {false, true}) {
    distill::OdRecKdOptions o;
    o.as_published = as_published;
    const double got = distill::odrec_kd_losses(encoder(p.teacher), encoder(p.student), p.heads, p.is_hot, p.batch, o)
                           .pred.item<double>();
    EXPECT_NEAR(got, as_published ? published : aligned, 1e-5) << "as_published " << as_published;
  }
}
