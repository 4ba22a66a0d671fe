// Semi-tensor-train item tables: the semi-tensor product against an explicit Kronecker product,
// the paper's parameter counts, both layouts' row lookups against the full reconstruction and
// against the layout formulas, the cores' gradient against central finite differences, and the
// teacher-guided item order (a planted structure recovered; the ordered table's rows).
#include <gtest/gtest.h>

#include <algorithm>

#include "compress/item_order.h"
#include "compress/semi_tensor_train.h"
#include "compress/stt_shape.h"
#include "core/config.h"
#include "core/error.h"
#include "torch_test_util.h"

using namespace pocketrec;
using compress::SttLayout;
using compress::SttShape;

namespace {

SttShape shape(std::vector<int64_t> items, std::vector<int64_t> dims, int64_t R, int64_t t, SttLayout layout) {
  SttShape s;
  s.items = std::move(items);
  s.dims = std::move(dims);
  s.rank = R;
  s.t = t;
  s.layout = layout;
  return s;
}

}  // namespace

TEST(SemiTensorProduct, EqualsTheKroneckerForm) {
  torch::manual_seed(1);
  for (int64_t t : {1, 2, 4}) {
    torch::Tensor A = torch::randn({5, 3 * t}, torch::kFloat64), B = torch::randn({3, 7}, torch::kFloat64);
    torch::Tensor expected = torch::matmul(A, torch::kron(B, torch::eye(t, torch::kFloat64)));  // A (B ⊗ I_t)
    torch::Tensor got = compress::semi_tensor_product(A, B, t);
    ASSERT_EQ(got.sizes(), expected.sizes()) << "t=" << t;
    EXPECT_TRUE(torch::allclose(got, expected, 1e-12, 1e-12)) << "t=" << t;
    // Batched: every batch element is its own product.
    torch::Tensor Ab = torch::randn({4, 2, 3 * t}, torch::kFloat64), Bb = torch::randn({4, 3, 5}, torch::kFloat64);
    torch::Tensor gb = compress::semi_tensor_product(Ab, Bb, t);
    for (int64_t b = 0; b < 4; ++b)
      EXPECT_TRUE(torch::allclose(gb[b], torch::matmul(Ab[b], torch::kron(Bb[b], torch::eye(t, torch::kFloat64)))));
  }
  EXPECT_THROW(compress::semi_tensor_product(torch::zeros({2, 5}), torch::zeros({3, 2}), 2), Error);
}

TEST(SttShape, ParameterCountsOfTheOdRecConfigurations) {
  // docs/design/odrec.md §2.3: Tmall default, Tmall 3 cores, RetailRocket 2 and 3 cores.
  EXPECT_EQ(shape({169, 241}, {16, 8}, 60, 2, SttLayout::kCanonical).n_parameters(), 191160);
  EXPECT_EQ(shape({13, 13, 241}, {8, 4, 4}, 60, 2, SttLayout::kCanonical).n_parameters(), 67500);
  EXPECT_EQ(shape({117, 316}, {16, 16}, 60, 2, SttLayout::kCanonical).n_parameters(), 188160);
  EXPECT_EQ(shape({18, 26, 79}, {8, 8, 4}, 60, 2, SttLayout::kCanonical).n_parameters(), 200580);
  EXPECT_EQ(shape({169, 241}, {16, 8}, 100, 2, SttLayout::kCanonical).n_parameters(), 318600);  // mobile.py
  auto cs = shape({18, 26, 79}, {8, 8, 4}, 60, 2, SttLayout::kCanonical);
  EXPECT_EQ(cs.core_shape(0), (std::pair<int64_t, int64_t>{144, 60}));
  EXPECT_EQ(cs.core_shape(1), (std::pair<int64_t, int64_t>{30, 6240}));
  EXPECT_EQ(cs.core_shape(2), (std::pair<int64_t, int64_t>{30, 158}));
}

