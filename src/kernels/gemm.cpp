#include "kernels/gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <optional>

#include <fmt/ranges.h>

#include "core/error.h"

namespace pocketrec::kernels {
namespace {

// A row-major operand as BLAS sees it: 'N' (rows contiguous, leading dimension = row stride) or 'T'
// (a transposed view of a row-major matrix, leading dimension = column stride). nullopt: neither.
struct Operand {
  char trans;
  int64_t ld;
};
std::optional<Operand> blas_view(const torch::Tensor& t) {
  const int64_t rows = t.size(0), cols = t.size(1);
  // A dimension of size 1 may carry any stride: it is never stepped over.
  if ((cols == 1 || t.stride(1) == 1) && (rows == 1 || t.stride(0) >= cols))
    return Operand{'N', std::max<int64_t>({1, cols, rows == 1 ? 1 : t.stride(0)})};
  if ((rows == 1 || t.stride(0) == 1) && (cols == 1 || t.stride(1) >= rows))
    return Operand{'T', std::max<int64_t>({1, rows, cols == 1 ? 1 : t.stride(1)})};
  return std::nullopt;
}

// oneDNN threads a product over omp_get_max_threads() when it is called outside a parallel region;
// one thread keeps every product's summation order fixed (thread-count-independent results).
class OneOmpThread {
 public:
  OneOmpThread() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOmpThread() { omp_set_num_threads(saved_); }
  OneOmpThread(const OneOmpThread&) = delete;
  OneOmpThread& operator=(const OneOmpThread&) = delete;

 private:
  int saved_;
};

// out's leading dimension ldc: oneDNN writes rows, so out must be an 'N' view (blas_view).
void onednn_sgemm(const torch::Tensor& out, int64_t ldc, const torch::Tensor& a, const torch::Tensor& b,
                  const torch::Tensor& bias) {
  const int64_t M = out.size(0), N = out.size(1), K = a.size(1);
  float beta = 0.0f;
  if (bias.defined()) {
    out.copy_(bias.unsqueeze(0).expand({M, N}));
    beta = 1.0f;
  }
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!bias.defined()) out.zero_();
    return;
  }
  const auto va = blas_view(a), vb = blas_view(b);
  const torch::Tensor ac = va ? a : a.contiguous(), bc = vb ? b : b.contiguous();
  const Operand oa = va ? *va : Operand{'N', K}, ob = vb ? *vb : Operand{'N', N};
  const OneOmpThread one_thread;
  const dnnl_status_t status = dnnl_sgemm(oa.trans, ob.trans, M, N, K, 1.0f, ac.data_ptr<float>(), oa.ld,
                                          bc.data_ptr<float>(), ob.ld, beta, out.data_ptr<float>(), ldc);
  PR_CHECK(status == dnnl_success, ErrorCode::kInternal, "gemm_out: dnnl_sgemm failed with status {} ({}x{}x{})",
           static_cast<int>(status), M, N, K);
}

}  // namespace

void gemm_out(const torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias) {
  PR_CHECK(a.dim() == 2 && b.dim() == 2 && out.dim() == 2 && a.size(1) == b.size(0) && out.size(0) == a.size(0) &&
               out.size(1) == b.size(1),
           ErrorCode::kInvalidArgument, "gemm_out: shapes [{}] = [{}] x [{}] do not match", fmt::join(out.sizes(), ","),
           fmt::join(a.sizes(), ","), fmt::join(b.sizes(), ","));
  PR_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out.size(1)), ErrorCode::kInvalidArgument,
           "gemm_out: the bias must have {} values", out.size(1));
  const bool all_float = a.scalar_type() == torch::kFloat && b.scalar_type() == torch::kFloat &&
                         out.scalar_type() == torch::kFloat && (!bias.defined() || bias.scalar_type() == torch::kFloat);
  // oneDNN writes rows with a leading dimension: out must be a row view, not a transposed one.
  const std::optional<Operand> vout = blas_view(out);
  if (all_float && vout && vout->trans == 'N' && a.device().is_cpu()) {
    onednn_sgemm(out, vout->ld, a, b, bias);
    return;
  }
  torch::Tensor o = out;  // the ATen out= calls take a mutable handle; o shares out's storage
  if (bias.defined())
    at::addmm_out(o, bias, a, b);
  else
    at::mm_out(o, a, b);
}

}  // namespace pocketrec::kernels
