#include "models/sampled_item_task.h"

namespace pocketrec::models {

torch::Tensor sigmoid_log_loss(const torch::Tensor& pos, const torch::Tensor& neg) {
  return torch::softplus(-pos).sum(1) + torch::softplus(neg).sum(1);
}

torch::Tensor scores_with_grad_prefix(int64_t m, int64_t with_grad,
                                      const std::function<torch::Tensor(int64_t begin, int64_t end)>& score) {
  if (with_grad >= m) return score(0, m);
  torch::Tensor differentiable = score(0, with_grad), rest;
  {
    torch::NoGradGuard g;
    rest = score(with_grad, m);
  }
  return torch::cat({differentiable, rest}, 1);
}

train::TrainTask sigmoid_loss_task(const SampledItemTask& task, int64_t n_neg) {
  const int64_t T = task.n_targets, m = T * (1 + n_neg);
  auto make_batch = [task, n_neg, T, m](const int64_t* ids, size_t n, std::mt19937_64& rng) {
    std::vector<int64_t> items(n * static_cast<size_t>(m));
    for (size_t b = 0; b < n; ++b) {
      const int32_t u = task.user(ids[b]);
      int64_t* row = items.data() + b * static_cast<size_t>(m);  // [targets (T) | negatives (T*n_neg)]
      for (int64_t t = 0; t < T; ++t) {
        const int32_t target = task.target(ids[b], t);
        row[t] = target;
        for (int64_t k = 0; k < n_neg; ++k) row[T + t * n_neg + k] = task.sampler->sample(u, target, rng);
      }
    }
    return task.make_batch(ids, n, items, m);
  };
  auto loss = [task, T, m](const train::Batch& batch) {
    torch::Tensor s = task.scores(batch, m);
    return sigmoid_log_loss(s.slice(1, 0, T), s.slice(1, T)).mean();
  };
  return {*task.module, task.size(), make_batch, loss};
}

}  // namespace pocketrec::models
