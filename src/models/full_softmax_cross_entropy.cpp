#include "models/full_softmax_cross_entropy.h"

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/fixed_blocks.h"

namespace pocketrec::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Tile sizes. Fixed (never derived from the thread count), so each value is always computed by the
// same BLAS call on the same operands. Tried on bench_training FullSoftmaxCE/* (the Tmall and ML-1M
// shapes): 128-256 rows x 2048-4096 items were within noise of each other; 64 x 4096 was 27% slower
// on Tmall. Column blocks of 32 give the query-gradient pass four tasks even for one row block.
constexpr int64_t kRows = 128;     // query rows per tile
constexpr int64_t kItems = 4096;   // items per tile (forward and item-gradient passes)
constexpr int64_t kDimBlock = 32;  // embedding columns per tile of the query-gradient pass

class FullSoftmaxCrossEntropy : public torch::autograd::Function<FullSoftmaxCrossEntropy> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& queries, const torch::Tensor& items,
                               const torch::Tensor& targets) {
    const torch::Tensor Q = queries.contiguous(), W = items.contiguous(), y = targets.contiguous();
    const int64_t B = Q.size(0), N = W.size(0);
    const int64_t row_blocks = block_count(B, kRows), item_blocks = block_count(N, kItems);
    torch::Tensor scores = torch::empty({B, N}, Q.options());
    // Per tile: the row maxima of its scores and the sums of exp(score - max) (a streaming logsumexp).
    torch::Tensor tile_max = torch::empty({item_blocks, B}, Q.options());
    torch::Tensor tile_sum = torch::empty({item_blocks, B}, Q.options());
    // Item-chunk-major order: consecutive tiles on one thread reuse the same item rows.
    parallel_tasks(row_blocks * item_blocks, [&](int64_t t) {
      const int64_t c = t / row_blocks;
      const Block r = block(t % row_blocks, kRows, B), n = block(c, kItems, N);
      torch::Tensor S = scores.slice(0, r.begin, r.end).slice(1, n.begin, n.end);  // row stride N
      at::mm_out(S, Q.slice(0, r.begin, r.end), W.slice(0, n.begin, n.end).t());
      torch::Tensor m = tile_max[c].slice(0, r.begin, r.end);
      at::amax_out(m, S, 1);
      torch::Tensor s = tile_sum[c].slice(0, r.begin, r.end);
      at::sum_out(s, (S - m.unsqueeze(1)).exp_(), 1);
    });
    const torch::Tensor M = tile_max.amax(0);
    const torch::Tensor lse = M + (tile_sum * (tile_max - M).exp_()).sum(0).log_();
    const torch::Tensor target_scores = scores.view({-1}).index_select(0, torch::arange(B, y.options()) * N + y);
    ctx->save_for_backward({Q, W, y, lse});
    ctx->saved_data["scores"] = scores;  // overwritten by the backward, see there
    ctx->saved_data["walked"] = false;
    return (lse - target_scores).mean();
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // The scores become the softmax gradients in place (a second 16 MB buffer on Tmall otherwise),
    // so a graph can be walked once only.
    PR_CHECK(!ctx->saved_data["walked"].toBool(), ErrorCode::kInvalidArgument,
             "full_softmax_cross_entropy: backward through the same graph twice (retain_graph) is not supported");
    ctx->saved_data["walked"] = true;
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &Q = saved[0], &W = saved[1], &y = saved[2], &lse = saved[3];
    torch::Tensor P = ctx->saved_data["scores"].toTensor();
    const int64_t B = Q.size(0), N = W.size(0);
    const double scale = grads[0].item<double>() / static_cast<double>(B);
    const bool want_q = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    torch::Tensor dQ = want_q ? torch::empty_like(Q) : torch::Tensor();
    torch::Tensor dW = want_w ? torch::empty_like(W) : torch::Tensor();
    const int64_t* yp = y.data_ptr<int64_t>();

    // Pass 1, per item chunk (all rows): P = scale * (softmax - onehot(y)), then dW = P^T Q.
    parallel_tasks(block_count(N, kItems), [&](int64_t c) {
      const Block n = block(c, kItems, N);
      torch::Tensor Pc = P.slice(1, n.begin, n.end);
      Pc.sub_(lse.unsqueeze(1)).exp_().mul_(scale);
      AT_DISPATCH_FLOATING_TYPES(P.scalar_type(), "full_softmax_cross_entropy_backward", [&] {
        scalar_t* p = P.data_ptr<scalar_t>();
        for (int64_t b = 0; b < B; ++b)
          if (yp[b] >= n.begin && yp[b] < n.end) p[b * N + yp[b]] -= static_cast<scalar_t>(scale);
      });
      if (want_w) {
        torch::Tensor out = dW.slice(0, n.begin, n.end);
        at::mm_out(out, Pc.t(), Q);
      }
    });
    // Pass 2: dQ = P W, with column blocks so that a batch of one row block still gives several tiles.
    if (want_q) tiled_matmul_out(dQ, P, W, kRows, kDimBlock);
    return {dQ, dW, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor full_softmax_cross_entropy(const torch::Tensor& queries, const torch::Tensor& items,
                                         const torch::Tensor& targets) {
  PR_CHECK(queries.dim() == 2 && items.dim() == 2 && queries.size(1) == items.size(1), ErrorCode::kInvalidArgument,
           "full_softmax_cross_entropy: expected queries [B, d] and items [N, d], got [{}] and [{}]",
           fmt::join(queries.sizes(), ","), fmt::join(items.sizes(), ","));
  PR_CHECK(at::isFloatingType(queries.scalar_type()) && queries.scalar_type() == items.scalar_type(),
           ErrorCode::kInvalidArgument, "full_softmax_cross_entropy: queries and items must share a floating type");
  PR_CHECK(targets.dim() == 1 && targets.size(0) == queries.size(0) && targets.scalar_type() == torch::kInt64,
           ErrorCode::kInvalidArgument, "full_softmax_cross_entropy: expected {} int64 targets, got [{}] of {}",
           queries.size(0), fmt::join(targets.sizes(), ","), c10::toString(targets.scalar_type()));
  PR_CHECK(queries.size(0) > 0 && items.size(0) > 0, ErrorCode::kInvalidArgument,
           "full_softmax_cross_entropy: empty batch or item table");
  if (targets.numel() > 0) {
    const int64_t lo = targets.min().item<int64_t>(), hi = targets.max().item<int64_t>();
    PR_CHECK(lo >= 0 && hi < items.size(0), ErrorCode::kInvalidArgument,
             "full_softmax_cross_entropy: target ids must be in [0, {}), got [{}, {}]", items.size(0), lo, hi);
  }
  return FullSoftmaxCrossEntropy::apply(queries, items, targets);
}

}  // namespace pocketrec::models
