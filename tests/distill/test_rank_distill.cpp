// Ranking Distillation: the weights against hand-computed values (docs/design/rankdistill.md §4.2.3), the
// sampled rank estimator against the exact rank, the loss and its gradient against finite
// differences, the teacher top-K cache (exclusions, round trip, refusal of another teacher's
// cache), distilled Caser, Fossil and SASRec students learning the community data, and the
// distillation term pulling a student towards a teacher's arbitrary top-K.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/config.h"
#include "core/progress.h"
#include "core/text.h"
#include "distill/rank_distill.h"
#include "distill/topk_teacher_cache.h"
#include "eval/evaluator.h"
#include "models/sampled_item_task.h"
#include "models/torch_models.h"
#include "synthetic_data.h"
#include "test_util.h"
#include "torch_test_util.h"

using namespace pocketrec;
using namespace pocketrec::distill;

namespace {

double softplus(double x) {
  return std::log1p(std::exp(x));
}

std::vector<float> values(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous().to(torch::kFloat32);
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

}  // namespace

TEST(RankDistillWeights, PositionImportanceMatchesThePaper) {
  // lambda = 1, K = 10 (docs/design/rankdistill.md §4.2.3).
  const std::vector<float> expected = {0.6322f, 0.2326f, 0.0856f, 0.0315f, 0.0116f,
                                       0.0043f, 0.0016f, 0.0006f, 0.0002f, 0.0001f};
  std::vector<float> w = values(position_weights(10, 1.0));
  ASSERT_EQ(w.size(), expected.size());
  // The spec rounds to 4 decimals (0.63215 is printed 0.6322).
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(w[i], expected[i], 6e-5) << i;
  EXPECT_NEAR(std::accumulate(w.begin(), w.end(), 0.0), 1.0, 1e-6);
  // A larger lambda flattens them: lambda = 2, K = 2 gives e^-0.5 / (e^-0.5 + e^-1) = 0.6225.
  EXPECT_NEAR(values(position_weights(2, 2.0))[0], 0.622459, 1e-6);
}

TEST(RankDistillWeights, DiscrepancyIsTanhOfTheRankGapClampedAtZero) {
  // Student ranks (0-based) of the teacher's ranks 0..3.
  torch::Tensor rhat = torch::tensor({{0.0f, 5.0f, 30.0f, 1.0f}});
  std::vector<float> w = values(discrepancy_weights(rhat, 0.1));
  EXPECT_FLOAT_EQ(w[0], 0.0f);                         // same rank: no discrepancy
  EXPECT_NEAR(w[1], std::tanh(0.1 * (5 - 1)), 1e-6);   // 0.379949
  EXPECT_NEAR(w[2], std::tanh(0.1 * (30 - 2)), 1e-6);  // 0.992632
  EXPECT_FLOAT_EQ(w[3], 0.0f);                         // ranked above the teacher: clamped
}

TEST(RankDistillWeights, HybridAndItsRenormalisation) {
  RankDistillOptions o;
  o.k = 3;
  o.lambda = 1.0;
  o.weighting = RdWeighting::kHybrid;
  torch::Tensor w_b = torch::tensor({{1.0f, 0.5f, 0.0f}, {0.0f, 0.0f, 0.0f}});
  // w^a = (e^-1, e^-2, e^-3) / sum = (0.665241, 0.244728, 0.090031).
  std::vector<float> raw = values(rank_distill_weights(o, 2, &w_b));
  EXPECT_NEAR(raw[0], 0.665241, 1e-6);
  EXPECT_NEAR(raw[1], 0.122364, 1e-6);
  EXPECT_FLOAT_EQ(raw[2], 0.0f);
  o.renormalize = true;  // the paper: w^a w^b / sum_i w^a_i w^b_i
  std::vector<float> norm = values(rank_distill_weights(o, 2, &w_b));
  EXPECT_NEAR(norm[0], 0.844638, 1e-6);
  EXPECT_NEAR(norm[1], 0.155362, 1e-6);
  EXPECT_FLOAT_EQ(norm[2], 0.0f);
  for (int i = 3; i < 6; ++i) EXPECT_FLOAT_EQ(norm[i], 0.0f);  // an all-zero row stays zero
  // Before the discrepancy starts, hybrid is position importance; uniform is 1/K.
  EXPECT_NEAR(values(rank_distill_weights(o, 1, nullptr))[0], 0.665241, 1e-6);
  o.weighting = RdWeighting::kUniform;
  o.renormalize = false;
  EXPECT_NEAR(values(rank_distill_weights(o, 1, nullptr))[2], 1.0 / 3, 1e-7);
}

TEST(RankDistillWeights, EstimatedRankFollowsTheReferenceFormula) {
  // 2 of 4 samples strictly above the candidate, 100 items: floor(100 * 2 / 4) = 50; ties do not count.
  torch::Tensor cand = torch::tensor({{0.5f, 2.0f}});
  torch::Tensor sampled = torch::tensor({{0.9f, 0.1f, 0.6f, 0.5f}});
  std::vector<float> r = values(estimated_ranks(cand, sampled, 100));
  EXPECT_FLOAT_EQ(r[0], 50.0f);
  EXPECT_FLOAT_EQ(r[1], 0.0f);
}

TEST(RankDistillWeights, SampledRankIsUnbiasedForTheExactRank) {
  // 1,000 items with distinct scores; items drawn uniformly with replacement (as the reference
  // does); the estimate averaged over many draws approaches the exact 0-based rank.
  const int64_t N = 1000, eps = 100, reps = 3000;
  std::mt19937_64 rng(5);
  std::vector<float> scores(N);
  std::iota(scores.begin(), scores.end(), 0.0f);
  std::shuffle(scores.begin(), scores.end(), rng);
  for (const float candidate : {749.0f, 499.0f, 99.0f}) {
    const double exact = static_cast<double>(N - 1 - static_cast<int64_t>(candidate));  // items scoring above
    torch::Tensor sampled = torch::empty({reps, eps});
    std::uniform_int_distribution<int64_t> pick(0, N - 1);
    float* p = sampled.data_ptr<float>();
    for (int64_t i = 0; i < reps * eps; ++i) p[i] = scores[static_cast<size_t>(pick(rng))];
    torch::Tensor r = estimated_ranks(torch::full({reps, 1}, candidate), sampled, N);
    const double mean = r.mean().item<double>();
    // One estimate has sd N * sqrt(q(1-q)/eps) <= 50, so the mean of 3,000 has sd <= 0.92.
    EXPECT_NEAR(mean, exact, 4.0) << "candidate score " << candidate;
  }
}

TEST(RankDistillLoss, ValueAndGradientAgainstFiniteDifferences) {
  for (const bool paper : {false, true}) {
    RankDistillOptions o;
    o.k = 2;
    o.alpha = paper ? 0.3 : 1.0;
    o.paper_loss = paper;
    torch::Tensor pos = torch::tensor({{0.3}, {-1.2}}, torch::kFloat64).requires_grad_();
    torch::Tensor neg = torch::tensor({{-0.2, 0.1}, {0.7, 2.0}}, torch::kFloat64).requires_grad_();
    torch::Tensor cand = torch::tensor({{1.0, -0.5}, {0.2, 3.0}}, torch::kFloat64).requires_grad_();
    torch::Tensor w = torch::tensor({{0.7, 0.3}, {0.5, 0.1}}, torch::kFloat64);
    torch::Tensor l = rank_distill_loss(pos, neg, cand, w, o);
    // By hand: per row L_R = softplus(-pos) + sum softplus(neg), L_D = sum w softplus(-cand).
    const double lr0 = softplus(-0.3) + softplus(-0.2) + softplus(0.1),
                 ld0 = 0.7 * softplus(-1.0) + 0.3 * softplus(0.5);
    const double lr1 = softplus(1.2) + softplus(0.7) + softplus(2.0), ld1 = 0.5 * softplus(-0.2) + 0.1 * softplus(-3.0);
    const double a = o.alpha, cr = paper ? 1 - a : 1.0;
    EXPECT_NEAR(l.item<double>(), 0.5 * (cr * lr0 + a * ld0 + cr * lr1 + a * ld1), 1e-12);
    l.backward();
    for (torch::Tensor* t : {&pos, &neg, &cand}) {
      torch::Tensor flat = t->detach().view(-1), g = t->grad().view(-1);
      for (int64_t i = 0; i < flat.numel(); ++i) {
        const double h = 1e-6, orig = flat[i].item<double>();
        torch::NoGradGuard ng;
        flat[i] = orig + h;
        const double plus = rank_distill_loss(pos, neg, cand, w, o).item<double>();
        flat[i] = orig - h;
        const double minus = rank_distill_loss(pos, neg, cand, w, o).item<double>();
        flat[i] = orig;
        EXPECT_NEAR(g[i].item<double>(), (plus - minus) / (2 * h), 1e-8);
      }
    }
  }
}

namespace {

// A stand-in teacher over 4 users x 12 items: item j scores 12 - j for every sample (so the best
// items are 0, 1, 2, ...), user u's training sequence is (u, u+4).
struct FixedTeacher {
  data::Sequences train;
  data::SampleIndex samples;
  std::unique_ptr<data::NegativeSampler> sampler;
  torch::nn::Module module;
  models::SampledItemTask task;
  FixedTeacher() {
    for (int32_t u = 0; u < 4; ++u) train.append(std::vector<int32_t>{u, u + 4});
    samples = data::make_next_item_samples(train, 1);  // one sample per user: target u + 4
    sampler = std::make_unique<data::NegativeSampler>(train, 12, true);
    task.module = &module;
    task.train = &train;
    task.samples = &samples;
    task.sampler = sampler.get();
    task.n_items = 12;
    task.score_all = [](const int64_t*, size_t n) {
      return (12 - torch::arange(12, torch::kFloat32)).unsqueeze(0).repeat({static_cast<int64_t>(n), 1});
    };
  }
};

}  // namespace

TEST(TopKTeacherCache, ExcludesTheHistoryOrOnlyTheTargetAndRoundTrips) {
  ProgressBar::set_enabled(false);
  FixedTeacher t;
  TopKCacheKey key{"teacher", "hash-1", "data-A", 3, TopKExclusion::kHistory};
  TopKTeacherCache c = TopKTeacherCache::build(t.task, key, /*batch=*/3);
  ASSERT_EQ(c.size(), 4);
  // User 1 saw items 1 and 5: the best unobserved are 0, 2, 3.
  EXPECT_EQ(std::vector<int32_t>(c.row(1), c.row(1) + 3), (std::vector<int32_t>{0, 2, 3}));
  // As published, only the target (5) is excluded: 0, 1, 2.
  TopKCacheKey loose = key;
  loose.exclusion = TopKExclusion::kTarget;
  TopKTeacherCache p = TopKTeacherCache::build(t.task, loose);
  EXPECT_EQ(std::vector<int32_t>(p.row(1), p.row(1) + 3), (std::vector<int32_t>{0, 1, 2}));

  pocketrec::testing::TempDir dir;
  const std::string path = dir.path() + "/topk.prarr";
  c.save(path);
  TopKTeacherCache back = TopKTeacherCache::load_or_build(path, t.task, key);
  for (int64_t s = 0; s < 4; ++s)
    EXPECT_EQ(std::vector<int32_t>(back.row(s), back.row(s) + 3), std::vector<int32_t>(c.row(s), c.row(s) + 3));
  // Another teacher, other data, another K or exclusion: refused, naming the file and the difference.
  TopKCacheKey other = key;
  other.teacher_hash = "hash-2";
  std::string msg = pocketrec::testing::error_of([&] { TopKTeacherCache::load(path, other); });
  EXPECT_NE(msg.find(path + ": this teacher top-K cache was built for another teacher"), std::string::npos) << msg;
  other = key;
  other.data_fingerprint = "data-B";
  msg = pocketrec::testing::error_of([&] { TopKTeacherCache::load(path, other); });
  EXPECT_NE(msg.find("another training data"), std::string::npos) << msg;
  msg = pocketrec::testing::error_of([&] { TopKTeacherCache::load(path, loose); });
  EXPECT_NE(msg.find("another exclusion rule"), std::string::npos) << msg;
  // A truncated cache is refused by the archive's checks.
  const std::string bytes = read_file(path);
  pocketrec::testing::TempDir d2;
  const std::string cut = d2.file("cut.prarr", bytes.substr(0, bytes.size() - 9));
  msg = pocketrec::testing::error_of([&] { TopKTeacherCache::load(cut, key); });
  EXPECT_NE(msg.find("cut.prarr"), std::string::npos) << msg;
}

// load() checks every cached item against the catalogue and the row count against the samples.
TEST(TopKTeacherCache, LoadRefusesItemsOutsideTheCatalogueAndAnotherSampleCount) {
  ProgressBar::set_enabled(false);
  FixedTeacher t;
  TopKCacheKey key{"teacher", "hash-1", "data-A", 3, TopKExclusion::kHistory};
  pocketrec::testing::TempDir dir;
  const std::string path = dir.path() + "/topk.prarr";
  TopKTeacherCache::build(t.task, key).save(path);
  key.n_items = 12;
  key.n_samples = 4;
  EXPECT_EQ(TopKTeacherCache::load(path, key).size(), 4);
  TopKCacheKey fewer_items = key;
  fewer_items.n_items = 2;  // the cache names items 0..3
  std::string msg = pocketrec::testing::error_of([&] { TopKTeacherCache::load(path, fewer_items); });
  EXPECT_NE(msg.find(path + ": row 0 holds item 2, outside [0, 2)"), std::string::npos) << msg;
  TopKCacheKey more_samples = key;
  more_samples.n_samples = 5;
  msg = pocketrec::testing::error_of([&] { TopKTeacherCache::load(path, more_samples); });
  EXPECT_NE(msg.find(path + ": 4 rows for 5 training samples"), std::string::npos) << msg;
}

// The samples' fingerprint hashes the training data and every sample in order: swapping two
// samples, moving one target position or changing one training item each change it.
TEST(TopKTeacherCache, SamplesFingerprintSeesEverySampleInOrder) {
  data::Dataset d = pocketrec::testing::community_users();
  FixedTeacher t;
  models::SampledItemTask task = t.task;
  data::SampleIndex samples = data::make_next_item_samples(d.train, 1);
  task.samples = &samples;
  const std::string base = samples_fingerprint(d, task);
  EXPECT_NE(base.find(" hash="), std::string::npos) << base;
  EXPECT_EQ(base.size() - base.find(" hash=") - 6, 16u) << base;  // 64 bits in hex
  data::SampleIndex swapped = samples;
  std::swap(swapped.seq[3], swapped.seq[40]);
  std::swap(swapped.pos[3], swapped.pos[40]);
  task.samples = &swapped;
  EXPECT_NE(samples_fingerprint(d, task), base);
  data::SampleIndex moved = samples;
  moved.pos[7] += 1;
  task.samples = &moved;
  EXPECT_NE(samples_fingerprint(d, task), base);
  task.samples = &samples;
  data::Dataset changed = d;
  changed.train.items[5] = (changed.train.items[5] + 1) % changed.n_items;
  EXPECT_NE(samples_fingerprint(changed, task), base);
  EXPECT_EQ(samples_fingerprint(d, task), base);
}

namespace {

Config rd_config(const std::string& model, int64_t dim) {
  Config c = pocketrec::testing::small_torch_config(model);
  c.set("model.dim", dim, "t");
  c.set("train.epochs", 30, "t");
  c.set("train.patience", 0, "t");
  c.set("train.eval_every", 10, "t");
  c.set("train.checkpoint", false, "t");
  c.set("distill.rd_k", 5, "t");
  c.set("distill.rd_samples", 20, "t");
  c.set("distill.rd_start_epoch", 10, "t");
  return c;
}

models::ModelInstance make(const Config& c, const data::Dataset& d) {
  return pocketrec::testing::make_model(c, d);
}

RankDistillOptions rd_options(const Config& c) {
  return app::run_settings(c).distill.rd;
}

// Trains `student` with the RD task over `st` and `cache` as `pocketrec distill` does.
void distil_with(models::ModelInstance& student, const models::SampledItemTask& st, const TopKTeacherCache& cache,
                 const data::Dataset& d, const Config& sc) {
  train::TrainTask task = rank_distill_task(st, cache, st.neg_samples, rd_options(sc));
  pocketrec::testing::fit(student, d, sc, "", &task);
}

double test_ndcg(const models::Recommender& m, const data::Dataset& d, const Config& c) {
  auto s = m.make_scorer(d);
  return eval::evaluate(d.test, *s, pocketrec::testing::eval_options(c)).get("ndcg@5");
}

class RankDistillStudent : public ::testing::TestWithParam<std::string> {};

}  // namespace

// Knowledge the labels do not carry: each user's training sequence mixes 3 items of the user's own
// community with 4 random items of others (noisy_community_users); validation and test items are
// the community's. A teacher that knows the communities (its top-K for a user: the community's
// items the user has not seen) makes the distilled student (alpha = 1) rank the test items well
// above the same student trained on the labels alone (alpha = 0), in the same number of epochs
// (measured: nDCG@5 0.26 vs 0.05 for Caser, 0.30 vs 0.08 for Fossil, 0.16 vs 0.05 for SASRec).
TEST_P(RankDistillStudent, DistillationTeachesWhatTheNoisyLabelsDoNot) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::noisy_community_users();
  const TopKCacheKey key{"t", "h", "d", 5, TopKExclusion::kHistory};
  auto student_ndcg = [&](double alpha) {
    Config sc = rd_config(GetParam(), 8);
    sc.set("distill.rd_alpha", alpha, "t");
    auto student = make(sc, d);
    models::SampledItemTask st = student.sampled_items->sampled_item_task(d);
    models::SampledItemTask knowing = st;
    knowing.score_all = [&d, &st](const int64_t* ids, size_t n) {
      torch::Tensor s = torch::zeros({static_cast<int64_t>(n), st.n_items});
      for (size_t b = 0; b < n; ++b) {
        const int64_t c = pocketrec::testing::community_of_user(st.user(ids[b]));
        s[static_cast<int64_t>(b)].slice(0, c * 10, c * 10 + 10).fill_(1.0f);
      }
      return s;
    };
    TopKTeacherCache cache = TopKTeacherCache::build(knowing, key);
    distil_with(student, st, cache, d, sc);
    return test_ndcg(*student, d, sc);
  };
  const double with_kd = student_ndcg(1.0), without = student_ndcg(0.0);
  std::printf("%s: test nDCG@5 %.3f with the teacher's top-K, %.3f without\n", GetParam().c_str(), with_kd, without);
  EXPECT_GT(with_kd, 2 * without) << GetParam();
  EXPECT_GT(with_kd - without, 0.05) << GetParam();
}

