// full_softmax_cross_entropy, full_softmax_distillation and parallel_linear against the LibTorch calls
// they replace, and counter_based_dropout's mask statistics, scaling, gradients and determinism.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>

#include "core/error.h"
#include "kernels/counter_based_dropout.h"
#include "kernels/full_softmax_cross_entropy.h"
#include "kernels/gemm.h"
#include "kernels/parallel_bmm.h"
#include "kernels/parallel_linear.h"

using namespace pocketrec;

namespace {

// f() run with torch's intra-op pool at n threads (restored afterwards).
template <typename F>
auto on_threads(int n, const F& f) {
  const int before = torch::get_num_threads();
  torch::set_num_threads(n);
  auto result = f();
  torch::set_num_threads(before);
  return result;
}

struct LossAndGradients {
  torch::Tensor loss, dQ, dW;
};

LossAndGradients run_ce(const torch::Tensor& Q0, const torch::Tensor& W0, const torch::Tensor& y, bool reference) {
  torch::Tensor Q = Q0.clone().requires_grad_(true), W = W0.clone().requires_grad_(true);
  torch::Tensor loss = reference ? torch::nn::functional::cross_entropy(torch::matmul(Q, W.t()), y)
                                 : kernels::full_softmax_cross_entropy(Q, W, y);
  (loss * 1.7).backward();  // a non-unit upstream gradient
  return {loss.detach(), Q.grad(), W.grad()};
}

}  // namespace

// Sizes that cut the tiles unevenly: rows not a multiple of the row block, items not a multiple of
// the item chunk, d not a multiple of the column block; targets in the first and last chunks.
TEST(FullSoftmaxCrossEntropy, MatchesMatmulPlusCrossEntropy) {
  torch::manual_seed(3);
  for (auto [B, N, d] : {std::tuple<int64_t, int64_t, int64_t>{1, 7, 3}, {45, 5000, 40}, {70, 2049, 33}}) {
    torch::Tensor Q = torch::randn({B, d}, torch::kFloat64), W = torch::randn({N, d}, torch::kFloat64) * 0.5;
    torch::Tensor y = torch::randint(N, {B}, torch::kInt64);
    y[0] = N - 1;
    const auto ours = run_ce(Q, W, y, false), ref = run_ce(Q, W, y, true);
    EXPECT_NEAR(ours.loss.item<double>(), ref.loss.item<double>(), 1e-10) << B << " " << N << " " << d;
    EXPECT_TRUE(torch::allclose(ours.dQ, ref.dQ, 1e-9, 1e-12)) << B << " " << N << " " << d;
    EXPECT_TRUE(torch::allclose(ours.dW, ref.dW, 1e-9, 1e-12)) << B << " " << N << " " << d;
    EXPECT_GT(ours.dW.abs().sum().item<double>(), 0);
  }
}

TEST(FullSoftmaxCrossEntropy, HandComputedValue) {
  // Scores of the one query: [0, 1, 2]; target 2: loss = log(1 + e + e^2) - 2.
  torch::Tensor Q = torch::tensor({{1.0, 0.0}}, torch::kFloat64);
  torch::Tensor W = torch::tensor({{0.0, 5.0}, {1.0, -1.0}, {2.0, 0.5}}, torch::kFloat64);
  torch::Tensor y = torch::tensor({int64_t{2}});
  const double expected = std::log(1 + std::exp(1.0) + std::exp(2.0)) - 2;
  EXPECT_NEAR(kernels::full_softmax_cross_entropy(Q, W, y).item<double>(), expected, 1e-12);
}

