// Caser's two convolution layers (Tang & Wang, WSDM'18, §3.2-3.3) as one autograd function, for
// an input X [B, L, d] of L item embeddings:
//   vertical   o_v[b, c*d + k]  = bv[c] + sum_l Wv[c, l] X[b, l, k]                 (nv filters of L x 1)
//   horizontal o_h[b, f, t]     = bh[f] + sum_{j<h} Wh[f, j, :] . X[b, t + j, :]     (nh filters of h x d,
//                                                                                    one output per height h)
// The parameters are those of the torch::nn::Conv2d modules (weights [nv,1,L,1] and [nh,1,h,d]), so
// checkpoints are unchanged. Why not Conv2d: LibTorch's CPU convolution takes its slow generic path on
// these one-channel, full-width shapes. At Caser-T's sizes (B 512, L 5, d 100, nh 16, nv 2) the two
// layers took 14-21 ms of a 29 ms training step, mostly in backward; here a horizontal window
// X[b, t:t+h, :] is h*d contiguous floats, so each height is one matrix product forward and two
// backward, and the vertical layer is a short loop. Both run per fixed block of 128 samples on torch's
// threads (BLAS alone would use one core), the weight gradients summed from per-block partials in
// block order, so no value depends on the thread count. Forward + backward against Conv2d
// (bench_training CaserConvolutions/*): 3.3x faster on 1 thread, 4.0x on 2.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace pocketrec::models {

// Returns {o_v [B, nv*d], o_h for h = 1..L [B, nh, L-h+1]}. conv_weights and conv_biases list the
// vertical filter first, then the horizontal filters of heights 1..L. Float or double (gradient checks).
std::vector<torch::Tensor> caser_convolutions(const torch::Tensor& X, const std::vector<torch::Tensor>& conv_weights,
                                              const std::vector<torch::Tensor>& conv_biases);

}  // namespace pocketrec::models