// The hybrid weights' discrepancy factor (and its rank samples) starts in the epoch after
// distill.rd_start_epoch: the batches of epochs 1 and 2 score 1 + n_neg + K items per sample, those
// of epoch 3 also the eps rank samples; position weighting never draws them.
TEST(RankDistillTask, DiscrepancyStartsAfterTheStartEpoch) {
  data::Dataset d = pocketrec::testing::community_users();
  Config sc = rd_config("caser", 4);
  sc.set("distill.rd_start_epoch", 2, "t");
  sc.set("distill.rd_samples", 7, "t");
  auto student = make(sc, d);
  models::SampledItemTask st = student.sampled_items->sampled_item_task(d);
  const TopKTeacherCache cache = TopKTeacherCache::build(st, TopKCacheKey{"t", "h", "d", 5, TopKExclusion::kHistory});
  int64_t columns = 0;
  models::SampledItemTask recorded = st;
  recorded.make_batch = [&](const int64_t* ids, size_t n, const std::vector<int64_t>& items, int64_t m) {
    columns = m;
    return st.make_batch(ids, n, items, m);
  };
  const int64_t n_neg = 2;
  for (const std::string weighting : {"hybrid", "position"}) {
    sc.set("distill.rd_weighting", weighting, "t");
    train::TrainTask task = rank_distill_task(recorded, cache, n_neg, rd_options(sc));
    const std::vector<int64_t> ids = {0, 1, 2};
    for (int64_t epoch = 1; epoch <= 3; ++epoch) {
      task.on_epoch_begin(epoch);
      std::mt19937_64 rng(1);
      task.make_batch(ids.data(), ids.size(), rng);
      const bool discrepancy = weighting == "hybrid" && epoch > 2;
      EXPECT_EQ(columns, 1 + n_neg + 5 + (discrepancy ? 7 : 0)) << weighting << " epoch " << epoch;
    }
  }
}