TEST(FullSoftmaxCrossEntropy, SameResultOnOneAndTwoThreads) {
  torch::manual_seed(4);
  torch::Tensor Q = torch::randn({100, 64}), W = torch::randn({9000, 64}) * 0.2;
  torch::Tensor y = torch::randint(9000, {100}, torch::kInt64);
  const auto one = on_threads(1, [&] { return run_ce(Q, W, y, false); });
  const auto two = on_threads(2, [&] { return run_ce(Q, W, y, false); });
  EXPECT_TRUE(torch::equal(one.loss, two.loss));
  EXPECT_TRUE(torch::equal(one.dQ, two.dQ));
  EXPECT_TRUE(torch::equal(one.dW, two.dW));
}

TEST(FullSoftmaxCrossEntropy, OnlyRequestedGradients) {
  torch::Tensor Q = torch::randn({5, 4}).requires_grad_(true), W = torch::randn({30, 4});
  kernels::full_softmax_cross_entropy(Q, W, torch::randint(30, {5}, torch::kInt64)).backward();
  EXPECT_TRUE(Q.grad().defined());
  EXPECT_FALSE(W.grad().defined());
}

TEST(FullSoftmaxCrossEntropy, RefusesBadInputAndASecondBackward) {
  torch::Tensor Q = torch::randn({3, 4}), W = torch::randn({10, 4});
  EXPECT_THROW(kernels::full_softmax_cross_entropy(Q, W, torch::tensor({0, 1, 10}, torch::kInt64)), Error);
  EXPECT_THROW(kernels::full_softmax_cross_entropy(Q, W, torch::tensor({0, -1, 2}, torch::kInt64)), Error);
  EXPECT_THROW(kernels::full_softmax_cross_entropy(Q, W, torch::tensor({0, 1}, torch::kInt64)), Error);
  EXPECT_THROW(kernels::full_softmax_cross_entropy(Q, torch::randn({10, 5}), torch::tensor({0, 1, 2}, torch::kInt64)),
               Error);
  torch::Tensor Qg = Q.clone().requires_grad_(true);
  torch::Tensor loss = kernels::full_softmax_cross_entropy(Qg, W, torch::tensor({0, 1, 2}, torch::kInt64));
  loss.backward({}, /*retain_graph=*/true);
  EXPECT_THROW(loss.backward(), std::exception);
}

namespace {

// The cross-entropy and T^2 KL(softmax(Z/T) || softmax(QW^T/T)) (summed over rows) with upstream
// gradients 1.7 and 0.3; reference: LibTorch's matmul, cross_entropy and log_softmax.
std::array<torch::Tensor, 4> run_distillation(const torch::Tensor& Q0, const torch::Tensor& W0, const torch::Tensor& y,
                                              const torch::Tensor& Z, double T, bool reference) {
  torch::Tensor Q = Q0.clone().requires_grad_(true), W = W0.clone().requires_grad_(true);
  torch::Tensor ce, kl;
  if (reference) {
    torch::Tensor S = torch::matmul(Q, W.t());
    ce = torch::nn::functional::cross_entropy(S, y);
    torch::Tensor log_pz = torch::log_softmax(Z / T, 1), log_ps = torch::log_softmax(S / T, 1);
    kl = (log_pz.exp() * (log_pz - log_ps)).sum() * (T * T);
  } else {
    auto out = kernels::full_softmax_distillation(Q, W, y, Z, T);
    ce = out.cross_entropy;
    kl = out.kl;
  }
  (ce * 1.7 + kl * 0.3).backward();
  return {ce.detach(), kl.detach(), Q.grad(), W.grad()};
}

}  // namespace

