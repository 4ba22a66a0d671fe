#include "distill/rank_distill.h"

#include <memory>

#include "core/error.h"

namespace pocketrec::distill {

void RankDistillOptions::validate() const {
  PR_CHECK(!paper_loss || alpha <= 1.0, ErrorCode::kInvalidArgument,
           "distill.rd_alpha: the paper's loss form (1 - alpha) L_R + alpha L_D needs alpha <= 1, got {}", alpha);
}

torch::Tensor position_weights(int64_t k, double lambda) {
  torch::Tensor r = torch::arange(1, k + 1, torch::kFloat64);
  torch::Tensor w = torch::exp(-r / lambda);
  return (w / w.sum()).to(torch::kFloat32);
}

torch::Tensor estimated_ranks(const torch::Tensor& candidate_scores, const torch::Tensor& sampled_scores,
                              int64_t n_items) {
  // n = #{sampled items scoring strictly above the candidate}; rhat = floor(n_items * n / eps).
  torch::Tensor above = sampled_scores.unsqueeze(1).gt(candidate_scores.unsqueeze(2)).sum(2);  // [B,K]
  const double eps = static_cast<double>(sampled_scores.size(1));
  return torch::floor(above.to(torch::kFloat64) * (static_cast<double>(n_items) / eps)).to(torch::kFloat32);
}

torch::Tensor discrepancy_weights(const torch::Tensor& ranks, double mu) {
  torch::Tensor r = torch::arange(ranks.size(1), ranks.options()).unsqueeze(0);
  return torch::tanh(mu * (ranks - r)).clamp_min(0.0);
}

torch::Tensor rank_distill_weights(const RankDistillOptions& o, int64_t batch, const torch::Tensor* w_b) {
  const bool positional = o.weighting == RdWeighting::kPosition || o.weighting == RdWeighting::kHybrid;
  torch::Tensor w = positional ? position_weights(o.k, o.lambda)
                               : torch::full({o.k}, 1.0f / static_cast<float>(o.k), torch::kFloat32);
  w = w.unsqueeze(0).expand({batch, o.k});
  if (w_b != nullptr) w = w * *w_b;
  if (o.renormalize) w = w / w.sum(1, /*keepdim=*/true).clamp_min(1e-12);
  return w.contiguous();
}

torch::Tensor rank_distill_loss(const torch::Tensor& pos, const torch::Tensor& neg, const torch::Tensor& cand,
                                const torch::Tensor& weights, const RankDistillOptions& o) {
  torch::Tensor l_r = models::sigmoid_log_loss(pos, neg);         // [B]
  torch::Tensor l_d = (weights * torch::softplus(-cand)).sum(1);  // [B]
  torch::Tensor l = o.paper_loss ? (1.0 - o.alpha) * l_r + o.alpha * l_d : l_r + o.alpha * l_d;
  return l.mean();
}

train::TrainTask rank_distill_task(const models::SampledItemTask& student, const TopKTeacherCache& cache, int64_t n_neg,
                                   const RankDistillOptions& o) {
  o.validate();
  PR_CHECK(cache.size() == student.size(), ErrorCode::kInvalidArgument,
           "distill: the teacher's top-K cache has {} samples, the student trains on {}", cache.size(), student.size());
  PR_CHECK(cache.k() == o.k, ErrorCode::kInvalidArgument, "distill.rd_k: {} but the cache holds the top {}", o.k,
           cache.k());
  PR_CHECK(student.n_targets == 1, ErrorCode::kInvalidArgument,
           "distill.method rd: the student predicts {} targets per window; RD trains on one (model.caser_targets=1, "
           "as the reference)",
           student.n_targets);
  // The epoch decides whether w^b is on; set by the trainer before each epoch (also after a resume).
  auto dynamic = std::make_shared<bool>(false);
  const TopKTeacherCache* topk = &cache;
  auto make_batch = [student, topk, n_neg, o, dynamic](const int64_t* ids, size_t n, std::mt19937_64& rng) {
    const int64_t eps = *dynamic ? o.rank_samples : 0, m = 1 + n_neg + o.k + eps;
    std::vector<int64_t> items(n * static_cast<size_t>(m));
    for (size_t b = 0; b < n; ++b) {
      const int32_t u = student.user(ids[b]), target = student.target(ids[b]);
      int64_t* row = items.data() + b * static_cast<size_t>(m);
      row[0] = target;
      for (int64_t j = 1; j <= n_neg; ++j) row[j] = student.sampler->sample(u, target, rng);
      std::copy_n(topk->row(ids[b]), o.k, row + 1 + n_neg);
      // The reference draws the rank samples like its negatives: uniform, with replacement, outside
      // the user's training items.
      for (int64_t j = 0; j < eps; ++j) row[1 + n_neg + o.k + j] = student.sampler->sample(u, target, rng);
    }
    return student.make_batch(ids, n, items, m);
  };
  auto loss = [student, n_neg, o](const train::Batch& batch) {
    const int64_t c0 = 1 + n_neg, c1 = c0 + o.k;
    // The rank samples (columns from c1 on) only feed the detached discrepancy weights.
    torch::Tensor s = student.scores(batch, c1);
    const int64_t B = s.size(0);
    torch::Tensor cand = s.slice(1, c0, c1);
    torch::Tensor weights;
    if (s.size(1) > c1) {
      torch::NoGradGuard g;
      torch::Tensor w_b = discrepancy_weights(estimated_ranks(cand, s.slice(1, c1), student.n_items), o.mu);
      weights = rank_distill_weights(o, B, &w_b);
    } else {
      weights = rank_distill_weights(o, B, nullptr);
    }
    return rank_distill_loss(s.slice(1, 0, 1), s.slice(1, 1, c0), cand, weights.detach(), o);
  };
  train::TrainTask task{*student.module, student.size(), make_batch, loss};
  task.on_epoch_begin = [dynamic, o](int64_t epoch) {
    *dynamic = o.uses_discrepancy() && epoch > o.dynamic_start_epoch;
  };
  return task;
}

}  // namespace pocketrec::distill
