// Dropout whose random mask comes from a counter-based generator (SplitMix64, Steele et al.,
// OOPSLA'14): element i of a call is kept iff 32 bits of mix(seed + (i/2 + 1) * gamma) fall below
// (1 - p) * 2^32, and kept values are scaled by 1 / (1 - p), as torch::nn::Dropout does.
//
// Why not torch::nn::Dropout: LibTorch 1.13 built without MKL draws its Bernoulli mask one element
// at a time from the locked global generator; on the OD-Rec teacher's [100, 40, 128] activations a
// call takes 7.7 ms forward + backward against 0.82 ms here (bench_training Dropout/*, 2 threads),
// and the teacher's step has four such calls. Here one
// 64-bit seed per call is drawn from LibTorch's default CPU generator, so torch::manual_seed and the
// trainer's saved RNG state govern it as before; the mask is a pure function of (seed, index), so it
// is computed in parallel, does not depend on the thread count, and is not stored: the backward
// recomputes it from the seed.
#pragma once

#include <torch/torch.h>

namespace pocketrec::kernels {

// Training: y = x / (1 - p) where kept and exactly +0 where dropped (also for a dropped inf or NaN,
// which torch's x * mask would keep as NaN). Otherwise, or when p == 0: x itself. Float or double.
torch::Tensor counter_based_dropout(const torch::Tensor& x, double p, bool training);

// The module form, a drop-in for torch::nn::Dropout (no parameters, so checkpoints are unchanged).
class CounterBasedDropoutImpl : public torch::nn::Module {
 public:
  explicit CounterBasedDropoutImpl(double p);
  torch::Tensor forward(const torch::Tensor& x) { return counter_based_dropout(x, p_, is_training()); }
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(CounterBasedDropout);

}  // namespace pocketrec::kernels