TEST(FullSoftmaxDistillation, MatchesCrossEntropyPlusKlOfLogSoftmax) {
  torch::manual_seed(8);
  for (double T : {1.0, 2.0, 0.5})
    for (auto [B, N, d] : {std::tuple<int64_t, int64_t, int64_t>{1, 7, 3}, {45, 5000, 40}, {130, 4097, 9}}) {
      torch::Tensor Q = torch::randn({B, d}, torch::kFloat64), W = torch::randn({N, d}, torch::kFloat64) * 0.5;
      torch::Tensor Z = torch::randn({B, N}, torch::kFloat64) * 3;  // the teacher's scores
      torch::Tensor y = torch::randint(N, {B}, torch::kInt64);
      y[0] = N - 1;
      const auto ours = run_distillation(Q, W, y, Z, T, false), ref = run_distillation(Q, W, y, Z, T, true);
      for (size_t i = 0; i < 4; ++i)
        EXPECT_TRUE(torch::allclose(ours[i], ref[i], 1e-9, 1e-11))
            << "output " << i << " T " << T << " " << B << " " << N << " " << d;
      EXPECT_GT(ours[1].item<double>(), 0);
    }
}

TEST(FullSoftmaxDistillation, KlAgainstHandComputedValues) {
  // Items = the identity, so the student's scores are the queries. p_Z = (1/4, 3/4), p_S = (1/2, 1/2):
  // KL = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.1308120; the second row has identical distributions and adds 0.
  torch::Tensor Z = torch::tensor({{0.0, std::log(3.0)}, {1.0, 2.0}}, torch::kFloat64);
  torch::Tensor S = torch::tensor({{0.0, 0.0}, {1.0, 2.0}}, torch::kFloat64);
  torch::Tensor I = torch::eye(2, torch::kFloat64), y = torch::tensor({int64_t{0}, int64_t{1}});
  EXPECT_NEAR(kernels::full_softmax_distillation(S, I, y, Z, 1.0).kl.item<double>(), 0.13081203594, 1e-10);
  // T = 2: p_Z = (1, sqrt 3) / (1 + sqrt 3); the KL is scaled by T^2 = 4.
  EXPECT_NEAR(kernels::full_softmax_distillation(S, I, y, Z, 2.0).kl.item<double>(), 4 * 0.03634078287, 1e-10);
  // The cross-entropy is the plain one: rows ln 2 and ln(1 + e^-1).
  EXPECT_NEAR(kernels::full_softmax_distillation(S, I, y, Z, 2.0).cross_entropy.item<double>(),
              (std::log(2.0) + std::log(1 + std::exp(-1.0))) / 2, 1e-12);
}

TEST(FullSoftmaxDistillation, SameResultOnOneAndTwoThreads) {
  torch::manual_seed(9);
  torch::Tensor Q = torch::randn({100, 64}), W = torch::randn({9000, 64}) * 0.2, Z = torch::randn({100, 9000});
  torch::Tensor y = torch::randint(9000, {100}, torch::kInt64);
  const auto one = on_threads(1, [&] { return run_distillation(Q, W, y, Z, 1.0, false); });
  const auto two = on_threads(2, [&] { return run_distillation(Q, W, y, Z, 1.0, false); });
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << "output " << i;
}

TEST(FullSoftmaxDistillation, RefusesBadTeacherScoresAndTemperature) {
  torch::Tensor Q = torch::randn({3, 4}), W = torch::randn({10, 4}), y = torch::tensor({0, 1, 2}, torch::kInt64);
  EXPECT_THROW(kernels::full_softmax_distillation(Q, W, y, torch::randn({3, 9}), 1.0), Error);
  EXPECT_THROW(kernels::full_softmax_distillation(Q, W, y, torch::randn({2, 10}), 1.0), Error);
  EXPECT_THROW(kernels::full_softmax_distillation(Q, W, y, torch::randn({3, 10}), 0.0), Error);
  EXPECT_THROW(kernels::full_softmax_distillation(Q, W, y, torch::randn({3, 10}, torch::kFloat64), 1.0), Error);
}

