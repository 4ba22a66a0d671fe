#include "kernels/parallel_linear.h"

#include <fmt/ranges.h>

#include "core/error.h"
#include "kernels/fixed_blocks.h"

namespace pocketrec::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Tile sizes (constants, never derived from the thread count).
constexpr int64_t kRows = 256;       // rows of x per tile (output and input gradient)
constexpr int64_t kOutTile = 4096;   // output features per output tile: wide layers are item scores
constexpr int64_t kInTile = 64;      // input features per input-gradient tile, so a single row block
                                     // (a batch of 100 session vectors) still gives several tiles
constexpr int64_t kWeightRows = 32;  // weight rows (output features) per weight-gradient tile

class ParallelLinear : public torch::autograd::Function<ParallelLinear> {
 public:
  // params: {weight} or {weight, bias} (an undefined tensor cannot be an input of a custom function).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, torch::TensorList params) {
    const torch::Tensor W = params[0].contiguous();
    const torch::Tensor bias = params.size() > 1 ? params[1] : torch::Tensor();
    const int64_t out_features = W.size(0), in_features = W.size(1);
    const torch::Tensor X = x.reshape({-1, in_features}).contiguous();
    torch::Tensor Y = torch::empty({X.size(0), out_features}, X.options());
    tiled_gemm_out(Y, X, W.t(), kRows, kOutTile, bias);  // BLAS takes the weight as a transposed operand
    ctx->save_for_backward({X, W});
    ctx->saved_data["has_bias"] = bias.defined();
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_features;
    return Y.view(shape);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &X = saved[0], &W = saved[1];
    const int64_t out_features = W.size(0), in_features = W.size(1), rows = X.size(0);
    const torch::Tensor G = grads[0].reshape({rows, out_features}).contiguous();
    torch::Tensor dX, dW, db;
    if (ctx->needs_input_grad(0)) {  // dX = G W
      dX = torch::empty_like(X);
      tiled_gemm_out(dX, G, W, kRows, kInTile);
      std::vector<int64_t> shape = grads[0].sizes().vec();
      shape.back() = in_features;
      dX = dX.view(shape);
    }
    if (ctx->needs_input_grad(1)) {  // dW = G^T X, one tile per block of weight rows
      dW = torch::empty_like(W);
      tiled_gemm_out(dW, G.t(), X, kWeightRows, in_features);
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

}  // namespace pocketrec::kernels
