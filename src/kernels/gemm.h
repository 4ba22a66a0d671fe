// One matrix product, out = a b (+ bias on every row), for the training kernels' fixed tiles.
//
// Float products run on oneDNN's sgemm, single-threaded (the callers spread their tiles over torch's
// threads), others (double, in gradient checks) on at::mm_out. Why oneDNN: it picks its kernels from
// the CPU's instruction sets, while OpenBLAS follows OPENBLAS_CORETYPE, which these machines'
// environment sets to Haswell: AVX2 kernels on CPUs with AVX-512. On the Tmall teacher's
// full-softmax tiles oneDNN is 1.6-2.6x faster (bench_training Gemm/*), the teacher's whole step
// 1.4-1.6x.
// Deterministic: one call is one single-threaded product, whatever torch's thread count.
// Not named matmul_out: an unqualified call whose out is a non-const Tensor lvalue would then resolve,
// by argument-dependent lookup, to at::matmul_out (a better match for Tensor&) and silently run on
// OpenBLAS.
#pragma once

#include <torch/torch.h>

namespace pocketrec::kernels {

// out [M,N] = a [M,K] b [K,N] (+ bias [N] added to every row). Each of a, b and out may be a strided
// view with one unit stride (a slice, a transposed view); other layouts are copied first.
void gemm_out(const torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias = {});

}  // namespace pocketrec::kernels
