// Full-softmax cross-entropy over a whole item table, as one autograd function:
//
//   loss = mean_b [ logsumexp_j <q_b, w_j>  -  <q_b, w_{y_b}> ]
//
// the value and gradients of cross_entropy(matmul(queries, items.t()), targets). Why not those two
// LibTorch calls: LibTorch runs each product as one single-threaded BLAS call (the forward's right
// operand is a transposed view, which is slower still), and log_softmax / nll_loss walk the score
// matrix (16 MB on the Tmall teacher's step: B 100, 40,727 items) several more times. Here the products
// are split into fixed tiles (row blocks x item chunks) run in parallel on torch's threads, the
// softmax statistics are taken from each tile while it is in cache, and the backward turns the saved
// scores into softmax gradients in place. Forward + backward at the Tmall teacher's sizes: 28.4 ms
// against 46.7 ms for the two LibTorch calls (bench_training FullSoftmaxCE/tmall/*, 2 threads).
// Every output value is computed by one fixed tile whatever the thread count, so results do not
// depend on it.
#pragma once

#include <torch/torch.h>

namespace pocketrec::kernels {

// queries [B, d], items [N, d], targets [B] (int64 ids in [0, N)) -> scalar mean loss. Float or
// double (gradient checks). Differentiable in queries and items, once (no double backward, and the
// graph may be walked once: retain_graph is refused).
torch::Tensor full_softmax_cross_entropy(const torch::Tensor& queries, const torch::Tensor& items,
                                         const torch::Tensor& targets);

// The same cross-entropy and, from the same pass over the score tiles, the distillation term of
// OD-Rec's self-supervised KD (docs/design/odrec.md §3):
//   kl = T^2 sum_b KL( softmax(z_b / T) || softmax(<q_b, W> / T) )
// teacher_scores [B, N] z: constants (no gradient flows to them). The T^2 (Hinton et al., 2015) keeps
// the KL gradients' scale independent of T. Replaces cross_entropy + a KL over log_softmax of both
// score matrices, which walked them about ten times (20 ms of the 78 ms forward of OD-Rec's Tmall
// step; bench_training TrainStep/odrec_sskd_tmall).
struct FullSoftmaxDistillation {
  torch::Tensor cross_entropy, kl;  // scalars: the mean cross-entropy, the KL summed over the batch
};
FullSoftmaxDistillation full_softmax_distillation(const torch::Tensor& queries, const torch::Tensor& items,
                                                  const torch::Tensor& targets, const torch::Tensor& teacher_scores,
                                                  double temperature);

}  // namespace pocketrec::kernels
