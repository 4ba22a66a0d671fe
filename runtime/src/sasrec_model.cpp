#include "sasrec_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.h"

namespace pocketrec::runtime {
namespace {

using format::TensorType;
using U = uint64_t;

Status f32(const PocketFile& f, const std::string& name, std::vector<uint64_t> dims, const float** out,
           size_t* bytes) {
  const TensorView* t = nullptr;
  RT_TRY(f.get_tensor(name, TensorType::kF32, dims, &t));
  *out = reinterpret_cast<const float*>(t->data);
  *bytes += t->n_bytes;
  return Status::Ok();
}

// Reads a torch::nn::Linear; its weight [out x in] is kept transposed ([in x out]) in `store`.
Status linear(const PocketFile& f, const std::string& name, size_t in, size_t out, bool bias, LinearView* v,
              size_t* bytes, std::vector<std::vector<float>>* store) {
  v->in = in;
  v->out = out;
  const float* w = nullptr;
  RT_TRY(f32(f, name + ".weight", {U(out), U(in)}, &w, bytes));
  std::vector<float> wt(in * out);
  for (size_t o = 0; o < out; ++o)
    for (size_t i = 0; i < in; ++i) wt[i * out + o] = w[o * in + i];
  store->push_back(std::move(wt));
  v->w = store->back().data();
  if (bias) RT_TRY(f32(f, name + ".bias", {U(out)}, &v->b, bytes));
  return Status::Ok();
}

Status layer_norm_view(const PocketFile& f, const std::string& name, size_t d, LayerNormView* v, size_t* bytes) {
  RT_TRY(f32(f, name + ".weight", {U(d)}, &v->gamma, bytes));
  return f32(f, name + ".bias", {U(d)}, &v->beta, bytes);
}

}  // namespace

Status SasRecModel::load(const PocketFile& f, pocketrec_scoring scoring) {
  const char* src = f.source().c_str();
  RT_TRY(f.get_string("pocketrec.architecture", &architecture_));
  RT_CHECK(architecture_ == "sasrec" || architecture_ == "sasrec-odrec", POCKETREC_STATUS_BAD_FORMAT,
           "%s: architecture '%s' is not supported by this runtime (sasrec, sasrec-odrec)", src, architecture_.c_str());
  odrec_ = architecture_ == "sasrec-odrec";
  int64_t layers = 0;
  RT_TRY(f.get_i64("pocketrec.n_items", &n_items_));
  RT_TRY(f.get_i64("sasrec.dim", &d_));
  RT_TRY(f.get_i64("sasrec.max_len", &max_len_));
  RT_TRY(f.get_i64("sasrec.layers", &layers));
  RT_TRY(f.get_i64("sasrec.heads", &heads_));
  RT_TRY(f.get_i64("sasrec.inner", &inner_));
  RT_CHECK(n_items_ >= 1 && n_items_ < (int64_t{1} << 31) && d_ >= 1 && d_ <= 4096 && max_len_ >= 1 &&
               max_len_ <= 4096 && layers >= 0 && layers <= 64 && heads_ >= 1 && d_ % heads_ == 0 && inner_ >= 1 &&
               inner_ <= 65536,
           POCKETREC_STATUS_BAD_FORMAT,
           "%s: implausible sizes (n_items %lld, dim %lld, max_len %lld, layers %lld, heads %lld, inner %lld)", src,
           static_cast<long long>(n_items_), static_cast<long long>(d_), static_cast<long long>(max_len_),
           static_cast<long long>(layers), static_cast<long long>(heads_), static_cast<long long>(inner_));
  eps_ = odrec_ ? 1e-12f : 1e-8f;
  const size_t d = static_cast<size_t>(d_), inner = static_cast<size_t>(inner_);
  size_t bytes = 0;

  std::string table;
  RT_TRY(f.get_string("sasrec.item_table", &table));
  if (table == "dense") {
    RT_TRY(f32(f, "item.weight", {U(n_items_ + 1), U(d)}, &item_, &bytes));
  } else if (table == "stt") {
    std::vector<int64_t> items, dims;
    std::string layout;
    RT_TRY(f.get_i64_array("stt.items", &items));
    RT_TRY(f.get_i64_array("stt.dims", &dims));
    RT_TRY(f.get_i64("stt.rank", &cores_.R));
    RT_TRY(f.get_i64("stt.t", &cores_.t));
    RT_TRY(f.get_string("stt.layout", &layout));
    RT_CHECK(items.size() == 2 && dims.size() == 2 && layout == "canonical", POCKETREC_STATUS_BAD_FORMAT,
             "%s: the runtime reads STT tables of 2 cores in the canonical layout (found %zu cores, layout '%s')", src,
             items.size(), layout.c_str());
    cores_.I1 = items[0], cores_.I2 = items[1], cores_.J1 = dims[0], cores_.J2 = dims[1];
    RT_CHECK(cores_.I1 >= 1 && cores_.I2 >= 1 && cores_.J1 >= 1 && cores_.J2 >= 1 && cores_.R >= 1 && cores_.t >= 1 &&
                 cores_.I1 <= (1 << 20) && cores_.I2 <= (1 << 20) && cores_.J1 <= 4096 && cores_.J2 <= 4096 &&
                 cores_.R <= 4096 && cores_.R % cores_.t == 0 &&  // bounded before any product (found by fuzzing)
                 cores_.J2 % cores_.t == 0 && cores_.I1 * cores_.I2 >= n_items_ && cores_.J1 * cores_.J2 == d_,
             POCKETREC_STATUS_BAD_FORMAT, "%s: STT shape does not fit %lld items x %lld", src,
             static_cast<long long>(n_items_), static_cast<long long>(d_));
    RT_TRY(f32(f, "stt_item.core0", {U(cores_.I1 * cores_.J1), U(cores_.R)}, &cores_.core0, &bytes));
    RT_TRY(f32(f, "stt_item.core1", {U(cores_.R / cores_.t), U(cores_.I2 * cores_.J2 / cores_.t)}, &cores_.core1,
               &bytes));
    stt_ = true;
  } else {
    return make_status(POCKETREC_STATUS_BAD_FORMAT, "%s: sasrec.item_table '%s' (expected dense or stt)", src,
                       table.c_str());
  }
  RT_TRY(f32(f, "pos.weight", {U(max_len_), U(d)}, &pos_, &bytes));
  RT_TRY(layer_norm_view(f, "ln_in", d, &ln_in_, &bytes));
  blocks_.resize(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    BlockView& b = blocks_[static_cast<size_t>(l)];
    RT_TRY(linear(f, p + "q", d, d, true, &b.q, &bytes, &transposed_));
    RT_TRY(linear(f, p + "k", d, d, true, &b.k, &bytes, &transposed_));
    RT_TRY(linear(f, p + "v", d, d, true, &b.v, &bytes, &transposed_));
    RT_TRY(linear(f, p + "o", d, d, true, &b.o, &bytes, &transposed_));
    RT_TRY(linear(f, p + "ff1", d, inner, true, &b.ff1, &bytes, &transposed_));
    RT_TRY(linear(f, p + "ff2", inner, d, true, &b.ff2, &bytes, &transposed_));
    RT_TRY(layer_norm_view(f, p + "ln_attn", d, &b.ln_attn, &bytes));
    RT_TRY(layer_norm_view(f, p + "ln_ffn", d, &b.ln_ffn, &bytes));
  }
  if (odrec_) {
    RT_TRY(linear(f, "readout.glu1", d, d, true, &glu1_, &bytes, &transposed_));
    RT_TRY(linear(f, "readout.glu2", d, d, false, &glu2_, &bytes, &transposed_));
    RT_TRY(linear(f, "readout.w2", d, 1, false, &w2_, &bytes, &transposed_));
  }

  if (scoring == POCKETREC_SCORING_AUTO) scoring = stt_ ? POCKETREC_SCORING_CORES : POCKETREC_SCORING_FP32_TABLE;
  const float* rows = item_;
  if (stt_ && scoring != POCKETREC_SCORING_CORES) {
    table_ = ItemScorer::rebuild_table(cores_, n_items_);
    rows = table_.data();
  }
  switch (scoring) {
    case POCKETREC_SCORING_CORES:
      RT_CHECK(stt_, POCKETREC_STATUS_INVALID_ARGUMENT, "%s: scoring from the cores needs an STT item table", src);
      RT_TRY(scorer_.init_stt(cores_, n_items_, d_));
      break;
    case POCKETREC_SCORING_FP32_TABLE: scorer_.init_fp32(rows, n_items_, d_); break;
    case POCKETREC_SCORING_INT8_TABLE:
      scorer_.init_int8(rows, n_items_, d_);
      table_.clear();
      table_.shrink_to_fit();
      break;
    default:
      return make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "scoring mode %d is unknown", static_cast<int>(scoring));
  }
  // What stays resident: the encoder weights, plus the scorer's table or cores (which replace the item table
  // for scoring; STT row lookups still read the original cores).
  const bool scorer_owns = scorer_.kind() != ItemScorer::Kind::kFp32Table;  // int8 rows or re-laid-out cores
  weight_bytes_ = bytes + table_.size() * 4 + (scorer_owns ? scorer_.bytes() : 0);
  return Status::Ok();
}

