// The SASRec network (docs/design/odrec.md §1 for the OD-Rec variant): item table, learned
// positions, causal self-attention blocks and, for the OD-Rec variant, the soft-attention readout.
// The model (sasrec.cpp) builds its tasks, scorer and exports on top of it.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "compress/product_quantization.h"
#include "compress/semi_tensor_train.h"
#include "kernels/counter_based_dropout.h"
#include "kernels/parallel_bmm.h"
#include "kernels/parallel_linear.h"
#include "models/soft_attention_readout.h"

namespace pocketrec::models {

// What the attention rows of a right-padded batch may see, from valid [B,L] (real positions):
// `additive` [B,L,L] is 0 where a query may attend (causal, real keys) and -inf elsewhere; `keys`
// holds the flat indices (into [B*L]) of the real positions, the only ones whose keys and values
// are computed. A padded query attends to every real key before it, so no row is fully masked.
struct AttentionMask {
  torch::Tensor additive, keys;

  static AttentionMask causal_over(const torch::Tensor& valid) {
    const int64_t B = valid.size(0), L = valid.size(1);
    torch::Tensor allowed = torch::ones({L, L}, torch::kBool).tril().unsqueeze(0) & valid.unsqueeze(1);
    return {torch::zeros({B, L, L}).masked_fill(allowed.logical_not(), -INFINITY),
            valid.reshape({-1}).nonzero().squeeze(1)};
  }
};

struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t d, int64_t heads, int64_t inner, double drop, bool post_ln) : heads(heads), post_ln(post_ln) {
    const double eps = post_ln ? 1e-12 : 1e-8;
    q = register_module("q", torch::nn::Linear(d, d));
    k = register_module("k", torch::nn::Linear(d, d));
    v = register_module("v", torch::nn::Linear(d, d));
    o = register_module("o", torch::nn::Linear(d, d));
    ln_attn = register_module("ln_attn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    ln_ffn = register_module("ln_ffn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    ff1 = register_module("ff1", torch::nn::Linear(d, inner));
    ff2 = register_module("ff2", torch::nn::Linear(inner, d));
    dropout = register_module("dropout", kernels::CounterBasedDropout(drop));
  }

  // query_in [B,L,d], kv_in [B,L,d]. Padded keys are masked out of every attention row, so their
  // keys and values are never computed (zero rows instead): on Tmall's 40-position prefixes that is
  // most of the K and V products.
  torch::Tensor attention(const torch::Tensor& query_in, const torch::Tensor& kv_in, const AttentionMask& mask) {
    const int64_t B = query_in.size(0), L = query_in.size(1), d = query_in.size(2), dh = d / heads;
    auto split = [&](const torch::Tensor& t) { return t.view({B, L, heads, dh}).transpose(1, 2); };  // [B,h,L,dh]
    const torch::Tensor kv_rows = kv_in.reshape({B * L, d}).index_select(0, mask.keys);
    auto at_keys = [&](torch::nn::Linear& lin) {
      return torch::zeros({B * L, d}, kv_in.options()).index_copy(0, mask.keys, kernels::parallel_linear(lin, kv_rows));
    };
    // [B*h, L, dh]: one small product per (session, head), spread over the threads (parallel_bmm.h).
    auto per_head = [&](const torch::Tensor& t) { return split(t).reshape({B * heads, L, dh}); };
    torch::Tensor Q = per_head(kernels::parallel_linear(q, query_in)), K = per_head(at_keys(k)),
                  V = per_head(at_keys(v));
    torch::Tensor scores =
        kernels::parallel_bmm(Q, K.transpose(1, 2)).view({B, heads, L, L}) / std::sqrt(static_cast<double>(dh)) +
        mask.additive.unsqueeze(1);
    torch::Tensor attn = dropout->forward(torch::softmax(scores, -1)).view({B * heads, L, L});
    torch::Tensor context = kernels::parallel_bmm(attn, V).view({B, heads, L, dh});
    return kernels::parallel_linear(o, context.transpose(1, 2).reshape({B, L, d}));
  }

  torch::Tensor forward(torch::Tensor x, const AttentionMask& mask) {
    if (post_ln) {
      torch::Tensor h = ln_attn->forward(x + dropout->forward(attention(x, x, mask)));
      torch::Tensor inner = torch::gelu(kernels::parallel_linear(ff1, h));
      return ln_ffn->forward(h + dropout->forward(kernels::parallel_linear(ff2, inner)));
    }
    torch::Tensor qn = ln_attn->forward(x);
    x = qn + dropout->forward(attention(qn, x, mask));
    torch::Tensor xn = ln_ffn->forward(x);
    torch::Tensor inner = dropout->forward(torch::relu(kernels::parallel_linear(ff1, xn)));
    return xn + dropout->forward(kernels::parallel_linear(ff2, inner));
  }

  int64_t heads;
  bool post_ln;
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr}, ff1{nullptr}, ff2{nullptr};
  torch::nn::LayerNorm ln_attn{nullptr}, ln_ffn{nullptr};
  kernels::CounterBasedDropout dropout{nullptr};
};
TORCH_MODULE(Block);