TEST(CounterBasedDropout, KeepsTheRightFractionScaledAndUnbiased) {
  torch::manual_seed(5);
  const int64_t n = 1 << 20;
  torch::Tensor x = torch::rand({n}) + 1;  // in [1, 2): a dropped value is exactly 0, a kept one is not
  for (double p : {0.1, 0.5, 0.9}) {
    torch::Tensor y = kernels::counter_based_dropout(x, p, true);
    torch::Tensor kept = y.ne(0);
    const double kept_fraction = kept.to(torch::kFloat64).mean().item<double>();
    // The binomial standard deviation is at most 0.0005 here: 6 sigma.
    EXPECT_NEAR(kept_fraction, 1 - p, 0.003) << p;
    EXPECT_TRUE(torch::allclose(y.masked_select(kept), x.masked_select(kept) / (1 - p))) << p;
    EXPECT_NEAR(y.sum().item<double>() / x.sum().item<double>(), 1.0, 0.01) << p;
  }
}

TEST(CounterBasedDropout, NeighbouringMaskBitsAreUncorrelated) {
  // Elements 2k and 2k+1 share one 64-bit word: their keep decisions must still be independent.
  torch::manual_seed(6);
  torch::Tensor kept = kernels::counter_based_dropout(torch::ones({1 << 20}), 0.5, true).ne(0).to(torch::kFloat64);
  torch::Tensor pairs = kept.view({-1, 2});
  const double both = (pairs.select(1, 0) * pairs.select(1, 1)).mean().item<double>();
  EXPECT_NEAR(both, 0.25, 0.003);
  const double shifted = (kept.slice(0, 1) * kept.slice(0, 0, -1)).mean().item<double>();
  EXPECT_NEAR(shifted, 0.25, 0.003);
}

TEST(CounterBasedDropout, GradientUsesTheForwardMask) {
  torch::manual_seed(7);
  torch::Tensor x = torch::randn({37, 11}, torch::kFloat64).requires_grad_(true);
  torch::Tensor upstream = torch::randn({37, 11}, torch::kFloat64);
  torch::Tensor y = kernels::counter_based_dropout(x, 0.3, true);
  (y * upstream).sum().backward();
  // y = x * m / 0.7, so dL/dx = upstream * m / 0.7 = upstream * y / x.
  EXPECT_TRUE(torch::allclose(x.grad(), upstream * (y / x).detach(), 1e-12, 1e-12));
  EXPECT_GT(x.grad().ne(0).sum().item<int64_t>(), 0);
  EXPECT_GT(x.grad().eq(0).sum().item<int64_t>(), 0);
}

TEST(CounterBasedDropout, FollowsTheTorchSeedAndNotTheThreadCount) {
  torch::Tensor x = torch::randn({100000});
  torch::manual_seed(8);
  const auto [a, next] = on_threads(1, [&] {
    torch::Tensor first = kernels::counter_based_dropout(x, 0.5, true);
    return std::make_pair(first, kernels::counter_based_dropout(x, 0.5, true));
  });
  torch::manual_seed(8);
  torch::Tensor b = on_threads(2, [&] { return kernels::counter_based_dropout(x, 0.5, true); });
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, next));  // a new mask per call
  // A view starting at an odd element: the mask depends on the position in the call's tensor.
  torch::manual_seed(8);
  torch::Tensor c = kernels::counter_based_dropout(x.slice(0, 1), 0.5, true);
  EXPECT_TRUE(torch::equal(c.ne(0), a.slice(0, 0, -1).ne(0)));
}

TEST(CounterBasedDropout, IdentityInEvalOrWithoutDropoutAndRefusesBadP) {
  torch::Tensor x = torch::randn({50});
  EXPECT_TRUE(torch::equal(kernels::counter_based_dropout(x, 0.5, false), x));
  EXPECT_TRUE(torch::equal(kernels::counter_based_dropout(x, 0.0, true), x));
  EXPECT_TRUE(torch::equal(kernels::counter_based_dropout(x, 1.0, true), torch::zeros({50})));
  kernels::CounterBasedDropout m(0.5);
  m->eval();
  EXPECT_TRUE(torch::equal(m->forward(x), x));
  EXPECT_THROW(kernels::CounterBasedDropout(1.5), Error);
  EXPECT_THROW(kernels::counter_based_dropout(x, -0.1, true), Error);
}

