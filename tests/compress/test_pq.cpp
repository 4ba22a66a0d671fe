// Product-quantised item tables: the rows against an explicit codebook gather (with and without a
// rotation), k-means recovering a planted clustering, a table that is exactly quantisable coded
// without loss (and a rotated one only with OPQ), the codebooks' gradient against central finite
// differences, the SVD codes' equal-frequency bins, and a PQ SASRec saved and reloaded bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "compress/product_quantization.h"
#include "core/error.h"
#include "core/progress.h"
#include "synthetic_data.h"
#include "test_util.h"
#include "torch_test_util.h"

using namespace pocketrec;
using compress::PqShape;

TEST(ProductQuantizedEmbedding, RowsAreTheGatheredCodewordsTimesTheRotation) {
  for (bool rotation : {false, true}) {
    const PqShape shape{12, 6, 3, 4, rotation};
    compress::ProductQuantizedEmbedding e(shape);
    torch::manual_seed(2);
    compress::PqCodes p = compress::pq_random(shape, 1.0, 7);
    if (rotation) p.rotation = std::get<0>(torch::linalg_qr(torch::randn({6, 6})));
    e->assign(p);
    torch::NoGradGuard g;
    const torch::Tensor table = e->full_table();
    ASSERT_EQ(table.sizes(), (std::vector<int64_t>{12, 6}));
    for (int64_t v = 0; v < 12; ++v) {
      std::vector<torch::Tensor> parts;
      for (int64_t m = 0; m < 3; ++m) parts.push_back(p.codebooks[m][p.codes[v][m].item<int64_t>()]);
      torch::Tensor row = torch::cat(parts);  // [6]
      if (rotation) row = torch::matmul(row.unsqueeze(0), p.rotation).squeeze(0);
      EXPECT_TRUE(torch::allclose(table[v], row, 1e-6, 1e-6)) << "row " << v << " rotation " << rotation;
    }
    const torch::Tensor ids = torch::tensor({int64_t{3}, int64_t{11}, int64_t{3}, int64_t{0}}).view({2, 2});
    EXPECT_TRUE(torch::equal(e->forward(ids), table.index_select(0, ids.view(-1)).view({2, 2, 6})));
  }
  EXPECT_THROW(compress::ProductQuantizedEmbedding(PqShape{12, 6, 4, 4, false}), Error);    // 4 does not divide 6
  EXPECT_THROW(compress::ProductQuantizedEmbedding(PqShape{12, 6, 3, 300, false}), Error);  // K > 256
}

// Three well separated clusters of 2-d points, shuffled: k-means recovers exactly the planted
// partition from any seed, and its centroids are the cluster means.
TEST(KMeans, RecoversAPlantedClustering) {
  torch::manual_seed(5);
  const torch::Tensor centers = torch::tensor({{0.0f, 0.0f}, {10.0f, 0.0f}, {0.0f, 10.0f}});
  const torch::Tensor label = torch::randint(3, {90}, torch::kInt64);
  const torch::Tensor x = centers.index_select(0, label) + 0.3 * torch::randn({90, 2});
  for (uint64_t seed : {1, 2, 3, 4}) {
    const compress::KMeans km = compress::kmeans(x, 3, 20, seed);
    std::map<int64_t, int64_t> found_of_planted;
    for (int64_t i = 0; i < 90; ++i) {
      const int64_t planted = label[i].item<int64_t>();
      auto [it, inserted] = found_of_planted.emplace(planted, km.assignment[i]);
      EXPECT_EQ(it->second, km.assignment[i]) << "seed " << seed << " row " << i;
    }
    std::set<int64_t> distinct;
    for (const auto& kv : found_of_planted) distinct.insert(kv.second);
    EXPECT_EQ(distinct.size(), 3u) << "seed " << seed;
    for (const auto& [planted, found] : found_of_planted) {
      const torch::Tensor mean = x.index_select(0, label.eq(planted).nonzero().view(-1)).mean(0);
      EXPECT_TRUE(torch::allclose(km.centroids[found], mean, 1e-4, 1e-4)) << "seed " << seed;
    }
    EXPECT_EQ(compress::kmeans(x, 3, 20, seed).assignment, km.assignment);  // deterministic for a seed
  }
  EXPECT_THROW(compress::kmeans(x.slice(0, 0, 2), 3, 5, 1), Error);  // fewer rows than centroids
}

