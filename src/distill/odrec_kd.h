// OD-Rec self-supervised knowledge distillation (Xia et al., SIGIR'22; docs/design/odrec.md §3) from a frozen
// SASRec teacher into a student of the same architecture (typically with a semi-tensor-train item
// table). Per batch, with s = session vectors, E = item tables, y = targets:
//   L_rec  = CE(s^S E^S^T, y)                                         (mean)
//   L_kd   = T^2 sum_b KL(softmax(s^T E^T^T / T) || softmax(s^S E^S^T / T)) (summed over the batch;
//            with L_rec, kernels::full_softmax_distillation)
//   L_cl   = InfoNCE(u, v; tau), u = [W [z^S_hot; z^T_cold]; s^T[cold-only]; s^T[hot-only]],
//                                v = [W1 [z^T_hot; z^S_cold]; s^S[cold-only]; s^S[hot-only]]  (summed)
//   L_pred = CE(norm(u') E^S^T, y') + CE(norm(v') E^T^T, y'), u' and v' the same views through W2, W3
//   L      = (1 - para) L_rec + para L_kd + beta L_cl + alpha L_pred
// where z_hot / z_cold are soft-attention readouts of the raw embeddings of a mixed session's hot
// and cold items (embedding recombination: the student's hot half with the teacher's cold half and
// vice versa). The sums and weights are the reference's. Two deliberate differences from the
// reference code: the predictive targets are aligned (as_published = true restores its order,
// docs/design/odrec.md §3.3.4), and the teacher-side sub-session heads train with the student (in
// the reference they belong to the teacher and keep their random initialisation, §8.13); the
// teacher's own network never changes.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "data/dataset.h"
#include "models/session_encoder.h"
#include "models/soft_attention_readout.h"
#include "train/task.h"

namespace pocketrec::distill {

struct OdRecKdOptions {
  // hot_fraction: the share of the distinct input items that are hot (data::hot_items, data/popularity.h).
  double para = 0.8, beta = 0.2, alpha = 0.001, tau = 0.2, temperature = 1.0, hot_fraction = 0.2;
  bool as_published = false;  // the predictive loss's targets in the reference's misaligned order
  // With beta = alpha = 0 the loss is (1 - para) L_rec + para L_kd alone: no heads are built and the
  // hot/cold views are not computed.
  bool self_supervised() const { return beta != 0 || alpha != 0; }
};

// sum_i -log( exp(u_i.v_i / tau) / sum_j exp(u_i.v_j / tau) ) over L2-normalised rows.
torch::Tensor info_nce_sum(const torch::Tensor& u, const torch::Tensor& v, double tau);

// The groups of a right-padded batch (samples of length >= 2 only; shorter ones join no group):
// mixed samples as their order-preserving hot and cold subsequences (right-padded to L), and the
// batch rows of the cold-only and hot-only samples. Built with index operations, no per-sample loop.
struct HotColdBatch {
  torch::Tensor mixed;                                 // [M] batch rows
  torch::Tensor hot_seq, hot_len, cold_seq, cold_len;  // [M, L], [M]
  torch::Tensor cold_only, hot_only;                   // [Nc], [Nh] batch rows
};
HotColdBatch split_hot_cold(const torch::Tensor& seq, const torch::Tensor& lengths, const torch::Tensor& is_hot,
                            int64_t pad);

// The distillation heads: student and teacher-side sub-session readouts and the four projections.
struct OdRecKdHeadsImpl : torch::nn::Module {
  explicit OdRecKdHeadsImpl(int64_t d);
  models::SoftAttentionReadout student_hot{nullptr}, student_cold{nullptr}, teacher_hot{nullptr}, teacher_cold{nullptr};
  torch::nn::Linear mlp{nullptr}, mlp1{nullptr}, mlp2{nullptr}, mlp3{nullptr};  // 2d -> d, no bias
};
TORCH_MODULE(OdRecKdHeads);

// The training task: the student's own batches (prefix -> next item), the loss above, and a module
// holding the student network and the heads (what the optimizer trains and checkpoints store).
// The teacher and the student must outlive it.
struct OdRecKdTask {
  std::shared_ptr<torch::nn::Module> module;  // student network + heads; task.module refers to it
  OdRecKdHeads heads;                         // empty when !options.self_supervised()
  torch::Tensor is_hot;                       // [n_items + 1] bool, the padding id last (false); empty like heads
  train::TrainTask task;
};
OdRecKdTask make_odrec_kd_task(models::SessionEncoder& teacher, models::SessionEncoder& student,
                               const train::TrainTask& student_task, const data::Dataset& data,
                               const OdRecKdOptions& options);

// The loss terms of one batch {seq, lengths, targets} (exposed for tests and the training log).
struct OdRecKdLosses {
  torch::Tensor rec, kd, cl, pred, total;
};
OdRecKdLosses odrec_kd_losses(models::SessionEncoder& teacher, models::SessionEncoder& student, OdRecKdHeads& heads,
                              const torch::Tensor& is_hot, const train::Batch& batch, const OdRecKdOptions& options);

}  // namespace pocketrec::distill
