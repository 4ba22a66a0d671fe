#include "compress/semi_tensor_train.h"

#include "core/error.h"
#include "kernels/parallel_linear.h"

namespace pocketrec::compress {

torch::Tensor semi_tensor_product(const torch::Tensor& A, const torch::Tensor& B, int64_t t) {
  const int64_t P = B.size(-2), Q = B.size(-1);
  PR_CHECK(A.size(-1) == P * t, ErrorCode::kInvalidArgument,
           "semi_tensor_product: A has {} columns, B has {} rows, t = {} (need columns = rows * t)", A.size(-1), P, t);
  if (t == 1) return torch::matmul(A, B);
  // A[..., h, p, s] -> [..., s, h, p]; one matmul per s against B: [..., s, h, q] -> [..., h, q, s].
  std::vector<int64_t> split(A.sizes().begin(), A.sizes().end() - 1);
  split.push_back(P);
  split.push_back(t);
  const int64_t nd = static_cast<int64_t>(split.size());
  torch::Tensor As = A.reshape(split).movedim(nd - 1, nd - 3);       // [..., t, h, P]
  torch::Tensor C = torch::matmul(As, B.unsqueeze(-3));              // [..., t, h, Q]
  std::vector<int64_t> out(A.sizes().begin(), A.sizes().end() - 1);  // [..., h]
  out.push_back(Q * t);
  return C.movedim(-3, -1).reshape(out);  // [..., h, Q, t] -> [..., h, Q*t]
}

SemiTensorTrainEmbeddingImpl::SemiTensorTrainEmbeddingImpl(SttShape shape, double init_bound, bool ordered)
    : shape_(std::move(shape)) {
  shape_.validate(shape_.n_rows(), shape_.dim(), "SemiTensorTrainEmbedding");
  torch::NoGradGuard g;
  for (size_t k = 0; k < shape_.n_cores(); ++k) {
    auto [r, c] = shape_.core_shape(k);
    cores_.push_back(
        register_parameter("core" + std::to_string(k), torch::empty({r, c}).uniform_(-init_bound, init_bound)));
  }
  if (ordered) slot_of_item_ = register_buffer("slot_of_item", torch::arange(shape_.n_rows(), torch::kInt64));
}

void SemiTensorTrainEmbeddingImpl::set_item_order(const std::vector<int64_t>& slot_of_item) {
  const int64_t n = shape_.n_rows();
  PR_CHECK(ordered(), ErrorCode::kInvalidArgument, "SemiTensorTrainEmbedding: built without an item order");
  PR_CHECK(static_cast<int64_t>(slot_of_item.size()) == n, ErrorCode::kInvalidArgument,
           "SemiTensorTrainEmbedding: an item order of {} slots for {} rows", slot_of_item.size(), n);
  std::vector<char> seen(static_cast<size_t>(n), 0);
  for (int64_t s : slot_of_item) {
    PR_CHECK(s >= 0 && s < n && !seen[s], ErrorCode::kInvalidArgument,
             "SemiTensorTrainEmbedding: the item order is not a permutation of [0, {}) (slot {})", n, s);
    seen[s] = 1;
  }
  torch::NoGradGuard g;
  slot_of_item_.copy_(torch::from_blob(const_cast<int64_t*>(slot_of_item.data()), {n}, torch::kInt64));
}

torch::Tensor SemiTensorTrainEmbeddingImpl::chain_product() {
  const int64_t R = shape_.rank, t = shape_.t;
  torch::Tensor X = cores_[0];  // [I1 J1, R]
  const torch::Tensor identity = torch::eye(t, X.options());
  for (size_t k = 1; k < shape_.n_cores(); ++k) {
    // X ⋉ core = X (core ⊗ I_t): one product with the expanded core, split into parallel tiles. It
    // multiplies t times more (the zeros of the Kronecker factor), but the per-s products of
    // semi_tensor_product are single-threaded BLAS calls that also interleave their results
    // through copies of the whole table: bench_stt Reconstruct / FullSoftmax rows.
    X = kernels::parallel_linear(X, torch::kron(cores_[k], identity).t(), torch::Tensor());  // [rows, I_k J_k R_k]
    if (k + 1 < shape_.n_cores()) X = X.reshape({-1, R});
  }
  return X.reshape({-1});
}

torch::Tensor SemiTensorTrainEmbeddingImpl::full_table() {
  const int64_t n = shape_.n_rows(), d = shape_.dim();
  torch::Tensor M = chain_product(), slots;
  if (shape_.layout == SttLayout::kFlat) {
    slots = M.view({n, d});
  } else {
    // M runs over (i_1, j_1, ..., i_K, j_K); the canonical table over (i_1..i_K) x (j_1..j_K).
    std::vector<int64_t> sizes, perm;
    for (size_t k = 0; k < shape_.n_cores(); ++k) sizes.push_back(shape_.items[k]), sizes.push_back(shape_.dims[k]);
    for (size_t k = 0; k < shape_.n_cores(); ++k) perm.push_back(static_cast<int64_t>(2 * k));
    for (size_t k = 0; k < shape_.n_cores(); ++k) perm.push_back(static_cast<int64_t>(2 * k + 1));
    slots = M.view(sizes).permute(perm).reshape({n, d});
  }
  return ordered() ? slots.index_select(0, slot_of_item_) : slots;
}

torch::Tensor SemiTensorTrainEmbeddingImpl::canonical_rows(const torch::Tensor& ids) {
  const int64_t n = ids.size(0), R = shape_.rank, t = shape_.t;
  const size_t K = shape_.n_cores();
  std::vector<torch::Tensor> digit(K);  // v = (i_1, ..., i_K) in mixed radix, i_K least significant
  torch::Tensor rest = ids;
  for (size_t k = K; k-- > 0;) {
    digit[k] = torch::remainder(rest, shape_.items[k]);
    rest = torch::div(rest, shape_.items[k], "floor");
  }
  // Core 0 slice of i_1: [n, J_1, R]; then each core's column block of i_k: [n, R/t, J_k R_k / t].
  torch::Tensor X = cores_[0].view({shape_.items[0], shape_.dims[0], R}).index_select(0, digit[0]);
  for (size_t k = 1; k < K; ++k) {
    const int64_t out_rank = k + 1 == K ? 1 : R, width = shape_.dims[k] * out_rank / t;
    torch::Tensor block = cores_[k].view({R / t, shape_.items[k], width}).index_select(1, digit[k]).permute({1, 0, 2});
    X = semi_tensor_product(X, block, t).reshape({n, -1, out_rank});  // [n, J_1..J_k, R_k]
  }
  return X.reshape({n, shape_.dim()});
}

torch::Tensor SemiTensorTrainEmbeddingImpl::flat_rows(const torch::Tensor& ids) {
  const int64_t n = ids.size(0), d = shape_.dim();
  if (shape_.n_cores() != 2) return full_table().index_select(0, ids);  // rows straddle a 3-core chain: rebuild
  // Item v is M_flat[v d, v d + d): the rows r0..r0+S-1 of M = core0 ⋉ core1 (C columns each).
  const int64_t C = shape_.items[1] * shape_.dims[1], S = (d - 1) / C + 2, n_m_rows = cores_[0].size(0);
  torch::Tensor start = ids * d, r0 = torch::div(start, C, "floor");
  torch::Tensor rows = (r0.unsqueeze(1) + torch::arange(S, ids.options())).clamp_max(n_m_rows - 1);  // [n, S]
  torch::Tensor M = semi_tensor_product(cores_[0].index_select(0, rows.reshape({-1})), cores_[1], shape_.t);
  torch::Tensor offsets = (start - r0 * C).unsqueeze(1) + torch::arange(d, ids.options());  // [n, d]
  return M.view({n, S * C}).gather(1, offsets);
}

torch::Tensor SemiTensorTrainEmbeddingImpl::forward(const torch::Tensor& ids) {
  torch::Tensor flat = ids.reshape({-1}).to(torch::kInt64);
  if (ordered()) flat = slot_of_item_.index_select(0, flat);
  torch::Tensor rows = shape_.layout == SttLayout::kCanonical ? canonical_rows(flat) : flat_rows(flat);
  std::vector<int64_t> out(ids.sizes().begin(), ids.sizes().end());
  out.push_back(shape_.dim());
  return rows.view(out);
}

}  // namespace pocketrec::compress