// The Tmall item tables as the models build them (40,728 items, d = 128): the dense teacher's
// 40,729 x 128 rows (the padding row included) against the 2-core STT student's cores, 27.3x fewer.
TEST(SttShape, TmallTablesAsTheModelsBuildThem) {
  data::Dataset d;
  d.n_items = 40728;
  d.has_users = false;
  Config c;
  c.set("model.name", "sasrec", "t");
  c.set("model.sasrec_variant", "odrec", "t");
  c.set("model.dim", 128, "t");
  c.set("model.layers", 1, "t");
  auto teacher = pocketrec::testing::make_model(c, d);
  c.set("model.item_table", "stt", "t");
  c.set("model.stt_items", nlohmann::json::array({169, 241}), "t");
  c.set("model.stt_dims", nlohmann::json::array({16, 8}), "t");
  auto student = pocketrec::testing::make_model(c, d);
  const int64_t dense = teacher.session_encoder->item_table_size().parameters;
  const int64_t cores = student.session_encoder->item_table_size().parameters;
  EXPECT_EQ(dense, 5213312);
  EXPECT_EQ(cores, 191160);
  EXPECT_NEAR(static_cast<double>(dense) / static_cast<double>(cores), 27.27, 0.01);
}

TEST(SttShape, ChoosesBalancedFactorsAndValidates) {
  SttShape s = SttShape::choose(40727, 128, 60, 2, 2, SttLayout::kCanonical);
  EXPECT_EQ(s.dims, (std::vector<int64_t>{16, 8}));
  EXPECT_EQ(s.items, (std::vector<int64_t>{201, 203}));  // 40,803 rows >= 40,727 items
  EXPECT_EQ(SttShape::choose(36968, 256, 60, 2, 3, SttLayout::kCanonical).dims, (std::vector<int64_t>{8, 8, 4}));
  EXPECT_EQ(SttShape::choose(1000, 96, 8, 4, 2, SttLayout::kCanonical).dims, (std::vector<int64_t>{12, 8}));
  EXPECT_THROW(shape({169, 241}, {16, 8}, 61, 2, SttLayout::kCanonical).validate(40727, 128, "x"), Error);  // t ∤ R
  EXPECT_THROW(shape({169, 241}, {16, 8}, 60, 2, SttLayout::kCanonical).validate(40730, 128, "x"), Error);  // rows
  EXPECT_THROW(shape({169, 241}, {16, 8}, 60, 2, SttLayout::kCanonical).validate(40727, 256, "x"), Error);  // d
  EXPECT_THROW(shape({169, 241}, {16, 3}, 60, 2, SttLayout::kCanonical).validate(40727, 48, "x"), Error);   // t ∤ J_K
}

TEST(SemiTensorTrainEmbedding, LayoutsFollowTheirFormulas) {
  // 2 cores: M = core0 ⋉ core1 is (I1 J1) x (I2 J2).
  for (int64_t t : {1, 2}) {
    const int64_t I1 = 3, I2 = 4, J1 = 4, J2 = 2, d = J1 * J2;
    for (SttLayout layout : {SttLayout::kCanonical, SttLayout::kFlat}) {
      torch::manual_seed(3);
      compress::SemiTensorTrainEmbedding e(shape({I1, I2}, {J1, J2}, 4, t, layout), 1.0);
      torch::NoGradGuard g;
      torch::Tensor M = compress::semi_tensor_product(e->cores()[0], e->cores()[1], t);
      torch::Tensor table = e->full_table();
      ASSERT_EQ(table.sizes(), (std::vector<int64_t>{I1 * I2, d}));
      for (int64_t v = 0; v < I1 * I2; ++v)
        for (int64_t j1 = 0; j1 < J1; ++j1)
          for (int64_t j2 = 0; j2 < J2; ++j2) {
            const float want =
                layout == SttLayout::kCanonical
                    ? M[(v / I2) * J1 + j1][(v % I2) * J2 + j2].item<float>()  // docs/design/odrec.md §2.2
                    : M.reshape({-1})[v * d + j1 * J2 + j2].item<float>();     // reshape(M, n, d)
            ASSERT_NEAR(table[v][j1 * J2 + j2].item<float>(), want, 1e-6) << v << " " << j1 << " " << j2;
          }
    }
  }
}

