#include "compress/product_quantization.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "core/error.h"

namespace pocketrec::compress {
namespace {

// index_select(0) of a table's rows whose backward sums each gradient row into its source row with
// one plain loop, in index order (deterministic). The backward of torch's index_select (index_add_ on
// the CPU in LibTorch 1.13) adds one slice per index as a separate tensor operation: for the PQ full
// table's 651,632 indices (Tmall, M = 16) that made a distillation epoch 3.7x a teacher epoch.
class GatherRows : public torch::autograd::Function<GatherRows> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& table,
                               const torch::Tensor& index) {
    ctx->save_for_backward({index});
    ctx->saved_data["rows"] = table.size(0);
    return table.index_select(0, index);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const torch::Tensor index = ctx->get_saved_variables()[0].contiguous();
    const torch::Tensor grad = grads[0].contiguous();
    const int64_t width = grad.size(1), n = index.numel();
    torch::Tensor out = torch::zeros({ctx->saved_data["rows"].toInt(), width}, grad.options());
    AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "pq_gather_rows_backward", [&] {
      const int64_t* idx = index.data_ptr<int64_t>();
      const scalar_t* src = grad.data_ptr<scalar_t>();
      scalar_t* dst = out.data_ptr<scalar_t>();
      for (int64_t r = 0; r < n; ++r) {
        scalar_t* row = dst + idx[r] * width;
        const scalar_t* g = src + r * width;
        for (int64_t w = 0; w < width; ++w) row[w] += g[w];
      }
    });
    return {out, torch::Tensor()};
  }
};

torch::Tensor squared_norms(const torch::Tensor& x) {
  return (x * x).sum(1);
}  // [n]

// Nearest centroid of every row (the first on ties) and the squared distances to it.
std::pair<torch::Tensor, torch::Tensor> nearest(const torch::Tensor& x, const torch::Tensor& c) {
  const torch::Tensor dist =
      (squared_norms(x).unsqueeze(1) - 2 * torch::matmul(x, c.t()) + squared_norms(c).unsqueeze(0)).clamp_min(0);
  auto [d2, idx] = torch::min(dist, 1);
  return {idx, d2};
}

// k-means++ seeding: each next centroid is a row drawn with probability proportional to its squared
// distance to the nearest centroid so far (Arthur & Vassilvitskii, SODA'07).
torch::Tensor seed_centroids(const torch::Tensor& x, int64_t k, std::mt19937_64& rng) {
  const int64_t n = x.size(0);
  torch::Tensor c = torch::empty({k, x.size(1)}, x.options());
  int64_t pick = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
  c[0] = x[pick];
  torch::Tensor d2 = squared_norms(x - x[pick].unsqueeze(0));
  std::vector<double> cum(static_cast<size_t>(n));
  for (int64_t j = 1; j < k; ++j) {
    const double* w = d2.data_ptr<double>();
    double total = 0;
    for (int64_t i = 0; i < n; ++i) cum[static_cast<size_t>(i)] = total += w[i];
    if (total > 0) {
      const double u = std::uniform_real_distribution<double>(0, total)(rng);
      pick = std::upper_bound(cum.begin(), cum.end(), u) - cum.begin();
      pick = std::min(pick, n - 1);
    } else {  // every row coincides with a centroid: any row
      pick = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
    }
    c[j] = x[pick];
    d2 = torch::minimum(d2, squared_norms(x - x[pick].unsqueeze(0))).contiguous();
  }
  return c;
}

// The sub-space m of a table: columns [m s, (m + 1) s).
torch::Tensor subspace(const torch::Tensor& x, int64_t m, int64_t s) {
  return x.slice(1, m * s, (m + 1) * s).contiguous();
}

