#include "models/caser_convolutions.h"

#include "core/error.h"
#include "kernels/fixed_blocks.h"

namespace pocketrec::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The windows of height h as a [B*(L-h+1), h*d] matrix: row (b, t) is X[b, t:t+h, :], contiguous in X.
torch::Tensor windows(const torch::Tensor& X, int64_t h) {
  const int64_t B = X.size(0), L = X.size(1), d = X.size(2);
  return X.as_strided({B, L - h + 1, h * d}, {L * d, d, 1}).contiguous().view({B * (L - h + 1), h * d});
}

// The three loops below run on one block of samples inside a parallel task.

// o_v[b, c, :] = bv[c] + sum_l Wv[c, l] X[b, l, :]
template <typename T>
void vertical_forward(const T* x, const T* wv, const T* bv, int64_t B, int64_t L, int64_t d, int64_t nv, T* ov) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < nv; ++c) {
      T* o = ov + (b * nv + c) * d;
      for (int64_t k = 0; k < d; ++k) o[k] = bv[c];
      for (int64_t l = 0; l < L; ++l) {
        const T w = wv[c * L + l];
        const T* xr = x + (b * L + l) * d;
        for (int64_t k = 0; k < d; ++k) o[k] += w * xr[k];
      }
    }
}

// dX += Wv^T G per example; dWv, dbv += the block's sums, in batch order.
template <typename T>
void vertical_backward(const T* x, const T* wv, const T* g, int64_t B, int64_t L, int64_t d, int64_t nv, T* dx, T* dwv,
                       T* dbv) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < nv; ++c) {
      const T* gr = g + (b * nv + c) * d;
      T s = 0;
      for (int64_t k = 0; k < d; ++k) s += gr[k];
      dbv[c] += s;
      for (int64_t l = 0; l < L; ++l) {
        const T w = wv[c * L + l];
        const T* xr = x + (b * L + l) * d;
        T* dxr = dx + (b * L + l) * d;
        T dot = 0;
        for (int64_t k = 0; k < d; ++k) {
          dxr[k] += w * gr[k];
          dot += gr[k] * xr[k];
        }
        dwv[c * L + l] += dot;
      }
    }
}

// dX[b, t:t+h, :] += dwin[b, t] for every window of height h (its h*d values are contiguous in X).
template <typename T>
void add_window_gradients(const T* dwin, int64_t B, int64_t L, int64_t d, int64_t h, T* dx) {
  const int64_t windows = L - h + 1;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < windows; ++t) {
      T* dxr = dx + (b * L + t) * d;
      const T* src = dwin + (b * windows + t) * h * d;
      for (int64_t k = 0; k < h * d; ++k) dxr[k] += src[k];
    }
}

// Samples per parallel task. A constant, so every value (partial weight gradients included) is the
// same whatever the thread count.
constexpr int64_t kBatchBlock = 128;