TEST(SemiTensorTrainEmbedding, RowLookupEqualsTheFullReconstruction) {
  for (SttLayout layout : {SttLayout::kCanonical, SttLayout::kFlat})
    for (int64_t t : {1, 2, 4})
      for (const auto& s : {shape({5, 7}, {4, 4}, 8, t, layout), shape({2, 3, 5}, {2, 2, 4}, 8, t, layout),
                            shape({6, 2}, {6, 4}, 4, t, layout)}) {  // d > I_2 J_2: flat rows straddle 4 rows of M
        torch::manual_seed(5);
        compress::SemiTensorTrainEmbedding e(s, 0.5);
        torch::NoGradGuard g;
        torch::Tensor table = e->full_table();
        torch::Tensor ids = torch::tensor({int64_t{0}, s.n_rows() - 1, int64_t{1}, s.n_rows() / 2, int64_t{1}});
        torch::Tensor rows = e->forward(ids.view({1, 5}));
        ASSERT_EQ(rows.sizes(), (std::vector<int64_t>{1, 5, s.dim()}));
        EXPECT_TRUE(torch::allclose(rows[0], table.index_select(0, ids), 1e-6, 1e-6)) << s.to_string();
      }
}

TEST(SemiTensorTrainEmbedding, CoreGradientsMatchFiniteDifferences) {
  for (SttLayout layout : {SttLayout::kCanonical, SttLayout::kFlat})
    for (const auto& s : {shape({3, 4}, {4, 2}, 4, 2, layout), shape({2, 3, 2}, {2, 2, 2}, 4, 2, layout)}) {
      torch::manual_seed(7);
      compress::SemiTensorTrainEmbedding e(s, 0.5);
      e->to(torch::kFloat64);
      torch::Tensor ids = torch::tensor({int64_t{1}, int64_t{5}, int64_t{5}, s.n_rows() - 1});
      torch::Tensor w = torch::randn({4, s.dim()}, torch::kFloat64);
      auto loss = [&] { return (e->forward(ids) * w).sum() + 0.5 * e->full_table().pow(2).sum(); };
      e->zero_grad();
      loss().backward();
      for (auto& core : e->cores())
        pocketrec::testing::expect_gradient_matches_central_differences(core, loss, s.to_string(), 23);
    }
}

// Greedy over all pairs by ascending cost, not each row's nearest column: d and a fill column 0
// first (costs 0.5 and 1), so b and c, which also prefer 0, go to 1.
TEST(ItemOrder, BalancedAssignmentIsGreedyOverAllPairs) {
  const torch::Tensor cost = torch::tensor({1.0f, 9.0f, 2.0f, 8.0f, 3.0f, 7.0f, 0.5f, 0.6f}).view({4, 2});
  EXPECT_EQ(compress::balanced_assignment(cost, 2), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(compress::balanced_assignment(cost, 4), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_THROW(compress::balanced_assignment(cost, 1), Error);  // 4 rows do not fit 2 x 1
}

// A planted table E[v] = group[g(v)] + position[c(v)] + noise with the items shuffled over the slots:
// the order finds the groups and aligns the positions, so that group + position means explain the
// table again, while the id order explains next to nothing; padding items take the free slots.
TEST(ItemOrder, RecoversAPlantedGroupAndPositionStructure) {
  const int64_t G = 6, C = 5, d = 8, n = 28;  // 30 slots, 2 of them padding
  const SttShape s = shape({G, C}, {4, 2}, 4, 2, SttLayout::kCanonical);
  for (uint64_t seed : {1, 2, 3}) {
    torch::manual_seed(static_cast<int64_t>(seed));
    const torch::Tensor groups = 4 * torch::randn({G, d}), positions = torch::randn({C, d});
    const torch::Tensor planted = torch::randperm(G * C, torch::kInt64).slice(0, 0, n);  // item v -> slot
    const torch::Tensor table = groups.index_select(0, torch::div(planted, C, "floor")) +
                                positions.index_select(0, torch::remainder(planted, C)) + 0.01 * torch::randn({n, d});
    const compress::ItemOrder order = compress::teacher_guided_item_order(table, s, seed);
    std::vector<int64_t> sorted = order.slot_of_item;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < G * C; ++i) ASSERT_EQ(sorted[i], i) << "not a permutation";
    EXPECT_GT(order.explained, 0.99) << "seed " << seed;  // not 1: group means fitted before positions, 2 slots empty
    EXPECT_LT(order.explained_identity, 0.6) << "seed " << seed;
    EXPECT_NEAR(compress::additive_fit(table, order.slot_of_item, C), order.explained, 1e-12);
    const auto* p = planted.data_ptr<int64_t>();
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b) {  // same planted group <=> same found group, and the same for positions
        EXPECT_EQ(p[a] / C == p[b] / C, order.slot_of_item[a] / C == order.slot_of_item[b] / C);
        EXPECT_EQ(p[a] % C == p[b] % C, order.slot_of_item[a] % C == order.slot_of_item[b] % C);
      }
  }
}