namespace {

std::vector<torch::Tensor> run_linear(const torch::Tensor& x0, torch::nn::Linear layer, const torch::Tensor& upstream,
                                      bool reference) {
  torch::Tensor x = x0.clone().requires_grad_(true);
  for (auto& p : layer->parameters()) p.mutable_grad() = torch::Tensor();
  torch::Tensor y = reference ? layer->forward(x) : kernels::parallel_linear(layer, x);
  (y * upstream).sum().backward();
  std::vector<torch::Tensor> r{y.detach(), x.grad(), layer->weight.grad()};
  if (layer->bias.defined()) r.push_back(layer->bias.grad());
  return r;
}

}  // namespace

// Shapes that cut every kind of tile unevenly (rows, output features, input features), narrow and
// wide (item-score) layers, with and without a bias, in double.
TEST(ParallelLinear, MatchesTorchLinear) {
  torch::manual_seed(9);
  for (auto [rows, in, out, bias] : {std::tuple<int64_t, int64_t, int64_t, bool>{1, 3, 1, true},
                                     {700, 20, 45, true},
                                     {300, 17, 33, false},
                                     {30, 70, 5000, false},
                                     {600, 130, 4100, true}}) {
    torch::nn::Linear layer(torch::nn::LinearOptions(in, out).bias(bias));
    layer->to(torch::kFloat64);
    torch::Tensor x = torch::randn({rows / 4 + 1, 4, in}, torch::kFloat64);
    torch::Tensor upstream = torch::randn({rows / 4 + 1, 4, out}, torch::kFloat64);
    const auto ours = run_linear(x, layer, upstream, false), ref = run_linear(x, layer, upstream, true);
    ASSERT_EQ(ours.size(), ref.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_EQ(ours[i].sizes(), ref[i].sizes()) << i;
      EXPECT_TRUE(torch::allclose(ours[i], ref[i], 1e-10, 1e-12)) << "output " << i << " rows " << rows;
      EXPECT_GT(ours[i].abs().sum().item<double>(), 0) << i;
    }
  }
}

TEST(ParallelLinear, SameResultOnOneAndTwoThreads) {
  torch::manual_seed(10);
  torch::nn::Linear layer(64, 48);
  torch::Tensor x = torch::randn({1000, 64}), upstream = torch::randn({1000, 48});
  const auto one = on_threads(1, [&] { return run_linear(x, layer, upstream, false); });
  const auto two = on_threads(2, [&] { return run_linear(x, layer, upstream, false); });
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << i;
}

TEST(ParallelLinear, RefusesMismatchedShapes) {
  torch::nn::Linear layer(8, 4);
  EXPECT_THROW(kernels::parallel_linear(layer, torch::randn({3, 7})), Error);
  EXPECT_THROW(kernels::parallel_linear(torch::randn({3, 8}), layer->weight, torch::randn({5})), Error);
}

namespace {

// parallel_bmm (or torch::bmm) of a and b, and the gradients of sum(out * upstream) w.r.t. a and b.
std::vector<torch::Tensor> run_bmm(const torch::Tensor& a0, const torch::Tensor& b0, const torch::Tensor& upstream,
                                   bool torch_call) {
  torch::Tensor a = a0.detach().requires_grad_(true), b = b0.detach().requires_grad_(true);
  torch::Tensor out = torch_call ? torch::bmm(a, b) : kernels::parallel_bmm(a, b);
  out.backward(upstream);
  return {out.detach(), a.grad(), b.grad()};
}

}  // namespace

