// Work split into fixed-size blocks for torch's intra-op threads. Block sizes are constants of the
// caller, never derived from the thread count, so a value computed inside one block (one product on
// the same operands) is the same whatever the number of threads. Why at all: LibTorch runs a matrix
// product as one BLAS call, single-threaded beside torch's own threads (docs/design/platform.md §3).
#pragma once

#include <algorithm>
#include <cstdint>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "kernels/gemm.h"

namespace pocketrec::kernels {

struct Block {
  int64_t begin, end;
};

inline int64_t block_count(int64_t total, int64_t size) {
  return (total + size - 1) / size;
}

// Block i of `size` items out of [0, total).
inline Block block(int64_t i, int64_t size, int64_t total) {
  return {i * size, std::min(total, (i + 1) * size)};
}

// Calls task(i) for i in [0, n_tasks), spread over torch's threads (each thread gets a contiguous
// range of i). Autograd is off inside: grad mode is per thread and the workers start with it on.
template <typename Task>
void parallel_tasks(int64_t n_tasks, const Task& task) {
  at::parallel_for(0, n_tasks, 1, [&](int64_t t0, int64_t t1) {
    const torch::NoGradGuard no_grad;
    for (int64_t t = t0; t < t1; ++t) task(t);
  });
}

// out = a b (+ bias added to every row), as fixed tiles of out (row_tile x col_tile), one product
// (gemm_out) each, in parallel. out may be a strided view (written with its row stride); a and b may
// be transposed views.
inline void tiled_gemm_out(const torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b, int64_t row_tile,
                           int64_t col_tile, const torch::Tensor& bias = {}) {
  const int64_t rows = out.size(0), cols = out.size(1), row_blocks = block_count(rows, row_tile);
  parallel_tasks(row_blocks * block_count(cols, col_tile), [&](int64_t t) {
    const Block r = block(t % row_blocks, row_tile, rows), c = block(t / row_blocks, col_tile, cols);
    torch::Tensor o = out.slice(0, r.begin, r.end).slice(1, c.begin, c.end);
    const torch::Tensor ar = a.slice(0, r.begin, r.end), bc = b.slice(1, c.begin, c.end);
    gemm_out(o, ar, bc, bias.defined() ? bias.slice(0, c.begin, c.end) : torch::Tensor());
  });
}

}  // namespace pocketrec::kernels