// A table whose sub-spaces each take only K distinct values is coded without loss, with or without
// OPQ (which keeps the identity when no rotation does better); rotated by an orthogonal matrix it is
// not, and OPQ's learned rotation lowers the error below plain PQ's on the same table.
TEST(PqFromTable, QuantisableTablesAreCodedWithoutLossAndOpqLowersARotatedTablesError) {
  torch::manual_seed(3);
  const PqShape shape{64, 4, 2, 4, false};
  const torch::Tensor books = torch::randn({2, 4, 2}) * 3;
  const torch::Tensor codes = torch::randint(4, {64, 2}, torch::kInt64);
  torch::Tensor table =
      torch::cat({books[0].index_select(0, codes.select(1, 0)), books[1].index_select(0, codes.select(1, 1))}, 1);
  const compress::PqCodes exact = compress::pq_from_table(table, shape, 20, 1);
  EXPECT_LT(exact.distortion, 1e-10);
  compress::ProductQuantizedEmbedding e(shape);
  e->assign(exact);
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(e->full_table(), table, 1e-5, 1e-5));

  const torch::Tensor q = std::get<0>(torch::linalg_qr(torch::randn({4, 4})));
  const torch::Tensor rotated = torch::matmul(table, q);
  const double plain = compress::pq_from_table(rotated, shape, 20, 1).distortion;
  PqShape with_rotation = shape;
  with_rotation.rotation = true;
  const compress::PqCodes opq = compress::pq_from_table(rotated, with_rotation, 20, 1, /*rounds=*/10);
  EXPECT_GT(plain, 0.01);
  EXPECT_LT(opq.distortion, 0.9 * plain);
  EXPECT_LT(compress::pq_from_table(table, with_rotation, 20, 1, 10).distortion, 1e-10);
  EXPECT_TRUE(torch::allclose(torch::matmul(opq.rotation, opq.rotation.t()), torch::eye(4), 1e-4, 1e-4));
  compress::ProductQuantizedEmbedding er(with_rotation);
  er->assign(opq);
  const double err = (er->full_table() - rotated).pow(2).sum().item<double>() / rotated.pow(2).sum().item<double>();
  EXPECT_NEAR(err, opq.distortion, 1e-5);
}

// The loss's gradient with respect to the codebooks (an index_add over the items using each
// codeword) against central differences, in double, with a rotation.
TEST(ProductQuantizedEmbedding, CodebookGradientsMatchFiniteDifferences) {
  const PqShape shape{10, 4, 2, 3, true};
  compress::ProductQuantizedEmbedding e(shape);
  torch::manual_seed(4);
  compress::PqCodes p = compress::pq_random(shape, 1.0, 3);
  p.rotation = std::get<0>(torch::linalg_qr(torch::randn({4, 4})));
  e->assign(p);
  e->to(torch::kFloat64);
  const torch::Tensor ids = torch::tensor({int64_t{1}, int64_t{4}, int64_t{4}, int64_t{9}});
  const torch::Tensor w = torch::randn({4, 4}, torch::kFloat64);
  auto loss = [&] { return (e->forward(ids) * w).sum() + 0.5 * e->full_table().pow(2).sum(); };
  e->zero_grad();
  loss().backward();
  pocketrec::testing::expect_gradient_matches_central_differences(e->codebooks(), loss, "codebooks");
  EXPECT_FALSE(e->codes().requires_grad());  // the codes are frozen
}

// SVD codes: every code is a bin of its sub-space's loading with n/K items each (equal frequency).
TEST(PqFromSvd, CodesAreEqualFrequencyBins) {
  const data::Dataset d = pocketrec::testing::community_users();
  const PqShape shape{d.n_items, 8, 4, 5, false};
  const compress::PqCodes p = compress::pq_from_svd(d.train, shape, 0.1, 1);
  ASSERT_EQ(p.codes.sizes(), (std::vector<int64_t>{100, 4}));
  for (int64_t m = 0; m < 4; ++m) {
    const torch::Tensor counts = torch::bincount(p.codes.select(1, m), {}, 5);
    EXPECT_TRUE(torch::equal(counts, torch::full({5}, 20, torch::kInt64))) << "sub-space " << m;
  }
  EXPECT_TRUE(torch::equal(compress::pq_from_svd(d.train, shape, 0.1, 1).codes, p.codes));  // deterministic
}

// A PQ SASRec (SVD codes: no teacher needed) trained for two epochs, saved and reloaded: identical
// scores; its size is the codebooks' floats plus one byte per code.
TEST(PqSasRec, SavesAndReloadsBitForBit) {
  ProgressBar::set_enabled(false);
  const data::Dataset d = pocketrec::testing::cycle_sessions();
  Config c = pocketrec::testing::small_torch_config("sasrec");
  c.set("model.sasrec_variant", "odrec", "t");
  c.set("model.item_table", "pq", "t");
  c.set("model.pq_codes", "svd", "t");
  c.set("model.pq_subspaces", 4, "t");
  c.set("model.pq_codewords", 8, "t");
  c.set("train.epochs", 2, "t");
  c.set("eval.mask_history", false, "t");
  auto m = pocketrec::testing::make_model(c, d);
  EXPECT_EQ(m.session_encoder->item_table_size().parameters, 4 * 8 * 2);
  EXPECT_EQ(m.session_encoder->item_table_size().code_bytes, 30 * 4);
  EXPECT_FALSE(m.session_encoder->item_table_needs_teacher());
  pocketrec::testing::fit(m, d, c);
  pocketrec::testing::TempDir t;
  m->save(t.path() + "/m.prarr");
  auto back = pocketrec::testing::make_model(c, d);
  back->load(t.path() + "/m.prarr");
  EXPECT_EQ(pocketrec::testing::evaluate_test(back, d, c).values, pocketrec::testing::evaluate_test(m, d, c).values);
  c.set("model.pq_codes", "teacher", "t");
  EXPECT_TRUE(pocketrec::testing::make_model(c, d).session_encoder->item_table_needs_teacher());
}