TEST(ParallelBmm, MatchesTorchBmmOnContiguousAndTransposedOperands) {
  torch::manual_seed(11);
  for (auto [n, m, k, p] : {std::array<int64_t, 4>{1, 1, 1, 1}, {7, 5, 3, 4}, {100, 40, 16, 40}}) {
    torch::Tensor a = torch::randn({n, m, k}, torch::kFloat64), upstream = torch::randn({n, m, p}, torch::kFloat64);
    // b contiguous, and b as the transposed view attention passes (K^T)
    for (const torch::Tensor& b :
         {torch::randn({n, k, p}, torch::kFloat64), torch::randn({n, p, k}, torch::kFloat64).transpose(1, 2)}) {
      const auto ours = run_bmm(a, b, upstream, false), ref = run_bmm(a, b, upstream, true);
      for (size_t i = 0; i < ours.size(); ++i) {
        EXPECT_EQ(ours[i].sizes(), ref[i].sizes()) << i;
        EXPECT_TRUE(torch::allclose(ours[i], ref[i], 1e-12, 1e-12)) << "output " << i << " n " << n;
      }
    }
  }
}

TEST(ParallelBmm, SameResultOnOneAndTwoThreads) {
  torch::manual_seed(12);
  torch::Tensor a = torch::randn({33, 40, 128}), b = torch::randn({33, 128, 40}), upstream = torch::randn({33, 40, 40});
  const auto one = on_threads(1, [&] { return run_bmm(a, b, upstream, false); });
  const auto two = on_threads(2, [&] { return run_bmm(a, b, upstream, false); });
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << i;
}

TEST(ParallelBmm, RefusesMismatchedShapes) {
  EXPECT_THROW(kernels::parallel_bmm(torch::randn({2, 3, 4}), torch::randn({2, 5, 6})), Error);
  EXPECT_THROW(kernels::parallel_bmm(torch::randn({2, 3, 4}), torch::randn({3, 4, 6})), Error);
  EXPECT_THROW(kernels::parallel_bmm(torch::randn({3, 4}), torch::randn({4, 6})), Error);
}

// ---- gemm_out (gemm.h): oneDNN's sgemm for float, at::mm_out otherwise ----------------------

namespace {

// The product in double, the reference for a float gemm_out.
torch::Tensor product_in_double(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias = {}) {
  torch::Tensor p = torch::mm(a.to(torch::kFloat64), b.to(torch::kFloat64));
  return bias.defined() ? p + bias.to(torch::kFloat64) : p;
}

}  // namespace

TEST(GemmOut, FloatMatchesDoubleForEveryOperandLayout) {
  torch::manual_seed(13);
  for (auto [m, k, n] : {std::array<int64_t, 3>{1, 1, 1}, {1, 37, 5}, {9, 1, 6}, {33, 70, 1}, {130, 128, 257}}) {
    const torch::Tensor a_rows = torch::randn({m, k}), a_cols = torch::randn({k, m}).t();
    const torch::Tensor b_rows = torch::randn({k, n}), b_cols = torch::randn({n, k}).t();
    // Neither rows nor columns contiguous: copied before the product.
    const torch::Tensor a_odd = torch::randn({2 * m, 2 * k}).slice(0, 0, 2 * m, 2).slice(1, 0, 2 * k, 2);
    for (const torch::Tensor& a : {a_rows, a_cols, a_odd}) {
      for (const torch::Tensor& b : {b_rows, b_cols}) {
        torch::Tensor out = torch::full({m, n}, 7.0f);
        kernels::gemm_out(out, a, b);
        EXPECT_TRUE(torch::allclose(out.to(torch::kFloat64), product_in_double(a, b), 1e-5, 1e-4))
            << m << "x" << k << "x" << n << " a strides " << a.strides() << " b strides " << b.strides();
      }
    }
  }
}

