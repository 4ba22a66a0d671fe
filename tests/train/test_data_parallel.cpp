// DataParallel (src/train/data_parallel.h) with two ranks as two threads of this process on loopback:
// the shards of a global batch, the gradient sum (in place for a large gradient, packed for the
// small ones, undefined gradients as zeros) of losses scaled by loss_scale, the weighted loss
// average, the broadcast of rank 0's weights and decisions, and the per-(seed, rank, step) seeds.
#include <gtest/gtest.h>

#include <thread>

#include "core/error.h"
#include "train/data_parallel.h"

namespace pocketrec::train {
namespace {

struct TwoParams : torch::nn::Module {
  // `big` is reduced in place, `small` and `unused` packed; `unused` gets no gradient.
  torch::Tensor big = register_parameter("big", torch::zeros({DataParallel::kDirectFloats + 5}));
  torch::Tensor small = register_parameter("small", torch::zeros({3}));
  torch::Tensor unused = register_parameter("unused", torch::zeros({2}));
};

// Runs f(rank, group) on ranks 0 and 1 at once.
template <typename F>
void on_two_ranks(int port, F f) {
  auto body = [&](int rank) {
    DistOptions o;
    o.world_size = 2;
    o.rank = rank;
    o.master = "127.0.0.1:" + std::to_string(port);
    o.timeout_s = 30;
    DataParallel dp(o);
    f(rank, dp);
  };
  std::thread other(body, 1);
  body(0);
  other.join();
}

TEST(DataParallel, ShardsCoverTheGlobalBatchInOrder) {
  on_two_ranks(29741, [](int rank, DataParallel& dp) {
    using Range = std::pair<int64_t, int64_t>;
    EXPECT_EQ(dp.shard(7), rank == 0 ? Range(0, 4) : Range(4, 3));
    EXPECT_EQ(dp.shard(1), rank == 0 ? Range(0, 1) : Range(1, 0));
  });
}

TEST(DataParallel, GradientsAreSummedOnEveryRankIntoTheGlobalMean) {
  std::vector<float> big_last(2), small0(2), loss(2);
  on_two_ranks(29742, [&](int rank, DataParallel& dp) {
    TwoParams m;
    // rank 0: 3 of 4 samples, gradient 1 everywhere, loss 2; rank 1: 1 sample, gradient 4, loss 6.
    // Each rank's gradient comes from its loss scaled by its share of the batch.
    const int64_t count = rank == 0 ? 3 : 1;
    const double scale = DataParallel::loss_scale(count, 4);
    EXPECT_EQ(scale, rank == 0 ? 0.75 : 0.25);
    const float g = static_cast<float>(scale) * (rank == 0 ? 1.0f : 4.0f);
    m.big.mutable_grad() = torch::full_like(m.big, g);
    // `small` gets its gradient from a real backward of the scaled loss: the mean over the rank's
    // samples of small . x, with x = (1,1,1), (2,2,2), (3,3,3) on rank 0 and (10,10,10) on rank 1, so
    // the summed gradient must be the global mean of x: (1 + 2 + 3 + 10) / 4 = 4 in every entry.
    {
      torch::Tensor x =
          rank == 0 ? torch::tensor({1.0f, 2.0f, 3.0f}).unsqueeze(1).expand({3, 3}) : torch::full({1, 3}, 10.0f);
      torch::Tensor shard_loss = torch::matmul(x, m.small).mean();
      (shard_loss * scale).backward();
      // Handed over strided (non-contiguous), as a view of every other float of a larger buffer.
      torch::Tensor wide = torch::zeros({6});
      wide.slice(0, 0, 6, 2).copy_(m.small.grad());
      m.small.mutable_grad() = wide.slice(0, 0, 6, 2);
    }
    const float* big_storage = m.big.grad().data_ptr<float>();
    const double l = dp.reduce_gradients(m, count, rank == 0 ? 2.0 : 6.0);
    EXPECT_EQ(m.big.grad().data_ptr<float>(), big_storage);  // reduced in place, not copied
    big_last[rank] = m.big.grad()[-1].item<float>();
    small0[rank] = m.small.grad()[0].item<float>();
    loss[rank] = static_cast<float>(l);
    EXPECT_TRUE(torch::equal(m.unused.grad(), torch::zeros({2})));  // undefined -> zeros
    EXPECT_TRUE(torch::all(m.big.grad() == 1.75f).item<bool>());    // (3 * 1 + 1 * 4) / 4
    EXPECT_EQ(dp.bytes_per_step(), static_cast<size_t>(DataParallel::kDirectFloats + 5 + 3 + 2 + 2) * 4);
  });
  EXPECT_EQ(big_last[0], 1.75f);
  EXPECT_EQ(big_last[1], 1.75f);
  EXPECT_EQ(small0[0], 4.0f);
  EXPECT_EQ(small0[1], 4.0f);
  EXPECT_FLOAT_EQ(loss[0], 3.0f);  // (3 * 2 + 1 * 6) / 4
  EXPECT_FLOAT_EQ(loss[1], 3.0f);
}

TEST(DataParallel, RankZerosWeightsAndDecisionsReachEveryRank) {
  on_two_ranks(29743, [](int rank, DataParallel& dp) {
    torch::nn::Linear lin(3, 2);
    {
      torch::NoGradGuard g;
      lin->weight.fill_(rank == 0 ? 0.5f : -1.0f);
      lin->bias.fill_(rank == 0 ? 2.0f : 9.0f);
    }
    dp.broadcast_module(*lin);
    EXPECT_TRUE(torch::all(lin->weight == 0.5f).item<bool>());
    EXPECT_TRUE(torch::all(lin->bias == 2.0f).item<bool>());
    const std::vector<double> d = dp.broadcast({rank == 0 ? 1.0 : 0.0, rank == 0 ? 0.25 : 7.0});
    EXPECT_EQ(d, (std::vector<double>{1.0, 0.25}));
    dp.barrier();
  });
}

TEST(DataParallel, StepSeedsDifferByRankAndStepAndRepeat) {
  EXPECT_EQ(step_seed(7, 0, 3), step_seed(7, 0, 3));
  EXPECT_NE(step_seed(7, 0, 3), step_seed(7, 1, 3));
  EXPECT_NE(step_seed(7, 0, 3), step_seed(7, 0, 4));
  EXPECT_NE(step_seed(7, 0, 3), step_seed(8, 0, 3));
}

TEST(DataParallel, BadOptionsAreRefusedWithTheKey) {
  DistOptions o;
  o.world_size = 2;
  o.rank = 2;
  EXPECT_THROW(DataParallel{o}, Error);
  o.rank = 0;
  o.master = "no-port";
  try {
    DataParallel dp(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dist.master: 'no-port' is not HOST:PORT"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pocketrec::train
