#include "caser_model.h"

#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace pocketrec::runtime {
namespace {
using U = uint64_t;
}  // namespace

Status CaserModel::parse_activation(const PocketFile& f, const std::string& key, Activation* out) {
  std::string name;
  RT_TRY(f.get_string(key, &name));
  const std::pair<const char*, Activation> known[] = {{"iden", Activation::kIden},
                                                      {"relu", Activation::kRelu},
                                                      {"tanh", Activation::kTanh},
                                                      {"sigm", Activation::kSigm},
                                                      {"gelu", Activation::kGelu}};
  for (const auto& [n, a] : known)
    if (name == n) {
      *out = a;
      return Status::Ok();
    }
  return make_status(POCKETREC_STATUS_BAD_FORMAT, "%s: %s '%s' is not an activation (iden, relu, tanh, sigm, gelu)",
                     f.source().c_str(), key.c_str(), name.c_str());
}

float CaserModel::apply(Activation a, float x) {
  switch (a) {
    case Activation::kIden: return x;
    case Activation::kRelu: return std::max(x, 0.0f);
    case Activation::kTanh: return tanh_approx(x);
    case Activation::kSigm: return sigmoid(x);
    case Activation::kGelu: return gelu(x);
  }
  return x;
}

Status CaserModel::load(const PocketFile& f, pocketrec_scoring scoring) {
  const char* src = f.source().c_str();
  architecture_ = "caser";
  int64_t L = 0;
  RT_TRY(f.get_i64("pocketrec.n_items", &n_items_));
  RT_TRY(f.get_i64("pocketrec.n_users", &n_users_));
  RT_TRY(f.get_i64("caser.dim", &d_));
  RT_TRY(f.get_i64("caser.window", &L));
  RT_TRY(f.get_i64("caser.nv", &nv_));
  RT_TRY(f.get_i64("caser.nh", &nh_));
  RT_TRY(parse_activation(f, "caser.ac_conv", &ac_conv_));
  RT_TRY(parse_activation(f, "caser.ac_fc", &ac_fc_));
  RT_CHECK(n_items_ >= 1 && n_items_ < (int64_t{1} << 31) && n_users_ >= 1 && n_users_ < (int64_t{1} << 31) &&
               d_ >= 1 && d_ <= 4096 && L >= 1 && L <= 64 && nv_ >= 0 && nv_ <= 4096 && nh_ >= 0 && nh_ <= 4096 &&
               nv_ + nh_ >= 1,
           POCKETREC_STATUS_BAD_FORMAT,
           "%s: implausible sizes (n_items %lld, n_users %lld, dim %lld, window %lld, nv %lld, nh %lld)", src,
           static_cast<long long>(n_items_), static_cast<long long>(n_users_), static_cast<long long>(d_),
           static_cast<long long>(L), static_cast<long long>(nv_), static_cast<long long>(nh_));
  max_history_ = L;
  const size_t d = static_cast<size_t>(d_);
  WeightStore* w = &weights_;
  RT_TRY(f.get_weight("item.weight", {U(n_items_ + 1), U(d)}, w, &item_));
  RT_TRY(f.get_weight("user.weight", {U(n_users_), U(d)}, w, &user_));
  if (nv_ > 0) {
    RT_TRY(f.get_weight("conv_v.weight", {U(nv_), 1, U(L), 1}, w, &conv_v_w_));
    RT_TRY(f.get_weight("conv_v.bias", {U(nv_)}, w, &conv_v_b_));
  }
  conv_h_w_.assign(static_cast<size_t>(L), nullptr);
  conv_h_b_.assign(static_cast<size_t>(L), nullptr);
  if (nh_ > 0)
    for (int64_t h = 1; h <= L; ++h) {
      const std::string p = "conv_h." + std::to_string(h - 1);
      RT_TRY(f.get_weight(p + ".weight", {U(nh_), 1, U(h), U(d)}, w, &conv_h_w_[h - 1]));
      RT_TRY(f.get_weight(p + ".bias", {U(nh_)}, w, &conv_h_b_[h - 1]));
    }
  RT_TRY(read_linear(f, "fc1", static_cast<size_t>(nv_) * d + static_cast<size_t>(nh_ * L), d, true, w, &fc1_));
  RT_TRY(f.get_weight("W2.weight", {U(n_items_ + 1), U(2 * d)}, w, &W2_));
  RT_TRY(f.get_weight("b2.weight", {U(n_items_ + 1), 1}, w, &b2_));

  RT_TRY(init_table_scorer(src, scoring, W2_, 2 * d_, b2_));
  set_weight_bytes();
  query_floats_ = 2 * d;
  scratch_floats_ = static_cast<size_t>(L) * d + fc1_.in;  // X, then [o_v; o_h]
  return Status::Ok();
}

void CaserModel::query_vector(const int32_t* history, size_t n, int32_t user, float* scratch, float* q) const {
  const size_t d = static_cast<size_t>(d_), L = static_cast<size_t>(max_history_);
  const size_t n_real = std::min(n, L);
  history += n - n_real;
  float *X = scratch, *o = X + L * d;
  const size_t pad = L - n_real;  // left padding: the real items fill the last n_real rows
  for (size_t l = 0; l < L; ++l) {
    const int64_t item = l < pad ? n_items_ : history[l - pad];
    std::copy_n(item_ + static_cast<size_t>(item) * d, d, X + l * d);
  }
  const size_t nv = static_cast<size_t>(nv_), nh = static_cast<size_t>(nh_);
  for (size_t f = 0; f < nv; ++f)
    for (size_t e = 0; e < d; ++e) {
      float s = conv_v_b_[f];
      for (size_t l = 0; l < L; ++l) s += conv_v_w_[f * L + l] * X[l * d + e];
      o[f * d + e] = s;
    }
  float* oh = o + nv * d;
  for (size_t h = 1; h <= L; ++h)
    for (size_t f = 0; f < nh; ++f) {
      const float* wf = conv_h_w_[h - 1] + f * h * d;
      float best = -INFINITY;
      for (size_t t = 0; t + h <= L; ++t)
        best = std::max(best, apply(ac_conv_, conv_h_b_[h - 1][f] + dot(wf, X + t * d, h * d)));
      oh[(h - 1) * nh + f] = best;
    }
  linear(o, 1, fc1_.w, fc1_.b, fc1_.in, d, q);
  for (size_t e = 0; e < d; ++e) q[e] = apply(ac_fc_, q[e]);
  std::copy_n(user_ + static_cast<size_t>(user) * d, d, q + d);
}

}  // namespace pocketrec::runtime
