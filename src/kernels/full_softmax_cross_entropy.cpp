#include "kernels/full_softmax_cross_entropy.h"

#include <fmt/ranges.h>

#include "core/error.h"
#include "kernels/fixed_blocks.h"

namespace pocketrec::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Tile sizes. Fixed (never derived from the thread count), so each value is always computed by the
// same single-threaded product (gemm_out) on the same operands. Tried on bench_training
// FullSoftmaxCE/* (the Tmall and ML-1M shapes): 128-256 rows x 2048-4096 items were within noise of
// each other; 64 x 4096 was 27% slower on Tmall. Column blocks of 32 give the query-gradient pass
// four tasks even for one row block.
constexpr int64_t kRows = 128;     // query rows per tile
constexpr int64_t kItems = 4096;   // items per tile (forward and item-gradient passes)
constexpr int64_t kDimBlock = 32;  // embedding columns per tile of the query-gradient pass

// The cross-entropy, and with teacher scores Z (TensorList of 0 or 1) also the distillation KL
// T^2 sum_b KL(softmax(Z_b / T) || softmax(S_b / T)), from one pass over the score tiles.
class FullSoftmaxLoss : public torch::autograd::Function<FullSoftmaxLoss> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& queries, const torch::Tensor& items,
                               const torch::Tensor& targets, torch::TensorList teacher, double temperature) {
    const torch::Tensor Q = queries.contiguous(), W = items.contiguous(), y = targets.contiguous();
    const bool distil = !teacher.empty();
    const torch::Tensor Z = distil ? teacher[0].contiguous() : torch::Tensor();
    const double T = temperature;
    const int64_t B = Q.size(0), N = W.size(0);
    const int64_t row_blocks = block_count(B, kRows), item_blocks = block_count(N, kItems);
    torch::Tensor scores = torch::empty({B, N}, Q.options());
    // Per tile and row, streaming logsumexp statistics: the maximum of the scores and the sums of
    // exp(score - max), and for the KL exp((score - max) / T), the teacher's maximum, its sums of
    // exp((z - max_z) / T) and of exp((z - max_z) / T) (z - score) / T.
    const int64_t n_stats = distil ? 6 : 2;
    torch::Tensor stats = torch::empty({n_stats, item_blocks, B}, Q.options());
    // Item-chunk-major order: consecutive tiles on one thread reuse the same item rows.
    parallel_tasks(row_blocks * item_blocks, [&](int64_t t) {
      const int64_t c = t / row_blocks;
      const Block r = block(t % row_blocks, kRows, B), n = block(c, kItems, N);
      auto stat = [&](int64_t i) { return stats[i][c].slice(0, r.begin, r.end); };
      torch::Tensor S = scores.slice(0, r.begin, r.end).slice(1, n.begin, n.end);  // row stride N
      gemm_out(S, Q.slice(0, r.begin, r.end), W.slice(0, n.begin, n.end).t());
      torch::Tensor m = stat(0), shifted = S - at::amax_out(m, S, 1).unsqueeze(1);
      if (!distil) {
        torch::Tensor s = stat(1);
        at::sum_out(s, shifted.exp_(), 1);
        return;
      }
      torch::Tensor s = stat(1), s_T = stat(2), m_z = stat(3), s_z = stat(4), cross = stat(5);
      if (T != 1.0) at::sum_out(s_T, shifted.div(T).exp_(), 1);  // at T = 1 the plain sums serve
      at::sum_out(s, shifted.exp_(), 1);
      const torch::Tensor Zt = Z.slice(0, r.begin, r.end).slice(1, n.begin, n.end);
      torch::Tensor e = Zt - at::amax_out(m_z, Zt, 1).unsqueeze(1);
      if (T != 1.0) e.div_(T);
      at::sum_out(s_z, e.exp_(), 1);
      at::sum_out(cross, e.mul_(Zt - S), 1);
      if (T != 1.0) cross.div_(T);
    });
    // Combine the tiles' statistics per row: logsumexp over the item chunks.
    const torch::Tensor M = stats[0].amax(0), rescale = (stats[0] - M).exp_();
    const torch::Tensor lse = M + (stats[1] * rescale).sum(0).log_();
    const torch::Tensor target_scores = scores.view({-1}).index_select(0, torch::arange(B, y.options()) * N + y);
    variable_list out{(lse - target_scores).mean()};
    torch::Tensor lse_T, lse_z;
    if (distil) {
      lse_T = T == 1.0 ? lse : M / T + (stats[2] * (stats[0] - M).div_(T).exp_()).sum(0).log_();
      const torch::Tensor M_z = stats[3].amax(0), rescale_z = (stats[3] - M_z).div_(T).exp_();
      const torch::Tensor sum_z = (stats[4] * rescale_z).sum(0);
      lse_z = M_z / T + sum_z.log();
      // KL_b = sum_j p_z (z_j - s_j) / T - lse_z + lse_T (the log-partition functions of both sides).
      const torch::Tensor kl = (stats[5] * rescale_z).sum(0) / sum_z - lse_z + lse_T;
      out.push_back(kl.sum() * (T * T));
    }
    ctx->save_for_backward({Q, W, y, lse, distil ? Z : torch::Tensor(), distil ? lse_T : torch::Tensor(),
                            distil ? lse_z : torch::Tensor()});
    ctx->saved_data["scores"] = scores;  // overwritten by the backward, see there
    ctx->saved_data["walked"] = false;
    ctx->saved_data["temperature"] = T;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // The scores become the softmax gradients in place (a second 16 MB buffer on Tmall otherwise),
    // so a graph can be walked once only.
    PR_CHECK(!ctx->saved_data["walked"].toBool(), ErrorCode::kInvalidArgument,
             "full_softmax_cross_entropy: backward through the same graph twice (retain_graph) is not supported");
    ctx->saved_data["walked"] = true;
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &Q = saved[0], &W = saved[1], &y = saved[2], &lse = saved[3];
    const torch::Tensor &Z = saved[4], &lse_T = saved[5], &lse_z = saved[6];
    const bool distil = Z.defined();
    const double T = ctx->saved_data["temperature"].toDouble();
    torch::Tensor P = ctx->saved_data["scores"].toTensor();
    const int64_t B = Q.size(0), N = W.size(0);
    // dLoss/dS = a (softmax(S) - onehot(y)) + b (softmax(S / T) - softmax(Z / T)).
    const double a = grads[0].item<double>() / static_cast<double>(B);
    const double b = distil ? grads[1].item<double>() * T : 0.0;
    const bool want_q = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    torch::Tensor dQ = want_q ? torch::empty_like(Q) : torch::Tensor();
    torch::Tensor dW = want_w ? torch::empty_like(W) : torch::Tensor();
    const int64_t* yp = y.data_ptr<int64_t>();

    // Pass 1, per item chunk (all rows): P = dLoss/dS, then dW = P^T Q.
    parallel_tasks(block_count(N, kItems), [&](int64_t c) {
      const Block n = block(c, kItems, N);
      torch::Tensor Pc = P.slice(1, n.begin, n.end);
      if (distil) {
        const torch::Tensor Zc = Z.slice(1, n.begin, n.end);
        torch::Tensor teacher_part = (T == 1.0 ? Zc - lse_z.unsqueeze(1) : Zc.div(T).sub_(lse_z.unsqueeze(1)));
        teacher_part.exp_().mul_(b);
        if (T != 1.0) teacher_part.sub_(Pc.div(T).sub_(lse_T.unsqueeze(1)).exp_().mul_(b));
        Pc.sub_(lse.unsqueeze(1)).exp_().mul_(T != 1.0 ? a : a + b).sub_(teacher_part);
      } else {
        Pc.sub_(lse.unsqueeze(1)).exp_().mul_(a);
      }
      AT_DISPATCH_FLOATING_TYPES(P.scalar_type(), "full_softmax_cross_entropy_backward", [&] {
        scalar_t* p = P.data_ptr<scalar_t>();
        for (int64_t r = 0; r < B; ++r)
          if (yp[r] >= n.begin && yp[r] < n.end) p[r * N + yp[r]] -= static_cast<scalar_t>(a);
      });
      if (want_w) {
        gemm_out(dW.slice(0, n.begin, n.end), Pc.t(), Q);
      }
    });
    // Pass 2: dQ = P W, with column blocks so that a batch of one row block still gives several tiles.
    if (want_q) tiled_gemm_out(dQ, P, W, kRows, kDimBlock);
    variable_list result{dQ, dW, torch::Tensor()};  // targets: no gradient
    if (distil) result.push_back(torch::Tensor());  // the teacher's scores are constants
    result.push_back(torch::Tensor());              // temperature
    return result;
  }
};

