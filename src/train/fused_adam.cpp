#include "train/fused_adam.h"

#include <cmath>

#include <ATen/Parallel.h>

#include "core/error.h"

namespace pocketrec::train {

namespace {

// One Adam step on n elements, in torch::optim::Adam's order of operations; g == nullptr is a zero
// gradient. Distinct arrays (restrict) and scalars by value, so that the loop vectorises.
template <bool kHasGradient>
void update_impl(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
                 float b1, float b2, float one_minus_b1, float one_minus_b2, float wd, float eps, float sqrt_bc2,
                 float step_size) {
  for (int64_t i = 0; i < n; ++i) {
    // exactly g[i] when wd = 0 (finite weights); 0 + wd * w[i] is the value zero_grad() would give
    const float gi = (kHasGradient ? g[i] : 0.0f) + wd * w[i];
    m[i] = m[i] * b1 + one_minus_b1 * gi;
    v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
    const float denom = std::sqrt(v[i]) / sqrt_bc2 + eps;
    w[i] -= step_size * (m[i] / denom);
  }
}

void update(float* w, const float* g, float* m, float* v, int64_t n, float b1, float b2, float one_minus_b1,
            float one_minus_b2, float wd, float eps, float sqrt_bc2, float step_size) {
  if (g)
    update_impl<true>(w, g, m, v, n, b1, b2, one_minus_b1, one_minus_b2, wd, eps, sqrt_bc2, step_size);
  else
    update_impl<false>(w, g, m, v, n, b1, b2, one_minus_b1, one_minus_b2, wd, eps, sqrt_bc2, step_size);
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(std::move(params), options) {
  PR_CHECK(!options.amsgrad(), ErrorCode::kInvalidArgument, "FusedAdam: amsgrad is not supported");
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params()) {
      const torch::Tensor& grad = p.grad();
      const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());  // torch::optim::Adam's key
      // No gradient: skipped before the first step (as torch's Adam), a zero gradient after it
      // (what zero_grad() would have left; see release_gradients()).
      if (!grad.defined() && !state_.count(key)) continue;
      const bool dense_float_grad =
          !grad.defined() || (!grad.is_sparse() && grad.scalar_type() == torch::kFloat && grad.is_contiguous());
      PR_CHECK(p.scalar_type() == torch::kFloat && p.is_contiguous() && dense_float_grad, ErrorCode::kInvalidArgument,
               "FusedAdam: dense contiguous float parameters and gradients only");
      auto& slot = state_[key];
      if (!slot) {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*slot);
      s.step(s.step() + 1);
      const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
      // The scalars as torch::optim::Adam forms them (in double, applied in float).
      const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
      const float one_minus_b1 = static_cast<float>(1 - beta1), one_minus_b2 = static_cast<float>(1 - beta2);
      const float wd = static_cast<float>(o.weight_decay()), eps = static_cast<float>(o.eps());
      const float sqrt_bc2 = static_cast<float>(std::sqrt(1 - std::pow(beta2, s.step())));
      const float step_size = static_cast<float>(o.lr() / (1 - std::pow(beta1, s.step())));
      float* w = p.data_ptr<float>();
      const float* g = grad.defined() ? grad.data_ptr<float>() : nullptr;
      float* m = s.exp_avg().data_ptr<float>();
      float* v = s.exp_avg_sq().data_ptr<float>();
      // Elementwise, so the result does not depend on how the range is split between threads.
      at::parallel_for(0, p.numel(), 1 << 15, [=](int64_t begin, int64_t end) {
        update(w + begin, g ? g + begin : nullptr, m + begin, v + begin, end - begin, b1, b2, one_minus_b1,
               one_minus_b2, wd, eps, sqrt_bc2, step_size);
      });
    }
  }
  return loss;
}

void FusedAdam::release_gradients() {
  for (auto& group : param_groups_)
    for (auto& p : group.params()) p.mutable_grad().reset();
}

void Optimizer::clear_gradients() {
  if (fused)
    fused->release_gradients();
  else
    optimizer->zero_grad();
}

}  // namespace pocketrec::train