// PQ of x [n, d] (double) without rotation: codes [n, M], codebooks [M, K, s] (double), reconstruction.
struct PlainPq {
  torch::Tensor codes, codebooks, reconstruction;
};
PlainPq plain_pq(const torch::Tensor& x, const PqShape& shape, int iterations, uint64_t seed) {
  const int64_t M = shape.subspaces, K = shape.codewords, s = shape.sub_dim(), n = x.size(0);
  PlainPq out{torch::empty({n, M}, torch::kInt64), torch::empty({M, K, s}, torch::kFloat64), torch::empty_like(x)};
  for (int64_t m = 0; m < M; ++m) {
    const KMeans km = kmeans(subspace(x, m, s), K, iterations, seed + static_cast<uint64_t>(m));
    const torch::Tensor codes = torch::tensor(km.assignment, torch::kInt64);
    out.codes.select(1, m).copy_(codes);
    out.codebooks[m].copy_(km.centroids.to(torch::kFloat64));
    out.reconstruction.slice(1, m * s, (m + 1) * s).copy_(out.codebooks[m].index_select(0, codes));
  }
  return out;
}

}  // namespace

void PqShape::validate(const std::string& what) const {
  PR_CHECK(subspaces >= 1 && dim % subspaces == 0, ErrorCode::kInvalidArgument,
           "{}: {} sub-spaces do not divide the dimension {}", what, subspaces, dim);
  PR_CHECK(codewords > 1 && codewords <= 256, ErrorCode::kInvalidArgument,
           "{}: {} codewords per sub-space (expected 2..256: one byte per code)", what, codewords);
  PR_CHECK(n_rows >= codewords, ErrorCode::kInvalidArgument, "{}: {} items for {} codewords per sub-space", what,
           n_rows, codewords);
}

std::string PqShape::to_string() const {
  return fmt::format("pq M={} K={} ({}-dim sub-spaces){}", subspaces, codewords, sub_dim(),
                     rotation ? " + rotation" : "");
}

KMeans kmeans(const torch::Tensor& x_in, int64_t k, int iterations, uint64_t seed) {
  torch::NoGradGuard g;
  const torch::Tensor x = x_in.to(torch::kFloat64).contiguous();
  const int64_t n = x.size(0);
  PR_CHECK(n >= k && k >= 1, ErrorCode::kInvalidArgument, "k-means: {} rows for {} centroids", n, k);
  std::mt19937_64 rng(seed);
  torch::Tensor c = seed_centroids(x, k, rng);
  torch::Tensor assign, d2;
  for (int it = 0; it < std::max(iterations, 1); ++it) {
    auto [idx, dist] = nearest(x, c);
    const bool stable = assign.defined() && torch::equal(idx, assign);
    assign = idx, d2 = dist;
    if (stable) break;
    torch::Tensor sums = torch::zeros_like(c).index_add_(0, assign, x);
    torch::Tensor counts = torch::zeros({k}, x.options()).index_add_(0, assign, torch::ones({n}, x.options()));
    c = sums / counts.clamp_min(1).unsqueeze(1);
    // An emptied cluster takes the row farthest from its centroid (which then leaves its cluster).
    const double* cnt = counts.data_ptr<double>();
    for (int64_t j = 0; j < k; ++j) {
      if (cnt[j] > 0) continue;
      const int64_t far = dist.argmax().item<int64_t>();
      c[j] = x[far];
      dist[far] = 0;
    }
  }
  std::tie(assign, d2) = nearest(x, c);
  KMeans out;
  out.centroids = c.to(torch::kFloat32);
  out.assignment.assign(assign.data_ptr<int64_t>(), assign.data_ptr<int64_t>() + n);
  out.inertia = d2.sum().item<double>();
  return out;
}