void check_inputs(const char* what, const torch::Tensor& queries, const torch::Tensor& items,
                  const torch::Tensor& targets) {
  PR_CHECK(queries.dim() == 2 && items.dim() == 2 && queries.size(1) == items.size(1), ErrorCode::kInvalidArgument,
           "{}: expected queries [B, d] and items [N, d], got [{}] and [{}]", what, fmt::join(queries.sizes(), ","),
           fmt::join(items.sizes(), ","));
  PR_CHECK(at::isFloatingType(queries.scalar_type()) && queries.scalar_type() == items.scalar_type(),
           ErrorCode::kInvalidArgument, "{}: queries and items must share a floating type", what);
  PR_CHECK(targets.dim() == 1 && targets.size(0) == queries.size(0) && targets.scalar_type() == torch::kInt64,
           ErrorCode::kInvalidArgument, "{}: expected {} int64 targets, got [{}] of {}", what, queries.size(0),
           fmt::join(targets.sizes(), ","), c10::toString(targets.scalar_type()));
  PR_CHECK(queries.size(0) > 0 && items.size(0) > 0, ErrorCode::kInvalidArgument, "{}: empty batch or item table",
           what);
  const int64_t lo = targets.min().item<int64_t>(), hi = targets.max().item<int64_t>();
  PR_CHECK(lo >= 0 && hi < items.size(0), ErrorCode::kInvalidArgument,
           "{}: target ids must be in [0, {}), got [{}, {}]", what, items.size(0), lo, hi);
}

}  // namespace