struct SasNetImpl : torch::nn::Module {
  // stt / pq: the item table's semi-tensor-train or product-quantised shape; neither: a dense table.
  SasNetImpl(int64_t n_items, int64_t d, int64_t max_len, int64_t layers, int64_t heads, int64_t inner, double drop,
             bool odrec, const std::optional<compress::SttShape>& stt, bool stt_ordered,
             const std::optional<compress::PqShape>& pq = std::nullopt)
      : pad(n_items), d(d), odrec(odrec) {
    if (stt)
      stt_item = register_module("stt_item", compress::SemiTensorTrainEmbedding(*stt, 0.1, stt_ordered));
    else if (pq)
      pq_item = register_module("pq_item", compress::ProductQuantizedEmbedding(*pq));
    else
      item = register_module("item",
                             torch::nn::Embedding(torch::nn::EmbeddingOptions(n_items + 1, d).padding_idx(n_items)));
    pos = register_module("pos", torch::nn::Embedding(max_len, d));
    ln_in = register_module("ln_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(odrec ? 1e-12 : 1e-8)));
    dropout = register_module("dropout", kernels::CounterBasedDropout(drop));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) blocks->push_back(Block(d, heads, inner, drop, odrec));
    if (odrec) readout = register_module("readout", SoftAttentionReadout(d));
    torch::NoGradGuard g;
    for (auto& p : named_parameters()) {
      if (odrec) {  // every parameter, LayerNorm gamma and beta included (docs/design/odrec.md §1, §8.8)
        p.value().uniform_(-0.1, 0.1);
      } else if (p.key().find("ln_") != std::string::npos) {
        continue;  // LayerNorm keeps gamma = 1, beta = 0
      } else if (p.value().dim() >= 2) {
        torch::nn::init::xavier_normal_(p.value());
      } else {
        p.value().zero_();
      }
    }
    if (item) item->weight[n_items].zero_();
  }

  // Rows of the item table; the padding id reads a zero row (a compressed table has no padding row).
  // table: this step's item_table(), if the caller has built it. An STT model then gathers the rows
  // from it: a training step rebuilds the whole table for its full-softmax scores anyway, and
  // rebuilding a batch's 4,000 rows from the cores again is thousands of tiny products, slower than
  // the whole table (bench_stt Lookup/* and Reconstruct*).
  torch::Tensor item_rows(const torch::Tensor& ids, const torch::Tensor& table = {}) {
    if (item) return item->forward(ids);  // the padding row is zero
    torch::Tensor is_pad = ids.eq(pad), safe = ids.masked_fill(is_pad, 0);
    torch::Tensor rows;
    if (table.defined()) {
      std::vector<int64_t> shape(ids.sizes().begin(), ids.sizes().end());
      shape.push_back(d);
      rows = table.index_select(0, safe.reshape({-1})).view(shape);
    } else {
      rows = stt_item ? stt_item->forward(safe) : pq_item->forward(safe);
    }
    return rows * is_pad.logical_not().unsqueeze(-1);
  }
  // The n_items x d table the scores are computed against (STT: reconstructed from the cores).
  torch::Tensor item_table() {
    return (item ? item->weight : stt_item ? stt_item->full_table() : pq_item->full_table()).slice(0, 0, pad);
  }

  // seq [B,L] right-padded, lengths [B] -> session vectors [B,d]. rows: the input rows [B,L,d], if the
  // caller has gathered them (else item_rows(seq)).
  torch::Tensor encode(const torch::Tensor& seq, const torch::Tensor& lengths, const torch::Tensor& rows = {}) {
    const int64_t B = seq.size(0), L = seq.size(1);
    torch::Tensor valid = seq.ne(pad);  // [B,L]
    torch::Tensor positions = torch::arange(L, torch::kInt64).unsqueeze(0).expand({B, L});
    const torch::Tensor input = rows.defined() ? rows : item_rows(seq);
    torch::Tensor x;
    if (odrec) {
      x = dropout->forward(ln_in->forward(input + pos->forward(positions)));
    } else {
      x = dropout->forward(input * std::sqrt(static_cast<double>(d)) + pos->forward(positions));
      x = x * valid.unsqueeze(2);
    }
    const AttentionMask mask = AttentionMask::causal_over(valid);
    for (const auto& b : *blocks) {
      x = b->as<Block>()->forward(x, mask);
      if (!odrec) x = x * valid.unsqueeze(2);
    }
    if (!odrec) {
      x = ln_in->forward(x);  // the final LayerNorm of the pre-LN stack
      torch::Tensor last = (lengths - 1).view({B, 1, 1}).expand({B, 1, d});
      return x.gather(1, last).squeeze(1);
    }
    return readout->forward(x, valid, lengths);
  }

  // Every position's output, for sequence-to-sequence training (standard variant).
  torch::Tensor encode_all(const torch::Tensor& seq) {
    const int64_t B = seq.size(0), L = seq.size(1);
    torch::Tensor valid = seq.ne(pad);
    torch::Tensor positions = torch::arange(L, torch::kInt64).unsqueeze(0).expand({B, L});
    torch::Tensor x = dropout->forward(item_rows(seq) * std::sqrt(static_cast<double>(d)) + pos->forward(positions));
    x = x * valid.unsqueeze(2);
    const AttentionMask mask = AttentionMask::causal_over(valid);
    for (const auto& b : *blocks) x = b->as<Block>()->forward(x, mask) * valid.unsqueeze(2);
    return ln_in->forward(x);  // [B,L,d]
  }

  int64_t pad, d;
  bool odrec;
  torch::nn::Embedding item{nullptr}, pos{nullptr};
  compress::SemiTensorTrainEmbedding stt_item{nullptr};
  compress::ProductQuantizedEmbedding pq_item{nullptr};
  torch::nn::LayerNorm ln_in{nullptr};
  kernels::CounterBasedDropout dropout{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  SoftAttentionReadout readout{nullptr};
};
TORCH_MODULE(SasNet);

}  // namespace pocketrec::models
