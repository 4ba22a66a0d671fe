// y = x W^T + b, as torch::nn::functional::linear, with its matrix products split into fixed tiles
// run on torch's intra-op threads: (row block, output block) for the output, (row block, input block)
// for the input gradient, blocks of weight rows for the weight gradient. Wide layers work too: item
// scores against a whole item table are parallel_linear(session_vectors, item_table, {}).
//
// Why: LibTorch runs each of a linear layer's products as one BLAS call, and BLAS runs single-threaded
// beside torch's own threads (two pools on two cores oversubscribe them: docs/design/platform.md §3),
// so one core idles. The OD-Rec teacher's encoder has nine linear layers over 100 sessions x 40
// positions; one of them (128 -> 128) takes 2.7-3.1 ms forward + backward here against 4.3-4.6 ms
// for torch::nn::Linear (bench_training Linear/*, 2 threads, two runs). The tiles never depend on the
// thread count, so neither do the results.
#pragma once

#include <torch/torch.h>

namespace pocketrec::kernels {

// x [..., in], weight [out, in], bias [out] or undefined -> [..., out]. Float or double.
torch::Tensor parallel_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// The same on a torch::nn::Linear's parameters (the module keeps them, so checkpoints are unchanged).
inline torch::Tensor parallel_linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return parallel_linear(x, layer->weight, layer->bias);
}

}  // namespace pocketrec::kernels
