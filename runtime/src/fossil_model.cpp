#include "fossil_model.h"

#include <algorithm>
#include <cmath>

namespace pocketrec::runtime {

Status FossilModel::load(const PocketFile& f, pocketrec_scoring scoring) {
  const char* src = f.source().c_str();
  architecture_ = "fossil";
  RT_TRY(f.get_i64("pocketrec.n_items", &n_items_));
  RT_TRY(f.get_i64("pocketrec.n_users", &n_users_));
  RT_TRY(f.get_i64("fossil.dim", &d_));
  RT_TRY(f.get_i64("fossil.window", &L_));
  RT_TRY(f.get_i64("fossil.max_history", &max_history_));
  RT_TRY(f.get_f64("fossil.alpha", &alpha_));
  RT_CHECK(n_items_ >= 1 && n_items_ < (int64_t{1} << 24) && n_users_ >= 1 && n_users_ < (int64_t{1} << 31) &&
               d_ >= 1 && d_ <= 4096 && L_ >= 1 && L_ <= 64 && max_history_ >= L_ &&
               max_history_ <= (int64_t{1} << 20) && std::isfinite(alpha_),
           POCKETREC_STATUS_BAD_FORMAT,
           "%s: implausible sizes (n_items %lld, n_users %lld, dim %lld, window %lld, max_history %lld, alpha %g)", src,
           static_cast<long long>(n_items_), static_cast<long long>(n_users_), static_cast<long long>(d_),
           static_cast<long long>(L_), static_cast<long long>(max_history_), alpha_);
  using U = uint64_t;
  const U N = U(n_items_), d = U(d_), L = U(L_);
  WeightStore* w = &weights_;
  RT_TRY(f.get_weight("P.weight", {N, d}, w, &P_));
  RT_TRY(f.get_weight("Q.weight", {N, d}, w, &Q_));
  RT_TRY(f.get_weight("beta.weight", {N, 1}, w, &beta_));
  RT_TRY(f.get_weight("eta", {L}, w, &eta_));
  RT_TRY(f.get_weight("eta_u.weight", {U(n_users_), L}, w, &eta_u_));
  RT_TRY(init_table_scorer(src, scoring, Q_, d_, beta_));
  set_weight_bytes();
  query_floats_ = static_cast<size_t>(d_);
  scratch_floats_ = static_cast<size_t>(max_history_);  // the history's ids, sorted
  return Status::Ok();
}

void FossilModel::query_vector(const int32_t* history, size_t n, int32_t user, float* scratch, float* q) const {
  const size_t d = static_cast<size_t>(d_);
  const size_t keep = std::min(n, static_cast<size_t>(max_history_));
  history += n - keep;
  n = keep;
  float* ids = scratch;
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<float>(history[i]);
  std::sort(ids, ids + n);
  const size_t distinct = static_cast<size_t>(std::unique(ids, ids + n) - ids);
  std::fill(q, q + d, 0.0f);
  for (size_t i = 0; i < distinct; ++i) {
    const float* p = P_ + static_cast<size_t>(ids[i]) * d;
    for (size_t e = 0; e < d; ++e) q[e] += p[e];
  }
  const float coef = distinct > 0 ? static_cast<float>(std::pow(static_cast<double>(distinct), -alpha_)) : 0.0f;
  for (size_t e = 0; e < d; ++e) q[e] *= coef;
  const size_t steps = std::min(n, static_cast<size_t>(L_));
  for (size_t k = 0; k < steps; ++k) {
    const float wk = eta_[k] + eta_u_[static_cast<size_t>(user) * static_cast<size_t>(L_) + k];
    const float* p = P_ + static_cast<size_t>(history[n - 1 - k]) * d;
    for (size_t e = 0; e < d; ++e) q[e] += wk * p[e];
  }
}

}  // namespace pocketrec::runtime
