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
  auto make_batch = [task, n_neg](const int64_t* ids, size_t n, std::mt19937_64& rng) {
    const int64_t m = 1 + n_neg;
    std::vector<int64_t> items(n * static_cast<size_t>(m));
    for (size_t b = 0; b < n; ++b) {
      const int32_t u = task.user(ids[b]), target = task.target(ids[b]);
      int64_t* row = items.data() + b * static_cast<size_t>(m);
      row[0] = target;
      for (int64_t k = 1; k < m; ++k) row[k] = task.sampler->sample(u, target, rng);
    }
    return task.make_batch(ids, n, items, m);
  };
  const int64_t batch_columns = 1 + n_neg;
  auto loss = [task, batch_columns](const train::Batch& batch) {
    torch::Tensor s = task.scores(batch, batch_columns);
    return sigmoid_log_loss(s.slice(1, 0, 1), s.slice(1, 1)).mean();
  };
  return {*task.module, task.size(), make_batch, loss};
}

}  // namespace pocketrec::models
