// The soft-attention session readout of the OD-Rec teacher (SR-GNN / DHCN style; docs/design/odrec.md §1),
// also used on raw item embeddings by OD-Rec's hot/cold sub-session heads (§3.2):
//   hs  = (sum of all L rows of H) / length          (padded rows included; see sasrec.cpp)
//   a_l = w2 . sigmoid(glu1(tanh(H_l)) + glu2(hs))
//   s   = sum_l a_l * mask_l * H_l                    (a_l computed at the real rows only)
#pragma once

#include <torch/torch.h>

namespace pocketrec::models {

struct SoftAttentionReadoutImpl : torch::nn::Module {
  explicit SoftAttentionReadoutImpl(int64_t d);
  // H [B,L,d], valid [B,L] (bool), lengths [B] -> [B,d]
  torch::Tensor forward(const torch::Tensor& H, const torch::Tensor& valid, const torch::Tensor& lengths);

  torch::nn::Linear glu1{nullptr}, glu2{nullptr}, w2{nullptr};
};
TORCH_MODULE(SoftAttentionReadout);

}  // namespace pocketrec::models
