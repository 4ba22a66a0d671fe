#include "compress/item_order.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"

namespace pocketrec::compress {
namespace {

// Squared distances [n, k] between the rows of x [n, d] and c [k, d].
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& c) {
  return x.pow(2).sum(1, true) - 2 * torch::matmul(x, c.t()) + c.pow(2).sum(1).unsqueeze(0);
}

// Means of the rows of x [n, d] per label (labels [n] in [0, k)); a label without rows keeps `old`'s row.
torch::Tensor label_means(const torch::Tensor& x, const torch::Tensor& labels, int64_t k, const torch::Tensor& old) {
  torch::Tensor sums = torch::zeros({k, x.size(1)}, x.options()).index_add_(0, labels, x);
  torch::Tensor counts = torch::zeros({k}, x.options()).index_add_(0, labels, torch::ones({x.size(0)}, x.options()));
  torch::Tensor means = sums / counts.clamp_min(1).unsqueeze(1);
  return torch::where(counts.gt(0).unsqueeze(1), means, old);
}

torch::Tensor to_tensor(const std::vector<int64_t>& v) {
  return torch::from_blob(const_cast<int64_t*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kInt64).clone();
}

// k-means++ seeding (Arthur & Vassilvitskii 2007): k rows of x, each drawn with probability
// proportional to its squared distance from the nearest row drawn before.
torch::Tensor kmeanspp_rows(const torch::Tensor& x, int64_t k, std::mt19937_64& rng) {
  const int64_t n = x.size(0);
  std::vector<int64_t> ids = {std::uniform_int_distribution<int64_t>(0, n - 1)(rng)};
  torch::Tensor nearest = squared_distances(x, x[ids[0]].unsqueeze(0)).squeeze(1).clamp_min(0).to(torch::kFloat64);
  while (static_cast<int64_t>(ids.size()) < k) {
    const double* w = nearest.data_ptr<double>();
    const double total = nearest.sum().item<double>();
    int64_t pick = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);  // all rows equal: any
    if (total > 0) {
      double u = std::uniform_real_distribution<double>(0, total)(rng);
      for (pick = 0; pick < n - 1 && u >= w[pick]; ++pick) u -= w[pick];
    }
    ids.push_back(pick);
    torch::Tensor d = squared_distances(x, x[pick].unsqueeze(0)).squeeze(1).clamp_min(0).to(torch::kFloat64);
    nearest = torch::minimum(nearest, d);
  }
  return x.index_select(0, to_tensor(ids)).clone();
}

}  // namespace

std::vector<int64_t> balanced_assignment(const torch::Tensor& cost, int64_t capacity) {
  const int64_t n = cost.size(0), G = cost.size(1);
  PR_CHECK(n <= G * capacity, ErrorCode::kInvalidArgument, "balanced_assignment: {} rows do not fit {} x {}", n, G,
           capacity);
  const torch::Tensor order = std::get<1>(cost.contiguous().view({-1}).sort(/*stable=*/true, 0, false));
  const int64_t* pair = order.data_ptr<int64_t>();
  std::vector<int64_t> column(static_cast<size_t>(n), -1), load(static_cast<size_t>(G), 0);
  int64_t left = n;
  for (int64_t k = 0; k < n * G && left > 0; ++k) {
    const int64_t i = pair[k] / G, g = pair[k] % G;
    if (column[i] >= 0 || load[g] >= capacity) continue;
    column[i] = g;
    ++load[g];
    --left;
  }
  return column;
}

double additive_fit(const torch::Tensor& table, const std::vector<int64_t>& slot_of_item, int64_t capacity) {
  torch::NoGradGuard g;
  const torch::Tensor x = table.to(torch::kFloat64), slots = to_tensor(slot_of_item).slice(0, 0, table.size(0));
  const torch::Tensor group = torch::div(slots, capacity, "floor"), position = torch::remainder(slots, capacity);
  const int64_t n_groups = group.max().item<int64_t>() + 1;
  const torch::Tensor centred = x - x.mean(0, true);
  const torch::Tensor zeros_g = torch::zeros({n_groups, x.size(1)}, x.options());
  torch::Tensor resid = centred - label_means(centred, group, n_groups, zeros_g).index_select(0, group);
  const torch::Tensor zeros_p = torch::zeros({capacity, x.size(1)}, x.options());
  resid = resid - label_means(resid, position, capacity, zeros_p).index_select(0, position);
  return 1.0 - resid.pow(2).sum().item<double>() / centred.pow(2).sum().item<double>();
}

ItemOrder teacher_guided_item_order(const torch::Tensor& table, const SttShape& shape, uint64_t seed, int iterations) {
  torch::NoGradGuard no_grad;
  const int64_t n = table.size(0), n_rows = shape.n_rows(), G = shape.items[0], C = n_rows / G;
  PR_CHECK(n <= n_rows && n >= G, ErrorCode::kInvalidArgument,
           "item order: {} teacher rows for an STT table of {} rows in {} groups", n, n_rows, G);
  const torch::Tensor x = table.detach().to(torch::kFloat32).contiguous();
  std::mt19937_64 rng(seed);

  // Groups: balanced k-means (Lloyd iterations whose assignment step respects the capacity C).
  torch::Tensor centroids = kmeanspp_rows(x, G, rng), group;
  for (int it = 0; it < iterations; ++it) {
    group = to_tensor(balanced_assignment(squared_distances(x, centroids), C));
    centroids = label_means(x, group, G, centroids);
  }

  // Positions: each group's items matched one-to-one to C position vectors, which are then the mean
  // offset (from the group mean) of the items at that position, alternately.
  const torch::Tensor offsets = x - centroids.index_select(0, group);
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(G));
  const int64_t* gp = group.data_ptr<int64_t>();
  for (int64_t v = 0; v < n; ++v) members[gp[v]].push_back(v);
  torch::Tensor positions = kmeanspp_rows(offsets, C, rng);
  std::vector<int64_t> position(static_cast<size_t>(n));
  for (int it = 0; it < iterations; ++it) {
    for (const auto& m : members) {
      if (m.empty()) continue;
      const std::vector<int64_t> p =
          balanced_assignment(squared_distances(offsets.index_select(0, to_tensor(m)), positions), 1);
      for (size_t i = 0; i < m.size(); ++i) position[m[i]] = p[i];
    }
    positions = label_means(offsets, to_tensor(position), C, positions);
  }

  ItemOrder order;
  order.slot_of_item.resize(static_cast<size_t>(n_rows));
  std::vector<char> used(static_cast<size_t>(n_rows), 0);
  for (int64_t v = 0; v < n; ++v) {
    order.slot_of_item[v] = gp[v] * C + position[v];
    used[order.slot_of_item[v]] = 1;
  }
  int64_t next = n;  // the padding rows take the free slots in order
  for (int64_t s = 0; s < n_rows; ++s)
    if (!used[s]) order.slot_of_item[next++] = s;
  std::vector<int64_t> identity(static_cast<size_t>(n_rows));
  std::iota(identity.begin(), identity.end(), 0);
  order.explained_identity = additive_fit(x, identity, C);
  order.explained = additive_fit(x, order.slot_of_item, C);
  return order;
}

}  // namespace pocketrec::compress