size_t SasRecModel::scratch_floats() const {
  const size_t L = static_cast<size_t>(max_len_), d = static_cast<size_t>(d_);
  // x, qn, Q, K, V, ctx, tmp: L x d each; ff: L x inner; att: L; hs, g, s: d each
  return 7 * L * d + L * static_cast<size_t>(inner_) + L + 3 * d;
}

void SasRecModel::item_row(int32_t item, float* out) const {
  if (stt_)
    cores_.row(item, out);
  else
    std::memcpy(out, item_ + static_cast<size_t>(item) * static_cast<size_t>(d_), static_cast<size_t>(d_) * sizeof(float));
}

// out[L x d] = o(softmax(Q K^T / sqrt(dh) + mask) V), Q from xq, K and V from xkv. Query l sees keys
// j <= l with j < n_real (a padded query sees every real item, as in the training code).
void SasRecModel::attention(const BlockView& b, const float* xq, const float* xkv, size_t L, size_t n_real,
                            float* scratch, float* out) const {
  const size_t d = static_cast<size_t>(d_), H = static_cast<size_t>(heads_), dh = d / H;
  float *Q = scratch, *K = Q + L * d, *V = K + L * d, *ctx = V + L * d, *att = ctx + L * d;
  linear(xq, L, b.q.w, b.q.b, d, d, Q);
  linear(xkv, L, b.k.w, b.k.b, d, d, K);
  linear(xkv, L, b.v.w, b.v.b, d, d, V);
  const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(dh));
  for (size_t l = 0; l < L; ++l) {
    const size_t keys = l < n_real ? l + 1 : n_real;
    for (size_t h = 0; h < H; ++h) {
      for (size_t j = 0; j < keys; ++j) att[j] = dot(Q + l * d + h * dh, K + j * d + h * dh, dh) * inv_sqrt;
      softmax_inplace(att, keys);
      float* c = ctx + l * d + h * dh;
      std::fill(c, c + dh, 0.0f);
      for (size_t j = 0; j < keys; ++j)
        for (size_t e = 0; e < dh; ++e) c[e] += att[j] * V[j * d + h * dh + e];
    }
  }
  linear(ctx, L, b.o.w, b.o.b, d, d, out);
}

