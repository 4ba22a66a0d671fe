// Work split into fixed-size blocks for torch's intra-op threads. Block sizes are constants of the
// caller, never derived from the thread count, so a value computed inside one block (one BLAS call on
// the same operands) is the same whatever the number of threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace pocketrec::models {

struct Block {
  int64_t begin, end;
};

inline int64_t block_count(int64_t total, int64_t size) { return (total + size - 1) / size; }

// Block i of `size` items out of [0, total).
inline Block block(int64_t i, int64_t size, int64_t total) { return {i * size, std::min(total, (i + 1) * size)}; }

// Calls task(i) for i in [0, n_tasks), spread over torch's threads (each thread gets a contiguous
// range of i). Autograd is off inside: grad mode is per thread and the workers start with it on.
template <typename Task>
void parallel_tasks(int64_t n_tasks, const Task& task) {
  at::parallel_for(0, n_tasks, 1, [&](int64_t t0, int64_t t1) {
    const torch::NoGradGuard no_grad;
    for (int64_t t = t0; t < t1; ++t) task(t);
  });
}

}  // namespace pocketrec::models
