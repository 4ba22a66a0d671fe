// FusedAdam against torch::optim::Adam: the same trajectory to float rounding, with and without the
// coupled L2 term, and optimizer state that loads across the two.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "train/fused_adam.h"

using namespace pocketrec;

namespace {

// Runs `steps` Adam steps on w from `start`, with gradients that change with the step and with w.
template <typename Opt>
torch::Tensor trajectory(const torch::Tensor& start, int steps, double l2) {
  torch::Tensor w = start.clone().requires_grad_(true);
  Opt opt({w}, torch::optim::AdamOptions(0.01).weight_decay(l2));
  const torch::Tensor c = torch::linspace(-1, 1, start.numel()).view_as(start);
  for (int k = 1; k <= steps; ++k) {
    opt.zero_grad();
    (torch::cos(k * w) / k + 0.1 * k * c * w).sum().backward();
    opt.step();
  }
  return w.detach();
}

}  // namespace

TEST(FusedAdam, FollowsTorchAdamWithAndWithoutL2) {
  torch::manual_seed(7);
  const torch::Tensor start = torch::randn({300, 7});  // 2,100 elements: several parallel chunks with 2 threads
  for (double l2 : {0.0, 1e-2}) {
    const torch::Tensor ours = trajectory<train::FusedAdam>(start, 25, l2);
    const torch::Tensor ref = trajectory<torch::optim::Adam>(start, 25, l2);
    const float moved = (ref - start).abs().max().item<float>();
    EXPECT_GT(moved, 0.1f) << "l2 " << l2;  // 25 steps of lr 0.01 move the weights visibly
    EXPECT_LT((ours - ref).abs().max().item<float>(), 1e-6f * 25) << "l2 " << l2;
  }
  // The L2 term matters (so the comparison above covers it).
  EXPECT_GT((trajectory<train::FusedAdam>(start, 25, 0.0) - trajectory<train::FusedAdam>(start, 25, 1e-2))
                .abs()
                .max()
                .item<float>(),
            1e-4f);
}

TEST(FusedAdam, StateRoundTripsThroughTorchAdam) {
  torch::manual_seed(8);
  torch::Tensor w = torch::randn({50}).requires_grad_(true);
  auto step = [&](torch::optim::Optimizer& opt, int k) {
    opt.zero_grad();
    (torch::sin(w * k) * w).sum().backward();
    opt.step();
  };
  train::FusedAdam fused({w}, torch::optim::AdamOptions(0.05).weight_decay(1e-3));
  for (int k = 1; k <= 5; ++k) step(fused, k);
  std::stringstream buf;
  {
    torch::serialize::OutputArchive ar;
    fused.save(ar);
    ar.save_to(buf);
  }
  // Continue once with FusedAdam, once with torch's Adam loaded from FusedAdam's state.
  const torch::Tensor at5 = w.detach().clone();
  for (int k = 6; k <= 8; ++k) step(fused, k);
  const torch::Tensor fused_end = w.detach().clone();
  {
    torch::NoGradGuard g;
    w.copy_(at5);
  }
  torch::optim::Adam plain({w}, torch::optim::AdamOptions(0.05).weight_decay(1e-3));
  torch::serialize::InputArchive in;
  in.load_from(buf);
  plain.load(in);
  for (int k = 6; k <= 8; ++k) step(plain, k);
  EXPECT_LT((w.detach() - fused_end).abs().max().item<float>(), 1e-6f);
  // Without the restored moments (a fresh torch Adam from the same weights) the continuation differs
  // clearly, so the agreement above comes from the loaded state.
  {
    torch::NoGradGuard g;
    w.copy_(at5);
  }
  torch::optim::Adam fresh({w}, torch::optim::AdamOptions(0.05).weight_decay(1e-3));
  for (int k = 6; k <= 8; ++k) step(fresh, k);
  EXPECT_GT((w.detach() - fused_end).abs().max().item<float>(), 1e-3f);
}

TEST(FusedAdam, RefusesAmsgrad) {
  torch::Tensor w = torch::zeros({3}).requires_grad_(true);
  EXPECT_ANY_THROW(train::FusedAdam({w}, torch::optim::AdamOptions(0.1).amsgrad(true)));
}

// release_gradients() before backward gives bit for bit the weights of zero_grad(): with and without
// L2, and for a parameter that gets no gradient in some steps (stepped with a zero gradient once it
// has state, skipped before). torch's Adam after zero_grad() is the reference for that skip.
TEST(FusedAdam, ReleasedGradientsStepLikeZeroedOnes) {
  torch::manual_seed(9);
  const torch::Tensor a0 = torch::randn({70}), b0 = torch::randn({5});
  for (double l2 : {0.0, 1e-2}) {
    auto run = [&](bool release) {
      torch::Tensor a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
      train::FusedAdam opt({a, b}, torch::optim::AdamOptions(0.02).weight_decay(l2));
      for (int k = 1; k <= 9; ++k) {
        if (release)
          opt.release_gradients();
        else
          opt.zero_grad();
        torch::Tensor loss = (torch::sin(a * k) * a).sum();
        if (k == 1 || k % 3 == 0) loss = loss + (b * b * k).sum();  // b: no gradient in steps 2, 4, 5, 7, 8
        loss.backward();
        opt.step();
        if (release) EXPECT_EQ(b.grad().defined(), k == 1 || k % 3 == 0) << "step " << k;
      }
      return std::make_pair(a.detach(), b.detach());
    };
    const auto [a_zeroed, b_zeroed] = run(false);
    const auto [a_released, b_released] = run(true);
    EXPECT_TRUE(torch::equal(a_zeroed, a_released)) << "l2 " << l2;
    EXPECT_TRUE(torch::equal(b_zeroed, b_released)) << "l2 " << l2;
    // b moved in the steps without a gradient too (its moments carry on), as with zero_grad().
    EXPECT_GT((b_released - b0).abs().min().item<float>(), 0.0f);
  }
  // Before its first gradient a parameter is not stepped (L2 alone would move it otherwise).
  torch::Tensor c = torch::ones({4}).requires_grad_(true), d = torch::ones({4}).requires_grad_(true);
  train::FusedAdam opt({c, d}, torch::optim::AdamOptions(0.1).weight_decay(0.5));
  opt.release_gradients();
  (c * c).sum().backward();
  opt.step();
  EXPECT_TRUE(torch::equal(d.detach(), torch::ones({4})));
  EXPECT_FALSE(torch::equal(c.detach(), torch::ones({4})));
}
