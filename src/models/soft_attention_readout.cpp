#include "models/soft_attention_readout.h"

#include "kernels/parallel_linear.h"

namespace pocketrec::models {

SoftAttentionReadoutImpl::SoftAttentionReadoutImpl(int64_t d) {
  glu1 = register_module("glu1", torch::nn::Linear(d, d));
  glu2 = register_module("glu2", torch::nn::Linear(torch::nn::LinearOptions(d, d).bias(false)));
  w2 = register_module("w2", torch::nn::Linear(torch::nn::LinearOptions(d, 1).bias(false)));
}

torch::Tensor SoftAttentionReadoutImpl::forward(const torch::Tensor& H, const torch::Tensor& valid,
                                                const torch::Tensor& lengths) {
  torch::Tensor hs = H.sum(1) / lengths.to(H.scalar_type()).clamp_min(1).unsqueeze(1);  // [B,d]
  torch::Tensor gate =
      torch::sigmoid(kernels::parallel_linear(glu1, torch::tanh(H)) + kernels::parallel_linear(glu2, hs).unsqueeze(1));
  torch::Tensor a = kernels::parallel_linear(w2, gate);
  return (a * valid.unsqueeze(2).to(H.scalar_type()) * H).sum(1);
}

}  // namespace pocketrec::models