PqCodes pq_from_table(const torch::Tensor& table, const PqShape& shape, int iterations, uint64_t seed, int rounds) {
  torch::NoGradGuard g;
  PR_CHECK(table.dim() == 2 && table.size(0) == shape.n_rows && table.size(1) == shape.dim, ErrorCode::kInvalidArgument,
           "pq: a table of [{}] for {} rows of {} dimensions", fmt::join(table.sizes(), ","), shape.n_rows, shape.dim);
  const torch::Tensor x = table.to(torch::kFloat64).contiguous();
  const auto error_of = [&](const torch::Tensor& reconstruction, const torch::Tensor& rotation) {
    return (x - torch::matmul(reconstruction, rotation)).pow(2).sum().item<double>();
  };
  torch::Tensor R = torch::eye(shape.dim, torch::kFloat64);
  if (shape.rotation) {
    // OPQ: alternate the codes of X R^T and the rotation minimising ||X - Y R|| for those codes
    // (orthogonal Procrustes: R = U V^T from Y^T X = U S V^T). Each k-means restarts, so a round can
    // end worse than the one before; the rotation with the lowest error (the identity first) is kept.
    torch::Tensor candidate = R;
    double best = std::numeric_limits<double>::infinity();
    for (int r = 0; r <= rounds; ++r) {
      const PlainPq pq = plain_pq(torch::matmul(x, candidate.t()), shape, std::max(iterations / 2, 1), seed);
      const double error = error_of(pq.reconstruction, candidate);
      if (error < best) best = error, R = candidate;
      if (r == rounds) break;
      auto [U, S, Vh] = torch::linalg_svd(torch::matmul(pq.reconstruction.t(), x), /*full_matrices=*/false);
      candidate = torch::matmul(U, Vh);
    }
  }
  const torch::Tensor rotated = torch::matmul(x, R.t());
  const PlainPq pq = plain_pq(rotated, shape, iterations, seed);
  PqCodes out;
  out.codes = pq.codes;
  out.codebooks = pq.codebooks.to(torch::kFloat32);
  if (shape.rotation) out.rotation = R.to(torch::kFloat32);
  out.distortion = error_of(pq.reconstruction, R) / std::max(x.pow(2).sum().item<double>(), 1e-300);
  return out;
}

