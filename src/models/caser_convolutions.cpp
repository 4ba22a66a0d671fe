#include "models/caser_convolutions.h"

#include <ATen/Parallel.h>

#include "core/error.h"

namespace pocketrec::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The windows of height h as a [B*(L-h+1), h*d] matrix: row (b, t) is X[b, t:t+h, :], contiguous in X.
torch::Tensor windows(const torch::Tensor& X, int64_t h) {
  const int64_t B = X.size(0), L = X.size(1), d = X.size(2);
  return X.as_strided({B, L - h + 1, h * d}, {L * d, d, 1}).contiguous().view({B * (L - h + 1), h * d});
}

// Work per parallel chunk of the batch loops (in values touched).
constexpr int64_t kGrain = 1 << 14;

// o_v[b, c, :] = bv[c] + sum_l Wv[c, l] X[b, l, :]
template <typename T>
void vertical_forward(const T* x, const T* wv, const T* bv, int64_t B, int64_t L, int64_t d, int64_t nv, T* ov) {
  at::parallel_for(0, B, std::max<int64_t>(1, kGrain / (nv * L * d)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c = 0; c < nv; ++c) {
        T* o = ov + (b * nv + c) * d;
        for (int64_t k = 0; k < d; ++k) o[k] = bv[c];
        for (int64_t l = 0; l < L; ++l) {
          const T w = wv[c * L + l];
          const T* xr = x + (b * L + l) * d;
          for (int64_t k = 0; k < d; ++k) o[k] += w * xr[k];
        }
      }
  });
}

// dX += Wv^T G per example; dWv, dbv: the batch sums.
template <typename T>
void vertical_backward(const T* x, const T* wv, const T* g, int64_t B, int64_t L, int64_t d, int64_t nv, T* dx,
                       T* dwv, T* dbv) {
  at::parallel_for(0, B, std::max<int64_t>(1, kGrain / (nv * L * d)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c = 0; c < nv; ++c) {
        const T* gr = g + (b * nv + c) * d;
        for (int64_t l = 0; l < L; ++l) {
          const T w = wv[c * L + l];
          T* dxr = dx + (b * L + l) * d;
          for (int64_t k = 0; k < d; ++k) dxr[k] += w * gr[k];
        }
      }
  });
  // One thread, in batch order, so that the weight gradients do not depend on the thread count.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < nv; ++c) {
      const T* gr = g + (b * nv + c) * d;
      T s = 0;
      for (int64_t k = 0; k < d; ++k) s += gr[k];
      dbv[c] += s;
      for (int64_t l = 0; l < L; ++l) {
        const T* xr = x + (b * L + l) * d;
        T dot = 0;
        for (int64_t k = 0; k < d; ++k) dot += gr[k] * xr[k];
        dwv[c * L + l] += dot;
      }
    }
}

// dX[b, t:t+h, :] += dwin[b, t] for every window of height h (its h*d values are contiguous in X).
template <typename T>
void add_window_gradients(const T* dwin, int64_t B, int64_t L, int64_t d, int64_t h, T* dx) {
  const int64_t windows = L - h + 1;
  at::parallel_for(0, B, std::max<int64_t>(1, kGrain / (windows * h * d)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t t = 0; t < windows; ++t) {
        T* dxr = dx + (b * L + t) * d;
        const T* src = dwin + (b * windows + t) * h * d;
        for (int64_t k = 0; k < h * d; ++k) dxr[k] += src[k];
      }
  });
}

struct CaserConvolutions : torch::autograd::Function<CaserConvolutions> {
  // params = {Wv, bv, W_1, b_1, ..., W_L, b_L}
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& X_in, torch::TensorList params) {
    const torch::Tensor X = X_in.contiguous();
    const int64_t B = X.size(0), L = X.size(1), d = X.size(2);
    const torch::Tensor Wv = params[0].contiguous(), bv = params[1].contiguous();
    const int64_t nv = Wv.size(0);
    variable_list out;

    torch::Tensor o_v = torch::empty({B, nv * d}, X.options());
    AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "caser_convolutions", [&] {
      vertical_forward(X.data_ptr<scalar_t>(), Wv.data_ptr<scalar_t>(), bv.data_ptr<scalar_t>(), B, L, d, nv,
                       o_v.data_ptr<scalar_t>());
    });
    out.push_back(o_v);

    for (int64_t h = 1; h <= L; ++h) {
      const torch::Tensor& W = params[2 * h];
      const int64_t nh = W.size(0);
      // A transposed view as the right operand is several times slower here than a copied one.
      torch::Tensor o = torch::addmm(params[2 * h + 1], windows(X, h), W.reshape({nh, h * d}).t().contiguous());
      out.push_back(o.view({B, L - h + 1, nh}).transpose(1, 2).contiguous());  // [B, nh, L-h+1] as Conv2d
    }
    variable_list saved{X};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& X = saved[0];
    const int64_t B = X.size(0), L = X.size(1), d = X.size(2);
    const torch::Tensor Wv = saved[1].contiguous();
    const int64_t nv = Wv.size(0);
    torch::Tensor dX = torch::zeros_like(X);
    variable_list result(saved.size());  // {dX, dWv, dbv, dW_1, db_1, ...}

    if (grads[0].defined()) {
      const torch::Tensor G = grads[0].contiguous();  // [B, nv*d]
      torch::Tensor dWv = torch::zeros({nv, L}, X.options()), dbv = torch::zeros({nv}, X.options());
      AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "caser_convolutions_backward", [&] {
        vertical_backward(X.data_ptr<scalar_t>(), Wv.data_ptr<scalar_t>(), G.data_ptr<scalar_t>(), B, L, d, nv,
                          dX.data_ptr<scalar_t>(), dWv.data_ptr<scalar_t>(), dbv.data_ptr<scalar_t>());
      });
      result[1] = dWv.view_as(saved[1]);
      result[2] = dbv;
    }

    for (int64_t h = 1; h <= L; ++h) {
      if (!grads[h].defined()) continue;
      const torch::Tensor& W = saved[2 * h + 1];
      const int64_t nh = W.size(0), T = L - h + 1;
      const torch::Tensor G = grads[h].transpose(1, 2).contiguous().view({B * T, nh});
      result[2 * h + 1] = torch::mm(G.t().contiguous(), windows(X, h)).view_as(W);
      result[2 * h + 2] = G.sum(0);
      const torch::Tensor dwin = torch::mm(G, W.reshape({nh, h * d}).contiguous());  // [B*T, h*d]
      AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "caser_convolutions_backward", [&] {
        add_window_gradients(dwin.data_ptr<scalar_t>(), B, L, d, h, dX.data_ptr<scalar_t>());
      });
    }
    result[0] = dX;
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
