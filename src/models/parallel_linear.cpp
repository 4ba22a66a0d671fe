#include "models/parallel_linear.h"

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/fixed_blocks.h"

namespace pocketrec::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kRows = 256;     // rows of x per block (output and input gradient)
constexpr int64_t kFeatures = 32;  // output features per block (weight gradient)

// Calls f(begin, end) for each fixed block of `size` rows (or features) of [0, total), in parallel.
template <typename F>
void for_each_block(int64_t total, int64_t size, const F& f) {
  parallel_tasks(block_count(total, size), [&](int64_t i) {
    const Block b = block(i, size, total);
    f(b.begin, b.end);
  });
}

class ParallelLinear : public torch::autograd::Function<ParallelLinear> {
 public:
  // params: {weight} or {weight, bias} (an undefined tensor cannot be an input of a custom function).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, torch::TensorList params) {
    const torch::Tensor& weight = params[0];
    const torch::Tensor bias = params.size() > 1 ? params[1] : torch::Tensor();
    const int64_t out_features = weight.size(0), in_features = weight.size(1);
    const torch::Tensor X = x.reshape({-1, in_features}).contiguous();
    // A transposed view as BLAS's right operand is slower here than a copy (a [in, out] matrix is small).
    const torch::Tensor Wt = weight.t().contiguous();
    torch::Tensor Y = torch::empty({X.size(0), out_features}, X.options());
    for_each_block(X.size(0), kRows, [&](int64_t r0, int64_t r1) {
      torch::Tensor y = Y.slice(0, r0, r1);
      if (bias.defined())
        at::addmm_out(y, bias, X.slice(0, r0, r1), Wt);
      else
        at::mm_out(y, X.slice(0, r0, r1), Wt);
    });
    ctx->save_for_backward({X, weight});
    ctx->saved_data["has_bias"] = bias.defined();
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_features;
    return Y.view(shape);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &X = saved[0], W = saved[1].contiguous();
    const int64_t out_features = W.size(0), rows = X.size(0);
    const torch::Tensor G = grads[0].reshape({rows, out_features}).contiguous();
    torch::Tensor dX, dW, db;
    if (ctx->needs_input_grad(0)) {
      dX = torch::empty_like(X);
      for_each_block(rows, kRows, [&](int64_t r0, int64_t r1) {
        torch::Tensor dx = dX.slice(0, r0, r1);
        at::mm_out(dx, G.slice(0, r0, r1), W);
      });
      std::vector<int64_t> shape = grads[0].sizes().vec();
      shape.back() = W.size(1);
      dX = dX.view(shape);
    }
    if (ctx->needs_input_grad(1)) {
      dW = torch::empty_like(W);
      for_each_block(out_features, kFeatures, [&](int64_t o0, int64_t o1) {
        torch::Tensor dw = dW.slice(0, o0, o1);
        at::mm_out(dw, G.slice(1, o0, o1).t(), X);
      });
    }
    if (!ctx->saved_data["has_bias"].toBool()) return {dX, dW};
    if (ctx->needs_input_grad(2)) db = G.sum(0);
    return {dX, dW, db};
  }
};

}  // namespace

torch::Tensor parallel_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  PR_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), ErrorCode::kInvalidArgument,
           "parallel_linear: expected x [..., {}] for a weight [{}], got x [{}]", weight.size(1),
           fmt::join(weight.sizes(), ","), fmt::join(x.sizes(), ","));
  PR_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), ErrorCode::kInvalidArgument,
           "parallel_linear: the bias must have {} values", weight.size(0));
  PR_CHECK(at::isFloatingType(x.scalar_type()) && x.scalar_type() == weight.scalar_type(), ErrorCode::kInvalidArgument,
           "parallel_linear: x and the weight must share a floating type");
  std::vector<torch::Tensor> params{weight};
  if (bias.defined()) params.push_back(bias);
  return ParallelLinear::apply(x, torch::TensorList(params));
}

}  // namespace pocketrec::models