PqCodes pq_from_svd(const data::Sequences& train, const PqShape& shape, double init_std, uint64_t seed) {
  torch::NoGradGuard g;
  const int64_t M = shape.subspaces, K = shape.codewords, N = shape.n_rows, S = static_cast<int64_t>(train.size());
  const int64_t r = M + 8;  // oversampled rank of the randomised range finder (Halko et al., 2011)
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  torch::Tensor omega = torch::empty({N, r}, torch::kFloat64);
  for (double* p = omega.data_ptr<double>(); p != omega.data_ptr<double>() + N * r; ++p) *p = normal(rng);
  // The incidence matrix A [S, N] (1 where a sequence holds an item), as its (row, item) pairs.
  std::vector<int64_t> row_list, item_list;
  for (int64_t q = 0; q < S; ++q) {
    const data::ItemSpan span = train[static_cast<size_t>(q)];
    std::vector<int32_t> distinct(span.begin(), span.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    for (int32_t i : distinct) row_list.push_back(q), item_list.push_back(i);
  }
  const torch::Tensor rows = torch::tensor(row_list, torch::kInt64), items = torch::tensor(item_list, torch::kInt64);
  auto a_times = [&](const torch::Tensor& z) {  // A z: [N, r] -> [S, r]
    return torch::zeros({S, r}, torch::kFloat64).index_add_(0, rows, z.index_select(0, items));
  };
  auto at_times = [&](const torch::Tensor& y) {  // A^T y: [S, r] -> [N, r]
    return torch::zeros({N, r}, torch::kFloat64).index_add_(0, items, y.index_select(0, rows));
  };
  torch::Tensor Q = std::get<0>(torch::linalg_qr(a_times(omega)));
  for (int p = 0; p < 2; ++p) Q = std::get<0>(torch::linalg_qr(a_times(at_times(Q))));  // power iterations
  auto [U, Sigma, Vh] = torch::linalg_svd(at_times(Q), /*full_matrices=*/false);        // (A^T Q) = U Sigma Vh
  const torch::Tensor loadings = (U * Sigma.unsqueeze(0)).slice(1, 0, M).contiguous();  // [N, M]
  PqCodes out;
  out.codes = torch::empty({N, M}, torch::kInt64);
  auto codes = out.codes.accessor<int64_t, 2>();
  for (int64_t m = 0; m < M; ++m) {  // K equal-frequency bins of each loading (ties by item id)
    const torch::Tensor order = std::get<1>(torch::sort(loadings.select(1, m), /*stable=*/true, 0, false));
    const int64_t* o = order.data_ptr<int64_t>();
    for (int64_t rank = 0; rank < N; ++rank) codes[o[rank]][m] = rank * K / N;
  }
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  out.codebooks = torch::randn({M, K, shape.sub_dim()}, gen) * init_std;
  return out;
}

PqCodes pq_random(const PqShape& shape, double init_std, uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  PqCodes out;
  out.codes = torch::randint(shape.codewords, {shape.n_rows, shape.subspaces}, gen, torch::kInt64);
  out.codebooks = torch::randn({shape.subspaces, shape.codewords, shape.sub_dim()}, gen) * init_std;
  return out;
}

ProductQuantizedEmbeddingImpl::ProductQuantizedEmbeddingImpl(PqShape shape) : shape_(shape) {
  shape_.validate("model.pq_subspaces / model.pq_codewords");
  const int64_t M = shape_.subspaces, K = shape_.codewords;
  codebooks_ = register_parameter("codebooks", torch::zeros({M, K, shape_.sub_dim()}));
  codes_ = register_buffer("codes", torch::zeros({shape_.n_rows, M}, torch::kInt64));
  if (shape_.rotation) rotation_ = register_buffer("rotation", torch::eye(shape_.dim));
  offsets_ = torch::arange(M, torch::kInt64) * K;
}

void ProductQuantizedEmbeddingImpl::assign(const PqCodes& p) {
  torch::NoGradGuard g;
  PR_CHECK(p.codes.sizes() == codes_.sizes() && p.codebooks.sizes() == codebooks_.sizes(), ErrorCode::kInternal,
           "pq: codes [{}] / codebooks [{}] do not fit the table's [{}] / [{}]", fmt::join(p.codes.sizes(), ","),
           fmt::join(p.codebooks.sizes(), ","), fmt::join(codes_.sizes(), ","), fmt::join(codebooks_.sizes(), ","));
  PR_CHECK(p.codes.min().item<int64_t>() >= 0 && p.codes.max().item<int64_t>() < shape_.codewords, ErrorCode::kInternal,
           "pq: a code outside [0, {})", shape_.codewords);
  codes_.copy_(p.codes);
  codebooks_.copy_(p.codebooks);
  if (shape_.rotation) {
    PR_CHECK(p.rotation.defined(), ErrorCode::kInternal, "pq: the table has a rotation, the codes none");
    rotation_.copy_(p.rotation);
  }
}

void ProductQuantizedEmbeddingImpl::to(torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(dtype, non_blocking);
  codes_.set_data(codes_.to(torch::kInt64));  // codes < 256: exact in any floating type
}

void ProductQuantizedEmbeddingImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  codes_.set_data(codes_.to(torch::kInt64));
}

torch::Tensor ProductQuantizedEmbeddingImpl::rows_of(const torch::Tensor& flat_ids) {
  const int64_t n = flat_ids.size(0);
  const torch::Tensor index = (codes_.index_select(0, flat_ids) + offsets_.unsqueeze(0)).reshape({-1});  // [n M]
  torch::Tensor rows = GatherRows::apply(codebooks_.view({-1, shape_.sub_dim()}), index).view({n, shape_.dim});
  return shape_.rotation ? torch::matmul(rows, rotation_) : rows;
}

torch::Tensor ProductQuantizedEmbeddingImpl::forward(const torch::Tensor& ids) {
  std::vector<int64_t> shape(ids.sizes().begin(), ids.sizes().end());
  shape.push_back(shape_.dim);
  return rows_of(ids.reshape({-1})).view(shape);
}

torch::Tensor ProductQuantizedEmbeddingImpl::full_table() {
  return rows_of(torch::arange(shape_.n_rows, torch::kInt64));
}

}  // namespace pocketrec::compress
