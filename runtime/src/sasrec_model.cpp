#include "sasrec_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "weight_views.h"

namespace pocketrec::runtime {
using U = uint64_t;

Status SasRecModel::load(const PocketFile& f, pocketrec_scoring scoring) {
  const char* src = f.source().c_str();
  RT_TRY(f.get_string("pocketrec.architecture", &architecture_));
  RT_CHECK(architecture_ == "sasrec" || architecture_ == "sasrec-odrec", POCKETREC_STATUS_BAD_FORMAT,
           "%s: architecture '%s' is not a SASRec", src, architecture_.c_str());
  odrec_ = architecture_ == "sasrec-odrec";
  int64_t layers = 0, max_len = 0;
  RT_TRY(f.get_i64("pocketrec.n_items", &n_items_));
  RT_TRY(f.get_i64("sasrec.dim", &d_));
  RT_TRY(f.get_i64("sasrec.max_len", &max_len));
  RT_TRY(f.get_i64("sasrec.layers", &layers));
  RT_TRY(f.get_i64("sasrec.heads", &heads_));
  RT_TRY(f.get_i64("sasrec.inner", &inner_));
  RT_CHECK(n_items_ >= 1 && n_items_ < (int64_t{1} << 31) && d_ >= 1 && d_ <= 4096 && max_len >= 1 && max_len <= 4096 &&
               layers >= 0 && layers <= 64 && heads_ >= 1 && d_ % heads_ == 0 && inner_ >= 1 && inner_ <= 65536,
           POCKETREC_STATUS_BAD_FORMAT,
           "%s: implausible sizes (n_items %lld, dim %lld, max_len %lld, layers %lld, heads %lld, inner %lld)", src,
           static_cast<long long>(n_items_), static_cast<long long>(d_), static_cast<long long>(max_len),
           static_cast<long long>(layers), static_cast<long long>(heads_), static_cast<long long>(inner_));
  eps_ = odrec_ ? 1e-12f : 1e-8f;
  max_history_ = max_len;
  const size_t d = static_cast<size_t>(d_), inner = static_cast<size_t>(inner_);
  WeightStore* w = &weights_;

  std::string table;
  RT_TRY(f.get_string("sasrec.item_table", &table));
  if (table == "dense") {
    RT_TRY(f.get_weight("item.weight", {U(n_items_ + 1), U(d)}, w, &item_));
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
    RT_TRY(cores_.check(src, n_items_, d_));  // the sizes first: the item order's length depends on them
    if (f.has_tensor("stt_item.slot_of_item")) {
      const TensorView* order = nullptr;
      RT_TRY(f.get_tensor("stt_item.slot_of_item", format::TensorType::kI64, {U(cores_.I1 * cores_.I2)}, &order));
      cores_.slot_of_item = reinterpret_cast<const int64_t*>(order->data);
      w->file_bytes += order->n_bytes;  // part of the table, used in place
      RT_TRY(cores_.check(src, n_items_, d_));
    }
    RT_TRY(f.get_weight("stt_item.core0", {U(cores_.I1 * cores_.J1), U(cores_.R)}, w, &cores_.core0));
    RT_TRY(f.get_weight("stt_item.core1", {U(cores_.R / cores_.t), U(cores_.I2 * cores_.J2 / cores_.t)}, w,
                        &cores_.core1));
    stt_ = true;
  } else if (table == "pq") {
    int64_t rotation = 0;
    RT_TRY(f.get_i64("pq.subspaces", &pq_.M));
    RT_TRY(f.get_i64("pq.codewords", &pq_.K));
    RT_TRY(f.get_i64("pq.rotation", &rotation));
    RT_CHECK(pq_.M >= 1 && pq_.M <= d_ && d_ % pq_.M == 0 && pq_.K >= 2 && pq_.K <= 256, POCKETREC_STATUS_BAD_FORMAT,
             "%s: PQ shape M=%lld K=%lld does not fit dimension %lld", src, static_cast<long long>(pq_.M),
             static_cast<long long>(pq_.K), static_cast<long long>(d_));
    pq_.s = d_ / pq_.M;
    const TensorView* codes = nullptr;
    RT_TRY(f.get_tensor("pq_item.codes", format::TensorType::kU8, {U(n_items_), U(pq_.M)}, &codes));
    pq_.codes = codes->data;
    w->file_bytes += codes->n_bytes;  // the bulk of a PQ table, used in place
    RT_TRY(f.get_weight("pq_item.codebooks", {U(pq_.M), U(pq_.K), U(pq_.s)}, w, &pq_.codebooks));
    if (rotation) RT_TRY(f.get_weight("pq_item.rotation", {U(d_), U(d_)}, w, &pq_.rotation));
    RT_TRY(pq_.check(src, n_items_, d_));
    pq_table_ = true;
  } else {
    return make_status(POCKETREC_STATUS_BAD_FORMAT, "%s: sasrec.item_table '%s' (expected dense, stt or pq)", src,
                       table.c_str());
  }
  RT_TRY(f.get_weight("pos.weight", {U(max_len), U(d)}, w, &pos_));
  RT_TRY(read_layer_norm(f, "ln_in", d, w, &ln_in_));
  blocks_.resize(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    BlockView& b = blocks_[static_cast<size_t>(l)];
    RT_TRY(read_linear(f, p + "q", d, d, true, w, &b.q));
    RT_TRY(read_linear(f, p + "k", d, d, true, w, &b.k));
    RT_TRY(read_linear(f, p + "v", d, d, true, w, &b.v));
    RT_TRY(read_linear(f, p + "o", d, d, true, w, &b.o));
    RT_TRY(read_linear(f, p + "ff1", d, inner, true, w, &b.ff1));
    RT_TRY(read_linear(f, p + "ff2", inner, d, true, w, &b.ff2));
    RT_TRY(read_layer_norm(f, p + "ln_attn", d, w, &b.ln_attn));
    RT_TRY(read_layer_norm(f, p + "ln_ffn", d, w, &b.ln_ffn));
  }
  if (odrec_) {
    RT_TRY(read_linear(f, "readout.glu1", d, d, true, w, &glu1_));
    RT_TRY(read_linear(f, "readout.glu2", d, d, false, w, &glu2_));
    RT_TRY(read_linear(f, "readout.w2", d, 1, false, w, &w2_));
  }

  const bool compressed = stt_ || pq_table_;
  if (scoring == POCKETREC_SCORING_AUTO) scoring = compressed ? POCKETREC_SCORING_CORES : POCKETREC_SCORING_FP32_TABLE;
  if (stt_ && scoring == POCKETREC_SCORING_CORES) {
    RT_TRY(scorer_.init_stt(cores_, n_items_, d_));
  } else if (pq_table_ && scoring == POCKETREC_SCORING_CORES) {
    RT_TRY(scorer_.init_pq(pq_, n_items_, d_));
  } else {
    const bool table_mode = scoring == POCKETREC_SCORING_FP32_TABLE || scoring == POCKETREC_SCORING_INT8_TABLE;
    if (stt_ && table_mode) table_ = ItemScorer::rebuild_table(cores_, n_items_);
    if (pq_table_ && table_mode) table_ = ItemScorer::rebuild_table(pq_, n_items_, d_);
    RT_TRY(init_table_scorer(src, scoring, compressed ? table_.data() : item_, d_));
    if (scorer_.kind() == ItemScorer::Kind::kInt8Table) table_ = std::vector<float>();  // quantised: not needed
  }
  if (odrec_) {  // the padded positions' first-block rows: padding row (zero for STT and PQ) + position, LN, Q
    const size_t L = static_cast<size_t>(max_len);
    pad_x_.assign(L * d, 0.0f);
    for (size_t l = 0; l < L; ++l)
      for (size_t e = 0; e < d; ++e)
        pad_x_[l * d + e] = (item_ ? item_[static_cast<size_t>(n_items_) * d + e] : 0.0f) + pos_[l * d + e];
    layer_norm(pad_x_.data(), L, d, ln_in_.gamma, ln_in_.beta, eps_);
    if (!blocks_.empty()) {
      pad_q_.resize(L * d);
      linear(pad_x_.data(), L, blocks_[0].q.w, blocks_[0].q.b, d, d, pad_q_.data());
    }
  }
  // STT row lookups keep reading the original cores, whichever scorer is used.
  set_weight_bytes((table_.size() + pad_x_.size() + pad_q_.size()) * sizeof(float));
  query_floats_ = d;
  // the forward's x, qn, Q, K, V, ctx, tmp: L x d each; ff: L x inner; att: L; hs, g: d each
  const size_t L = static_cast<size_t>(max_len);
  scratch_floats_ = 7 * L * d + L * inner + L + 2 * d;  // the C API adds the scorer's own need
  return Status::Ok();
}

void SasRecModel::item_row(int32_t item, float* out) const {
  if (stt_)
    cores_.row(item, out);
  else if (pq_table_)
    pq_.row(item, out);
  else
    std::memcpy(out, item_ + static_cast<size_t>(item) * static_cast<size_t>(d_),
                static_cast<size_t>(d_) * sizeof(float));
}

// out[L x d] = o(softmax(Q K^T / sqrt(dh) + mask) V), Q from xq, K and V from xkv. Query l sees keys
// j <= l with j < n_real (a padded query sees every real item, as in the training code).
void SasRecModel::attention(const BlockView& b, const float* xq, const float* xkv, size_t L, size_t n_real,
                            const float* q_pad, float* scratch, float* out) const {
  const size_t d = static_cast<size_t>(d_), H = static_cast<size_t>(heads_), dh = d / H;
  float *Q = scratch, *K = Q + L * d, *V = K + L * d, *ctx = V + L * d, *att = ctx + L * d;
  linear(xq, q_pad ? n_real : L, b.q.w, b.q.b, d, d, Q);
  if (q_pad) std::memcpy(Q + n_real * d, q_pad + n_real * d, (L - n_real) * d * sizeof(float));
  // No query attends to a padded key: K and V only for the real rows.
  linear(xkv, n_real, b.k.w, b.k.b, d, d, K);
  linear(xkv, n_real, b.v.w, b.v.b, d, d, V);
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

void SasRecModel::query_vector(const int32_t* history, size_t n, int32_t /*user*/, float* scratch, float* q) const {
  const size_t d = static_cast<size_t>(d_), inner = static_cast<size_t>(inner_);
  const size_t n_real = std::min(n, static_cast<size_t>(max_history_));
  history += n - n_real;
  // The OD-Rec variant always runs max_len positions (its readout sums the padded rows too).
  const size_t L = odrec_ ? static_cast<size_t>(max_history_) : n_real, Lmax = static_cast<size_t>(max_history_);
  float *x = scratch, *qn = x + Lmax * d, *attn_scratch = qn + Lmax * d;  // Q, K, V, ctx, att
  float *tmp = attn_scratch + 4 * Lmax * d + Lmax, *ff = tmp + Lmax * d, *hs = ff + Lmax * inner, *g = hs + d;
  const float scale = odrec_ ? 1.0f : std::sqrt(static_cast<float>(d));
  for (size_t l = 0; l < n_real; ++l) {
    float* xl = x + l * d;
    item_row(history[l], xl);
    for (size_t e = 0; e < d; ++e) xl[e] = xl[e] * scale + pos_[l * d + e];
  }
  if (odrec_) {
    layer_norm(x, n_real, d, ln_in_.gamma, ln_in_.beta, eps_);
    std::memcpy(x + n_real * d, pad_x_.data() + n_real * d, (L - n_real) * d * sizeof(float));
  }
  for (const BlockView& b : blocks_) {
    if (odrec_) {  // post-LN: x = LN(x + attn(x)); x = LN(x + ff2(gelu(ff1(x))))
      attention(b, x, x, L, n_real, &b == &blocks_[0] ? pad_q_.data() : nullptr, attn_scratch, tmp);
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
      attention(b, qn, x, L, n_real, nullptr, attn_scratch, tmp);
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
  for (size_t i = 0; i < n_real * d; ++i) th[i] = tanh_approx(x[i]);
  linear(th, n_real, glu1_.w, glu1_.b, d, d, qn);
  for (size_t l = 0; l < n_real; ++l) {
    float* u = qn + l * d;
    for (size_t e = 0; e < d; ++e) u[e] = sigmoid(u[e] + g[e]);
    const float a = dot(w2_.w, u, d);
    for (size_t e = 0; e < d; ++e) q[e] += a * x[l * d + e];
  }
}

}  // namespace pocketrec::runtime
