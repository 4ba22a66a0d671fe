#include "kernels/parallel_bmm.h"

#include <fmt/ranges.h>

#include "core/error.h"
#include "kernels/fixed_blocks.h"

namespace pocketrec::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// out[i] = x[i] y[i] for every i, one gemm_out per product, spread over torch's threads.
void batched_products_out(const torch::Tensor& out, const torch::Tensor& x, const torch::Tensor& y) {
  parallel_tasks(out.size(0), [&](int64_t i) { gemm_out(out[i], x[i], y[i]); });
}

class ParallelBmm : public torch::autograd::Function<ParallelBmm> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b) {
    torch::Tensor out = torch::empty({a.size(0), a.size(1), b.size(2)}, a.options());
    batched_products_out(out, a, b);
    ctx->save_for_backward({a, b});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &a = saved[0], &b = saved[1], &g = grads[0];
    torch::Tensor da, db;
    if (ctx->needs_input_grad(0)) {  // da[i] = g[i] b[i]^T
      da = torch::empty(a.sizes(), a.options());
      batched_products_out(da, g, b.transpose(1, 2));
    }
    if (ctx->needs_input_grad(1)) {  // db[i] = a[i]^T g[i]
      db = torch::empty(b.sizes(), b.options());
      batched_products_out(db, a.transpose(1, 2), g);
    }
    return {da, db};
  }
};

}  // namespace

torch::Tensor parallel_bmm(const torch::Tensor& a, const torch::Tensor& b) {
  PR_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1),
           ErrorCode::kInvalidArgument, "parallel_bmm: expected a [N, m, k] and b [N, k, n], got [{}] and [{}]",
           fmt::join(a.sizes(), ","), fmt::join(b.sizes(), ","));
  PR_CHECK(at::isFloatingType(a.scalar_type()) && a.scalar_type() == b.scalar_type(), ErrorCode::kInvalidArgument,
           "parallel_bmm: a and b must share a floating type");
  return ParallelBmm::apply(a, b);
}

}  // namespace pocketrec::kernels
