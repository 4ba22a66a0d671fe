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
  const int64_t B = H.size(0), L = H.size(1), d = H.size(2);
  torch::Tensor hs = H.sum(1) / lengths.to(H.scalar_type()).clamp_min(1).unsqueeze(1);  // [B,d]
  // The gate only at the real rows: a padded row's weight is multiplied by 0, so its glu1 and w2
  // products are never computed (most of a batch's rows: Tmall prefixes are padded to 40 positions,
  // 6.5 of them real on average).
  const torch::Tensor rows = valid.reshape({-1}).nonzero().squeeze(1);  // flat indices into [B*L]
  const torch::Tensor session = torch::div(rows, L, "floor");
  const torch::Tensor Hr = H.reshape({B * L, d}).index_select(0, rows);  // [N,d]
  torch::Tensor gate = torch::sigmoid(kernels::parallel_linear(glu1, torch::tanh(Hr)) +
                                      kernels::parallel_linear(glu2, hs).index_select(0, session));
  torch::Tensor a = kernels::parallel_linear(w2, gate);  // [N,1]
  return torch::zeros({B, d}, H.options()).index_add(0, session, a * Hr);
}

}  // namespace pocketrec::models