// The distillation term does the pulling: a "teacher" that ranks first, for every user, the items of
// another community (nothing in the data points there) makes a student trained with alpha = 1 put
// those items into its own top-5 far more often than the same student trained with alpha = 0.
TEST_P(RankDistillStudent, TheDistillationTermPullsTheStudentToTheTeachersItems) {
  ProgressBar::set_enabled(false);
  data::Dataset d = pocketrec::testing::community_users();
  const TopKCacheKey key{"t", "h", "d", 5, TopKExclusion::kHistory};
  auto distil = [&](double alpha, const TopKTeacherCache* given) {
    Config sc = rd_config(GetParam(), 4);
    sc.set("distill.rd_alpha", alpha, "t");
    auto student = make(sc, d);
    models::SampledItemTask st = student.sampled_items->sampled_item_task(d);
    // Items of community (c + 3) mod 10 for a user of community c (communities of 10 items, user u in u mod 10).
    models::SampledItemTask foreign = st;
    foreign.score_all = [&st](const int64_t* ids, size_t n) {
      torch::Tensor s = torch::zeros({static_cast<int64_t>(n), st.n_items});
      for (size_t b = 0; b < n; ++b) {
        const int64_t c = (st.user(ids[b]) % 10 + 3) % 10;
        s[static_cast<int64_t>(b)].slice(0, c * 10, c * 10 + 10).fill_(1.0f);
      }
      return s;
    };
    TopKTeacherCache cache = given ? *given : TopKTeacherCache::build(foreign, key);
    distil_with(student, st, cache, d, sc);
    TopKTeacherCache own = TopKTeacherCache::build(st, key);
    double common = 0;
    for (int64_t s = 0; s < cache.size(); ++s)
      for (int64_t j = 0; j < 5; ++j) common += std::count(cache.row(s), cache.row(s) + 5, own.row(s)[j]);
    return std::make_pair(cache, common / static_cast<double>(5 * cache.size()));
  };
  auto [cache, agree_rd] = distil(1.0, nullptr);
  const double agree_plain = distil(0.0, &cache).second;
  EXPECT_GT(agree_rd, agree_plain + 0.1) << GetParam();
  std::printf("%s: share of the teacher's top-5 in the student's: %.3f (alpha = 1) vs %.3f (alpha = 0)\n",
              GetParam().c_str(), agree_rd, agree_plain);
}