torch::Tensor full_softmax_cross_entropy(const torch::Tensor& queries, const torch::Tensor& items,
                                         const torch::Tensor& targets) {
  check_inputs("full_softmax_cross_entropy", queries, items, targets);
  return FullSoftmaxLoss::apply(queries, items, targets, torch::TensorList(), 1.0)[0];
}

FullSoftmaxDistillation full_softmax_distillation(const torch::Tensor& queries, const torch::Tensor& items,
                                                  const torch::Tensor& targets, const torch::Tensor& teacher_scores,
                                                  double temperature) {
  check_inputs("full_softmax_distillation", queries, items, targets);
  PR_CHECK(teacher_scores.dim() == 2 && teacher_scores.size(0) == queries.size(0) &&
               teacher_scores.size(1) == items.size(0) && teacher_scores.scalar_type() == queries.scalar_type(),
           ErrorCode::kInvalidArgument, "full_softmax_distillation: expected teacher scores [{}, {}], got [{}]",
           queries.size(0), items.size(0), fmt::join(teacher_scores.sizes(), ","));
  PR_CHECK(temperature > 0, ErrorCode::kInvalidArgument, "full_softmax_distillation: temperature must be > 0, got {}",
           temperature);
  const torch::Tensor teacher = teacher_scores.detach();
  variable_list out = FullSoftmaxLoss::apply(queries, items, targets, torch::TensorList(teacher), temperature);
  return {out[0], out[1]};
}

}  // namespace pocketrec::kernels