// Both layers' products run per block of samples on torch's threads: LibTorch would run each as one
// single-threaded BLAS call (docs/design/platform.md §3), which left the second core idle through most of Caser-T's
// step. A block owns its rows of X, of the outputs and of dX; the weight gradients are summed from
// per-block partials in block order.
struct CaserConvolutions : torch::autograd::Function<CaserConvolutions> {
  // params = {Wv, bv, W_1, b_1, ..., W_L, b_L}
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& X_in, torch::TensorList params) {
    const torch::Tensor X = X_in.contiguous();
    const int64_t B = X.size(0), L = X.size(1), d = X.size(2);
    const torch::Tensor Wv = params[0].contiguous(), bv = params[1].contiguous();
    const int64_t nv = Wv.size(0);
    std::vector<torch::Tensor> Wt(static_cast<size_t>(L + 1));  // height h: [h*d, nh]
    // A transposed view as the right operand is several times slower here than a copied one.
    for (int64_t h = 1; h <= L; ++h) Wt[h] = params[2 * h].reshape({params[2 * h].size(0), h * d}).t().contiguous();

    variable_list out{torch::empty({B, nv * d}, X.options())};
    for (int64_t h = 1; h <= L; ++h) out.push_back(torch::empty({B, Wt[h].size(1), L - h + 1}, X.options()));
    kernels::parallel_tasks(kernels::block_count(B, kBatchBlock), [&](int64_t i) {
      const kernels::Block blk = kernels::block(i, kBatchBlock, B);
      const int64_t nb = blk.end - blk.begin;
      const torch::Tensor Xb = X.slice(0, blk.begin, blk.end);
      AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "caser_convolutions", [&] {
        vertical_forward(Xb.data_ptr<scalar_t>(), Wv.data_ptr<scalar_t>(), bv.data_ptr<scalar_t>(), nb, L, d, nv,
                         out[0].slice(0, blk.begin, blk.end).data_ptr<scalar_t>());
      });
      for (int64_t h = 1; h <= L; ++h) {
        const torch::Tensor o = torch::empty({nb * (L - h + 1), Wt[h].size(1)}, X.options());  // [nb*(L-h+1), nh]
        kernels::gemm_out(o, windows(Xb, h), Wt[h], params[2 * h + 1]);
        out[h].slice(0, blk.begin, blk.end).copy_(o.view({nb, L - h + 1, -1}).transpose(1, 2));  // Conv2d's layout
      }
    });
    variable_list saved{X};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& X = saved[0];
    const int64_t B = X.size(0), L = X.size(1), d = X.size(2);
    const torch::Tensor Wv = saved[1].reshape({saved[1].size(0), L}).contiguous();  // [nv, L]
    const int64_t nv = Wv.size(0), blocks = kernels::block_count(B, kBatchBlock);
    std::vector<torch::Tensor> G(static_cast<size_t>(L + 1)), W(static_cast<size_t>(L + 1));
    // Per-block partial gradients of each weight and bias: [blocks, ...].
    std::vector<torch::Tensor> dW_part(static_cast<size_t>(L + 1)), db_part(static_cast<size_t>(L + 1));
    for (int64_t h = 0; h <= L; ++h) {
      if (!grads[h].defined()) continue;
      G[h] = grads[h].contiguous();
      const torch::Tensor& w = saved[2 * h + 1];
      W[h] = h == 0 ? Wv : w.reshape({w.size(0), h * d}).contiguous();  // [nh, h*d]
      dW_part[h] = torch::zeros({blocks, W[h].size(0), W[h].size(1)}, X.options());
      db_part[h] = torch::zeros({blocks, W[h].size(0)}, X.options());
    }
    torch::Tensor dX = torch::zeros_like(X);
    kernels::parallel_tasks(blocks, [&](int64_t i) {
      const kernels::Block blk = kernels::block(i, kBatchBlock, B);
      const int64_t nb = blk.end - blk.begin;
      const torch::Tensor Xb = X.slice(0, blk.begin, blk.end), dXb = dX.slice(0, blk.begin, blk.end);
      if (G[0].defined()) {
        AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "caser_convolutions_backward", [&] {
          vertical_backward(Xb.data_ptr<scalar_t>(), Wv.data_ptr<scalar_t>(),
                            G[0].slice(0, blk.begin, blk.end).data_ptr<scalar_t>(), nb, L, d, nv,
                            dXb.data_ptr<scalar_t>(), dW_part[0][i].data_ptr<scalar_t>(),
                            db_part[0][i].data_ptr<scalar_t>());
        });
      }
      for (int64_t h = 1; h <= L; ++h) {
        if (!G[h].defined()) continue;
        const torch::Tensor Gb =  // [nb*(L-h+1), nh], rows as the windows'
            G[h].slice(0, blk.begin, blk.end).transpose(1, 2).contiguous().view({-1, W[h].size(0)});
        const torch::Tensor win = windows(Xb, h);  // [nb*(L-h+1), h*d]
        torch::Tensor dW = dW_part[h][i], db = db_part[h][i];
        kernels::gemm_out(dW, Gb.t(), win);
        at::sum_out(db, Gb, 0);
        const torch::Tensor dwin = torch::empty({Gb.size(0), W[h].size(1)}, X.options());
        kernels::gemm_out(dwin, Gb, W[h]);
        AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "caser_convolutions_backward", [&] {
          add_window_gradients(dwin.data_ptr<scalar_t>(), nb, L, d, h, dXb.data_ptr<scalar_t>());
        });
      }
    });
    variable_list result(saved.size());  // {dX, dWv, dbv, dW_1, db_1, ...}
    result[0] = dX;
    for (int64_t h = 0; h <= L; ++h) {
      if (!G[h].defined()) continue;
      torch::Tensor dW = torch::zeros_like(W[h]), db = torch::zeros({W[h].size(0)}, X.options());
      for (int64_t i = 0; i < blocks; ++i) {  // block order: the same sum for any thread count
        dW += dW_part[h][i];
        db += db_part[h][i];
      }
      result[2 * h + 1] = dW.view_as(saved[2 * h + 1]);
      result[2 * h + 2] = db;
    }
    return result;
  }
};

}  // namespace

std::vector<torch::Tensor> caser_convolutions(const torch::Tensor& X, const std::vector<torch::Tensor>& conv_weights,
                                              const std::vector<torch::Tensor>& conv_biases) {
  PR_CHECK(X.dim() == 3 && at::isFloatingType(X.scalar_type()), ErrorCode::kInvalidArgument,
           "caser_convolutions: X must be a floating-point [B, L, d] tensor");
  const int64_t L = X.size(1), d = X.size(2);
  PR_CHECK(static_cast<int64_t>(conv_weights.size()) == L + 1 && conv_biases.size() == conv_weights.size(),
           ErrorCode::kInvalidArgument, "caser_convolutions: expected {} weights and biases (vertical + heights 1..{})",
           L + 1, L);
  PR_CHECK(conv_weights[0].numel() == conv_weights[0].size(0) * L, ErrorCode::kInvalidArgument,
           "caser_convolutions: the vertical filters must be L x 1");
  std::vector<torch::Tensor> params;
  for (size_t i = 0; i < conv_weights.size(); ++i) {
    PR_CHECK(i == 0 || conv_weights[i].numel() == conv_weights[i].size(0) * static_cast<int64_t>(i) * d,
             ErrorCode::kInvalidArgument, "caser_convolutions: horizontal filter {} must be {} x {}", i, i, d);
    params.push_back(conv_weights[i]);
    params.push_back(conv_biases[i]);
  }
  return CaserConvolutions::apply(X, torch::TensorList(params));
}

}  // namespace pocketrec::models