// With an item order, item v reads the row the unordered table has at slot_of_item[v], in both the
// batch lookup and the full reconstruction; orders that are not permutations are refused.
TEST(SemiTensorTrainEmbedding, AnItemOrderPermutesTheRows) {
  for (SttLayout layout : {SttLayout::kCanonical, SttLayout::kFlat}) {
    const SttShape s = shape({5, 7}, {4, 4}, 8, 2, layout);
    torch::manual_seed(5);
    compress::SemiTensorTrainEmbedding plain(s, 0.5);
    torch::manual_seed(5);
    compress::SemiTensorTrainEmbedding ordered(s, 0.5, /*ordered=*/true);
    torch::NoGradGuard g;
    EXPECT_TRUE(torch::equal(plain->full_table(), ordered->full_table()));  // identity until an order is set
    std::vector<int64_t> slots(35);
    for (int64_t v = 0; v < 35; ++v) slots[v] = (v * 13 + 4) % 35;  // 13 is prime to 35: a permutation
    ordered->set_item_order(slots);
    const torch::Tensor slot_t = torch::tensor(slots);
    const torch::Tensor reference = plain->full_table().index_select(0, slot_t);
    EXPECT_TRUE(torch::allclose(ordered->full_table(), reference, 1e-6, 1e-6));
    const torch::Tensor ids = torch::tensor({int64_t{0}, int64_t{34}, int64_t{3}, int64_t{3}});
    EXPECT_TRUE(torch::allclose(ordered->forward(ids), reference.index_select(0, ids), 1e-6, 1e-6));
    EXPECT_TRUE(torch::equal(ordered->slot_of_item(), slot_t));
    slots[1] = slots[0];
    EXPECT_THROW(ordered->set_item_order(slots), Error);
    EXPECT_THROW(ordered->set_item_order(std::vector<int64_t>(34, 0)), Error);
    EXPECT_THROW(plain->set_item_order(std::vector<int64_t>(35, 0)), Error);
  }
}

// Three cores in the canonical layout against an independent formula: the chain written with
// explicit Kronecker products, M = reshape(core0 (core1 ⊗ I_t), -1, R) (core2 ⊗ I_t), whose rows and
// columns run over (i1, j1, i2, j2) and (i3, j3), permuted to the item-major layout
// E[(i1, i2, i3), (j1, j2, j3)] (docs/design/odrec.md §2.2), for plain TT (t = 1) and t = 2.
TEST(SemiTensorTrainEmbedding, ThreeCanonicalCoresEqualTheKroneckerChain) {
  for (int64_t t : {1, 2}) {
    const int64_t I1 = 2, I2 = 3, I3 = 2, J1 = 2, J2 = 2, J3 = 4, R = 4;
    torch::manual_seed(11);
    compress::SemiTensorTrainEmbedding e(shape({I1, I2, I3}, {J1, J2, J3}, R, t, SttLayout::kCanonical), 0.5);
    e->to(torch::kFloat64);
    torch::NoGradGuard g;
    const auto cores = e->cores();
    ASSERT_EQ(cores.size(), 3u);
    const torch::Tensor eye = torch::eye(t, torch::kFloat64);
    const torch::Tensor m1 = torch::matmul(cores[0], torch::kron(cores[1], eye));            // (I1 J1) x (I2 J2 R)
    const torch::Tensor m = torch::matmul(m1.reshape({-1, R}), torch::kron(cores[2], eye));  // (I1 J1 I2 J2) x (I3 J3)
    const torch::Tensor expected =
        m.reshape({I1, J1, I2, J2, I3, J3}).permute({0, 2, 4, 1, 3, 5}).reshape({I1 * I2 * I3, J1 * J2 * J3});
    const torch::Tensor table = e->full_table();
    ASSERT_EQ(table.sizes(), expected.sizes());
    EXPECT_TRUE(torch::allclose(table, expected, 1e-12, 1e-12)) << "t=" << t;
    const torch::Tensor ids = torch::tensor({int64_t{0}, int64_t{7}, int64_t{11}, int64_t{5}});
    EXPECT_TRUE(torch::allclose(e->forward(ids), expected.index_select(0, ids), 1e-12, 1e-12)) << "t=" << t;
  }
}