TEST(GemmOut, WritesIntoAStridedViewWithBiasAndLeavesTheRestAlone) {
  torch::manual_seed(14);
  const torch::Tensor a = torch::randn({20, 64}), b = torch::randn({64, 300}), bias = torch::randn({100});
  torch::Tensor big = torch::full({30, 500}, -3.0f);
  const torch::Tensor view = big.slice(0, 5, 25).slice(1, 200, 300);  // row stride 500
  kernels::gemm_out(view, a, b.slice(1, 100, 200), bias);
  EXPECT_TRUE(torch::allclose(view.to(torch::kFloat64), product_in_double(a, b.slice(1, 100, 200), bias), 1e-5, 1e-4));
  torch::Tensor outside = big.clone();
  outside.slice(0, 5, 25).slice(1, 200, 300).fill_(-3.0f);
  EXPECT_TRUE(torch::equal(outside, torch::full({30, 500}, -3.0f)));
}

// A transposed out cannot be written by a row-major sgemm: gemm_out falls back to ATen for it.
TEST(GemmOut, WritesIntoATransposedOutView) {
  torch::manual_seed(17);
  const torch::Tensor a = torch::randn({7, 12}), b = torch::randn({12, 9}), bias = torch::randn({9});
  torch::Tensor storage = torch::full({9, 7}, 2.0f);
  const torch::Tensor out = storage.t();  // [7, 9], column-major
  kernels::gemm_out(out, a, b, bias);
  EXPECT_TRUE(torch::allclose(out.to(torch::kFloat64), product_in_double(a, b, bias), 1e-5, 1e-4));
}

TEST(GemmOut, EmptyInnerDimensionGivesZerosOrTheBias) {
  torch::Tensor out = torch::full({3, 4}, 5.0f);
  kernels::gemm_out(out, torch::empty({3, 0}), torch::empty({0, 4}));
  EXPECT_TRUE(torch::equal(out, torch::zeros({3, 4})));
  const torch::Tensor bias = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  kernels::gemm_out(out, torch::empty({3, 0}), torch::empty({0, 4}), bias);
  EXPECT_TRUE(torch::equal(out, bias.expand({3, 4})));
}

// Double operands (the gradient checks) are not rounded through float: at::mm_out computes them.
TEST(GemmOut, DoubleOperandsKeepDoublePrecision) {
  torch::manual_seed(15);
  const torch::Tensor a = torch::randn({6, 5}, torch::kFloat64), b = torch::randn({5, 4}, torch::kFloat64);
  torch::Tensor out = torch::empty({6, 4}, torch::kFloat64);
  kernels::gemm_out(out, a, b);
  EXPECT_TRUE(torch::allclose(out, torch::mm(a, b), 1e-14, 1e-14));
}

// Outside a parallel region oneDNN would thread one product over every OpenMP thread (and could split
// its sums differently): gemm_out keeps it on one, so the bits never depend on the thread count.
TEST(GemmOut, SameBitsOnOneAndTwoThreadsOutsideAParallelRegion) {
  torch::manual_seed(16);
  // A long dot product: oneDNN splits its sum over the threads it is given (checked: other bits on 2).
  const torch::Tensor a = torch::randn({1, 2000000}), b = torch::randn({2000000, 1});
  auto run = [&] {
    torch::Tensor out = torch::empty({1, 1});
    kernels::gemm_out(out, a, b);
    return out;
  };
  EXPECT_TRUE(torch::equal(on_threads(1, run), on_threads(2, run)));
  on_threads(2, [&] {
    run();
    EXPECT_EQ(torch::get_num_threads(), 2);  // gemm_out restores the OpenMP thread count
    return 0;
  });
}

TEST(GemmOut, RefusesMismatchedShapes) {
  torch::Tensor out = torch::empty({3, 4});
  EXPECT_THROW(kernels::gemm_out(out, torch::randn({3, 5}), torch::randn({6, 4})), Error);
  EXPECT_THROW(kernels::gemm_out(out, torch::randn({3, 5}), torch::randn({5, 5})), Error);
  EXPECT_THROW(kernels::gemm_out(out, torch::randn({3, 5}), torch::randn({5, 4}), torch::randn({3})), Error);
}
