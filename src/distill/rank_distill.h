// Ranking Distillation (Tang & Wang, KDD'18; docs/design/rankdistill.md §4), for any teacher/student
// pair of SampledItemModels (Caser, Fossil, SASRec): a student learns from the ground
// truth and from the teacher's top-K unobserved items of each training sample (TopKTeacherCache),
//   L_D = sum_{r=1..K} w_r * -log sigmoid(s_{pi_r})                       (paper §4.1)
//   reference form: L = L_R + alpha * L_D   (the code's, alpha = 1; docs/design/rankdistill.md §4.2.7)
//   paper form:     L = (1 - alpha) * L_R + alpha * L_D
// with L_R the student's own sigmoid log-loss on its target and sampled negatives. Weights:
//   position importance  w^a_r = exp(-r / lambda) / sum_i exp(-i / lambda)
//   ranking discrepancy  w^b_r = max(tanh(mu * (rhat_r - r)), 0), rhat the student's rank of pi_r
//                        estimated from eps sampled items (Alg. 1 as the reference codes it:
//                        rhat = floor(n_items * #{sampled scoring above pi_r} / eps), 0-based r)
//   uniform 1/K, position w^a, discrepancy (1/K) w^b, hybrid w^a w^b; the w^b factor is 1 until
//   the epoch after distill.rd_start_epoch. Weights are constants (no gradient); renormalising each
//   row to sum 1 is the paper's choice, not the reference's.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "distill/topk_teacher_cache.h"
#include "models/sampled_item_task.h"
#include "train/task.h"

namespace pocketrec::distill {

enum class RdWeighting { kUniform, kPosition, kDiscrepancy, kHybrid };

struct RankDistillOptions {
  int64_t k = 10;
  double lambda = 1.0, mu = 0.1, alpha = 1.0;
  int64_t rank_samples = 100;        // eps
  int64_t dynamic_start_epoch = 10;  // w^b applies from the epoch after this one
  RdWeighting weighting = RdWeighting::kHybrid;
  bool renormalize = false;
  bool paper_loss = false;
  TopKExclusion exclusion = TopKExclusion::kHistory;  // what the teacher's top-K leaves out
  // Error(kInvalidArgument) naming the key for a combination the method refuses (alpha > 1 with the
  // paper's loss form).
  void validate() const;
  bool uses_discrepancy() const { return weighting == RdWeighting::kDiscrepancy || weighting == RdWeighting::kHybrid; }
};

// w^a for r = 1..K, [K], summing to 1.
torch::Tensor position_weights(int64_t k, double lambda);
// rhat [B,K] (0-based, float) of candidates [B,K] from the scores of eps sampled items [B,eps].
torch::Tensor estimated_ranks(const torch::Tensor& candidate_scores, const torch::Tensor& sampled_scores,
                              int64_t n_items);
// w^b [B,K] = max(tanh(mu * (rhat - r)), 0) with r = 0..K-1.
torch::Tensor discrepancy_weights(const torch::Tensor& ranks, double mu);
// The [B,K] weights of a batch: base (uniform or position) times w^b when given, optionally
// L1-renormalised per row (an all-zero row stays zero).
torch::Tensor rank_distill_weights(const RankDistillOptions& o, int64_t batch, const torch::Tensor* w_b);
// Mean over the batch of the loss above: pos [B,1], neg [B,n], cand [B,K], weights [B,K].
torch::Tensor rank_distill_loss(const torch::Tensor& pos, const torch::Tensor& neg, const torch::Tensor& cand,
                                const torch::Tensor& weights, const RankDistillOptions& o);

// The student's training task with the distillation loss: per sample its target, n_neg negatives,
// the cached top-K and (while w^b is on) eps rank samples, scored in one forward. The student and
// the cache must outlive it.
train::TrainTask rank_distill_task(const models::SampledItemTask& student, const TopKTeacherCache& cache, int64_t n_neg,
                                   const RankDistillOptions& options);

}  // namespace pocketrec::distill
