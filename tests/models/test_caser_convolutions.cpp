// caser_convolutions against torch::nn::Conv2d, which Caser used before: outputs and every gradient.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/caser_convolutions.h"

using namespace pocketrec;

namespace {

struct Filters {
  torch::nn::Conv2d vertical{nullptr};
  std::vector<torch::nn::Conv2d> horizontal;
  std::vector<torch::Tensor> weights() const {
    std::vector<torch::Tensor> w{vertical->weight};
    for (const auto& m : horizontal) w.push_back(m->weight);
    return w;
  }
  std::vector<torch::Tensor> biases() const {
    std::vector<torch::Tensor> b{vertical->bias};
    for (const auto& m : horizontal) b.push_back(m->bias);
    return b;
  }
  std::vector<torch::Tensor> parameters() const {
    auto w = weights(), b = biases();
    w.insert(w.end(), b.begin(), b.end());
    return w;
  }
};

Filters make_filters(int64_t L, int64_t d, int64_t nv, int64_t nh) {
  Filters f;
  f.vertical = torch::nn::Conv2d(torch::nn::Conv2dOptions(1, nv, {L, 1}));
  for (int64_t h = 1; h <= L; ++h) f.horizontal.emplace_back(torch::nn::Conv2dOptions(1, nh, {h, d}));
  return f;
}

// The reference: Conv2d on X [B,1,L,d], as Caser computed it before.
std::vector<torch::Tensor> conv2d_reference(Filters f, const torch::Tensor& X) {
  const torch::Tensor X4 = X.unsqueeze(1);
  std::vector<torch::Tensor> out{f.vertical->forward(X4).view({X.size(0), -1})};
  for (auto& m : f.horizontal) out.push_back(m->forward(X4).squeeze(3));
  return out;
}

// Forward outputs and the gradients of sum_i <out_i, upstream_i> (outputs with an undefined upstream
// are left out of the loss) with respect to X and every filter.
std::vector<torch::Tensor> outputs_and_gradients(const Filters& f, const torch::Tensor& X0,
                                                 const std::vector<torch::Tensor>& upstream, bool reference) {
  torch::Tensor X = X0.clone().requires_grad_(true);
  std::vector<torch::Tensor> params = f.parameters();
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  auto out = reference ? conv2d_reference(f, X) : models::caser_convolutions(X, f.weights(), f.biases());
  torch::Tensor loss = torch::zeros({});
  for (size_t i = 0; i < out.size(); ++i)
    if (upstream[i].defined()) loss = loss + (out[i] * upstream[i]).sum();
  loss.backward();
  std::vector<torch::Tensor> r;
  for (auto& o : out) r.push_back(o.detach());
  r.push_back(X.grad());
  for (auto& p : params) r.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return r;
}

std::vector<torch::Tensor> random_upstream(const Filters& f, const torch::Tensor& X) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> up;
  for (const auto& o : conv2d_reference(f, X)) up.push_back(torch::randn_like(o));
  return up;
}

}  // namespace

TEST(CaserConvolutions, MatchesConv2dOutputsAndGradients) {
  torch::manual_seed(3);
  const int64_t L = 4, d = 6, nv = 2, nh = 3;
  Filters f = make_filters(L, d, nv, nh);
  for (const int64_t B : {7, 300}) {  // one block of samples, and three (the last one partial)
    SCOPED_TRACE("B = " + std::to_string(B));
    torch::Tensor X = torch::randn({B, L, d});
    auto up = random_upstream(f, X);
    auto ours = outputs_and_gradients(f, X, up, false), ref = outputs_and_gradients(f, X, up, true);
    ASSERT_EQ(ours.size(), ref.size());
    ASSERT_EQ(ours.size(), static_cast<size_t>((L + 1) + 1 + 2 * (L + 1)));
    for (size_t i = 0; i < ours.size(); ++i) {
      ASSERT_EQ(ours[i].sizes(), ref[i].sizes()) << "tensor " << i;
      const float scale = ref[i].abs().max().item<float>();  // weight gradients sum B terms: relative
      EXPECT_LT((ours[i] - ref[i]).abs().max().item<float>(), 1e-5 * (1 + scale)) << "tensor " << i;
      EXPECT_GT(scale, 1e-3) << "tensor " << i << " is trivially zero";
    }
  }
}

TEST(CaserConvolutions, UnusedOutputsGiveZeroGradientsToTheirFilters) {
  torch::manual_seed(4);
  const int64_t B = 5, L = 3, d = 4;
  Filters f = make_filters(L, d, 1, 2);
  torch::Tensor X = torch::randn({B, L, d});
  auto up = random_upstream(f, X);
  up[0] = torch::Tensor();  // the vertical layer and height 2 are not in the loss
  up[2] = torch::Tensor();
  auto ours = outputs_and_gradients(f, X, up, false), ref = outputs_and_gradients(f, X, up, true);
  for (size_t i = 0; i < ours.size(); ++i)
    EXPECT_LT((ours[i] - ref[i]).abs().max().item<float>(), 1e-5) << "tensor " << i;
  const size_t first_weight = (L + 1) + 1;                            // after the outputs and dX
  EXPECT_EQ(ours[first_weight].abs().max().item<float>(), 0.0f);      // vertical weight
  EXPECT_EQ(ours[first_weight + 2].abs().max().item<float>(), 0.0f);  // height-2 weight
  EXPECT_GT(ours[first_weight + 1].abs().max().item<float>(), 0.0f);  // height-1 weight
}

TEST(CaserConvolutions, ThreadCountDoesNotChangeAnyBit) {
  torch::manual_seed(5);
  Filters f = make_filters(5, 20, 2, 4);
  torch::Tensor X = torch::randn({300, 5, 20});
  auto up = random_upstream(f, X);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  auto one = outputs_and_gradients(f, X, up, false);
  torch::set_num_threads(2);
  auto two = outputs_and_gradients(f, X, up, false);
  torch::set_num_threads(threads);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << "tensor " << i;
}

TEST(CaserConvolutions, EmptyBatchGivesEmptyOutputsAndZeroGradients) {
  const int64_t L = 3, d = 4, nv = 1, nh = 2;
  Filters f = make_filters(L, d, nv, nh);
  torch::Tensor X = torch::randn({0, L, d});
  std::vector<torch::Tensor> up{torch::zeros({0, nv * d})};  // (Conv2d's view({0, -1}) cannot express it)
  for (int64_t h = 1; h <= L; ++h) up.push_back(torch::zeros({0, nh, L - h + 1}));
  auto ours = outputs_and_gradients(f, X, up, false);
  ASSERT_EQ(ours.size(), static_cast<size_t>((L + 1) + 1 + 2 * (L + 1)));
  for (size_t i = 0; i <= static_cast<size_t>(L + 1); ++i) EXPECT_EQ(ours[i].size(0), 0) << "tensor " << i;
  const auto params = f.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& g = ours[static_cast<size_t>(L + 2) + i];
    ASSERT_EQ(g.sizes(), params[i].sizes()) << "parameter " << i;
    EXPECT_EQ(g.abs().max().item<float>(), 0.0f) << "parameter " << i;
  }
}

TEST(CaserConvolutions, RefusesWrongShapes) {
  Filters f = make_filters(3, 4, 1, 2);
  EXPECT_ANY_THROW(
      models::caser_convolutions(torch::randn({2, 4, 4}), f.weights(), f.biases()));  // L = 4, filters for 3
  EXPECT_ANY_THROW(
      models::caser_convolutions(torch::randn({2, 3, 5}), f.weights(), f.biases()));  // d = 5, filters for 4
}
