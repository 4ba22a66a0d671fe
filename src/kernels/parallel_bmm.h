// out[i] = a[i] b[i] for a batch of small matrices, as torch::bmm, with the batch spread over torch's
// intra-op threads (the backward too). Why: ATen's CPU bmm runs its batch as a serial loop of BLAS
// calls, and the OD-Rec teacher's attention (100 sessions x 40 x 40 scores, d 128) calls it three
// times per step, six with the backward, while the second core waits. Each product is one
// single-threaded gemm_out (gemm.h) on the same operands whatever the thread count, so results
// never depend on it.
#pragma once

#include <torch/torch.h>

namespace pocketrec::kernels {

// a [N, m, k], b [N, k, n] -> [N, m, n]; float or double; any strides.
torch::Tensor parallel_bmm(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace pocketrec::kernels