// Scoring the rank-sample columns outside autograd changes nothing the loss sees: the same scores
// (bit for bit, in training mode with the same dropout draw) and the same parameter gradients of a
// loss on the differentiable columns, and those columns alone carry a graph.
TEST_P(RankDistillStudent, RankSamplesScoredWithoutAutogradGiveTheSameScoresAndGradients) {
  data::Dataset d = pocketrec::testing::community_users();
  Config sc = rd_config(GetParam(), 4);
  auto student = make(sc, d);
  models::SampledItemTask st = student.sampled_items->sampled_item_task(d);
  const int64_t n = 6, m = 9, with_grad = 4;
  std::vector<int64_t> ids(n), items(n * m);
  std::iota(ids.begin(), ids.end(), 0);
  for (size_t i = 0; i < items.size(); ++i) items[i] = static_cast<int64_t>((i * 7) % st.n_items);
  const train::Batch batch = st.make_batch(ids.data(), ids.size(), items, m);
  st.module->train();
  auto run = [&](int64_t columns_with_grad) {
    torch::manual_seed(11);  // the same dropout masks in both runs
    for (auto& p : st.module->parameters()) p.mutable_grad() = torch::Tensor();
    torch::Tensor s = st.scores(batch, columns_with_grad);
    (s.slice(1, 0, with_grad) * torch::linspace(-1, 1, n * with_grad).view({n, with_grad})).sum().backward();
    std::vector<torch::Tensor> grads;
    for (auto& p : st.module->parameters())
      grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return std::make_pair(s.detach(), grads);
  };
  auto [all_scores, all_grads] = run(m);
  auto [split_scores, split_grads] = run(with_grad);
  ASSERT_EQ(split_scores.sizes(), (std::vector<int64_t>{n, m}));
  EXPECT_TRUE(torch::equal(all_scores, split_scores)) << GetParam();
  ASSERT_EQ(all_grads.size(), split_grads.size());
  double total = 0;
  for (size_t i = 0; i < all_grads.size(); ++i) {
    EXPECT_LT((all_grads[i] - split_grads[i]).abs().max().item<float>(), 1e-6f) << GetParam() << " parameter " << i;
    total += all_grads[i].abs().sum().item<double>();
  }
  EXPECT_GT(total, 0.0);
  {
    torch::manual_seed(11);
    torch::Tensor rest = st.scores(batch, with_grad).slice(1, with_grad);
    // A slice of the concatenation keeps a graph, but no parameter gradient can come from it.
    for (auto& p : st.module->parameters()) p.mutable_grad() = torch::Tensor();
    rest.sum().backward();
    for (auto& p : st.module->parameters())
      EXPECT_TRUE(!p.grad().defined() || p.grad().abs().max().item<float>() == 0.0f) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(Models, RankDistillStudent, ::testing::Values("caser", "fossil", "sasrec"));
