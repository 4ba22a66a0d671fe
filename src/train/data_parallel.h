// Data-parallel training over c10d's ProcessGroupGloo with a TCPStore rendezvous (LibTorch's own
// collectives; docs/distributed.md). N processes (ranks) hold the same model; each step's global
// batch is cut into N contiguous shards, every rank computes the gradient of its shard (its loss
// scaled by its share of the batch), and the gradients are summed with all-reduce, so the result is
// the global batch's mean gradient whatever N is. Rank 0 validates and decides; its decisions are broadcast.
//
// Every collective fails with a clear error within DistOptions::timeout_s (a dead rank closes its
// connections, which the others see at once; a hung one times out), never hangs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/options.h"

namespace pocketrec::train {

class DataParallel {
 public:
  // Joins the group (rank 0 serves the store at options.master); Error naming the master and the
  // timeout when the other ranks do not arrive in time.
  explicit DataParallel(const DistOptions& options);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int64_t rank() const { return options_.rank; }
  int64_t world_size() const { return options_.world_size; }
  bool is_writer() const { return options_.rank == 0; }

  // This rank's contiguous part [begin, begin + count) of a global batch of n samples (the first
  // n % N ranks take one more).
  std::pair<int64_t, int64_t> shard(int64_t n) const;

  // Every rank gets rank 0's parameters and buffers.
  void broadcast_module(torch::nn::Module& module);
  // The factor a rank multiplies its shard's mean loss by before backward: count / n for a shard of
  // `count` of the global batch's n samples, so that the sum over ranks of the gradients is the
  // global batch's mean gradient whatever N is (no pass over the gradients to scale them).
  static double loss_scale(int64_t count, int64_t n) { return static_cast<double>(count) / static_cast<double>(n); }
  // After backward (of a loss scaled by loss_scale): every gradient becomes the sum over ranks, the
  // same bytes on every rank (an undefined gradient counts as zeros). Gradients of at least
  // kDirectFloats elements are all-reduced in place; the others travel packed in one bucket.
  // `loss` (this rank's unscaled mean loss over `count` samples) is averaged with weights `count`
  // and returned. Bytes sent per call are in bytes_per_step().
  double reduce_gradients(torch::nn::Module& module, int64_t count, double loss);
  static constexpr int64_t kDirectFloats = int64_t{1} << 20;
  // rank 0's values, on every rank.
  std::vector<double> broadcast(std::vector<double> values);
  void barrier();

  size_t bytes_per_step() const { return bytes_per_step_; }
  double communication_seconds() const { return comm_seconds_; }

 private:
  struct Group;
  DistOptions options_;
  std::unique_ptr<Group> group_;
  size_t bytes_per_step_ = 0;
  double comm_seconds_ = 0;
};

// A 64-bit seed for (seed, rank, step): the per-step RNG streams of a distributed run.
uint64_t step_seed(uint64_t seed, int64_t rank, int64_t step);

}  // namespace pocketrec::train