void SasRecModel::session_vector(const int32_t* history, size_t n, float* scratch, float* q) const {
  const size_t d = static_cast<size_t>(d_), inner = static_cast<size_t>(inner_);
  const size_t n_real = std::min(n, static_cast<size_t>(max_len_));
  history += n - n_real;
  // The OD-Rec variant always runs max_len positions (its readout sums the padded rows too).
  const size_t L = odrec_ ? static_cast<size_t>(max_len_) : n_real, Lmax = static_cast<size_t>(max_len_);
  float *x = scratch, *qn = x + Lmax * d, *attn_scratch = qn + Lmax * d;  // Q, K, V, ctx, att
  float *tmp = attn_scratch + 4 * Lmax * d + Lmax, *ff = tmp + Lmax * d, *hs = ff + Lmax * inner, *g = hs + d;
  for (size_t l = 0; l < L; ++l) {
    float* xl = x + l * d;
    if (l < n_real) {
      item_row(history[l], xl);
    } else if (!stt_) {  // the dense table's padding row (zero after training: padding_idx gets no gradient)
      std::memcpy(xl, item_ + static_cast<size_t>(n_items_) * d, d * sizeof(float));
    } else {
      std::fill(xl, xl + d, 0.0f);  // an STT table reads zero for the padding id
    }
    const float scale = odrec_ ? 1.0f : std::sqrt(static_cast<float>(d));
    for (size_t e = 0; e < d; ++e) xl[e] = xl[e] * scale + pos_[l * d + e];
  }
  if (odrec_) layer_norm(x, L, d, ln_in_.gamma, ln_in_.beta, eps_);
  for (const BlockView& b : blocks_) {
    if (odrec_) {  // post-LN: x = LN(x + attn(x)); x = LN(x + ff2(gelu(ff1(x))))
      attention(b, x, x, L, n_real, attn_scratch, tmp);
      for (size_t i = 0; i < L * d; ++i) x[i] += tmp[i];
      layer_norm(x, L, d, b.ln_attn.gamma, b.ln_attn.beta, eps_);
      linear(x, L, b.ff1.w, b.ff1.b, d, inner, ff);
      for (size_t i = 0; i < L * inner; ++i) ff[i] = gelu(ff[i]);
      linear(ff, L, b.ff2.w, b.ff2.b, inner, d, tmp);
      for (size_t i = 0; i < L * d; ++i) x[i] += tmp[i];
      layer_norm(x, L, d, b.ln_ffn.gamma, b.ln_ffn.beta, eps_);
    } else {  // pre-LN: qn = LN(x); x = qn + attn(qn, x); xn = LN(x); x = xn + ff2(relu(ff1(xn)))
      std::memcpy(qn, x, L * d * sizeof(float));
      layer_norm(qn, L, d, b.ln_attn.gamma, b.ln_attn.beta, eps_);
      attention(b, qn, x, L, n_real, attn_scratch, tmp);
      for (size_t i = 0; i < L * d; ++i) x[i] = qn[i] + tmp[i];
      layer_norm(x, L, d, b.ln_ffn.gamma, b.ln_ffn.beta, eps_);
      linear(x, L, b.ff1.w, b.ff1.b, d, inner, ff);
      for (size_t i = 0; i < L * inner; ++i) ff[i] = std::max(ff[i], 0.0f);
      linear(ff, L, b.ff2.w, b.ff2.b, inner, d, tmp);
      for (size_t i = 0; i < L * d; ++i) x[i] += tmp[i];
    }
  }
  if (!odrec_) {  // the final LayerNorm, at the last position only
    std::memcpy(q, x + (L - 1) * d, d * sizeof(float));
    layer_norm(q, 1, d, ln_in_.gamma, ln_in_.beta, eps_);
    return;
  }
  // Soft-attention readout (sasrec.cpp): hs = sum of all L rows / length; a_l = w2 . sigmoid(glu1(tanh x_l) + glu2 hs).
  std::fill(hs, hs + d, 0.0f);
  for (size_t l = 0; l < L; ++l)
    for (size_t e = 0; e < d; ++e) hs[e] += x[l * d + e];
  for (size_t e = 0; e < d; ++e) hs[e] /= static_cast<float>(n_real);
  linear(hs, 1, glu2_.w, nullptr, d, d, g);
  std::fill(q, q + d, 0.0f);
  float* th = tmp;  // tanh(x_l) for the real positions, then u_l = glu1(tanh x_l) in qn
  for (size_t i = 0; i < n_real * d; ++i) th[i] = std::tanh(x[i]);
  linear(th, n_real, glu1_.w, glu1_.b, d, d, qn);
  for (size_t l = 0; l < n_real; ++l) {
    float* u = qn + l * d;
    for (size_t e = 0; e < d; ++e) u[e] = sigmoid(u[e] + g[e]);
    const float a = dot(w2_.w, u, d);
    for (size_t e = 0; e < d; ++e) q[e] += a * x[l * d + e];
  }
}

}  // namespace pocketrec::runtime
