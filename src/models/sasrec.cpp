// SASRec (Kang & McAuley, ICDM'18): causal self-attention over the item sequence with learned
// positions; the output at a position scores every item by a dot product with the shared item table.
//   standard  pre-LN blocks as in the reference implementations (Q = LN(x); x = Q + MHA(Q, x, x);
//             x = x + FFN(LN(x)) with ReLU; final LN), item embeddings scaled by sqrt(d); read at the
//             last position; trained sequence-to-sequence on each user's last max_len + 1 items with
//             full-softmax cross-entropy (SASRec+, Klenitskiy & Vasilev, RecSys'23) or BCE with one
//             sampled negative per position (the original).
//   odrec     the OD-Rec teacher (Xia et al., SIGIR'22; odrec.md §1): x = Dropout(LN(E[item] + P[pos])),
//             post-LN blocks (RecBole/BERT style, GELU FFN, LN eps 1e-12), soft-attention readout
//               hs = (sum of the outputs at all max_len positions) / length,
//               a_l = w2 . sigmoid(glu1(tanh(H_l)) + glu2(hs)),   s = sum_l a_l H_l over real positions;
//             trained on every prefix -> next item with full-softmax cross-entropy, U(-0.1, 0.1) init of
//             every parameter, LayerNorm gamma/beta included, as in the reference.
//             hs sums padded positions too, as the reference does: a padded query attends to every real
//             item, so those rows carry whole-session summaries into the gate. Measured on Tmall, one
//             epoch of the reference with this sum gives test HR@20 31.7 / MRR@20 17.0 and with a mean
//             over real positions only 26.5 / 14.7 (docs/results/teachers.md). The reference pads to
//             the batch's longest prefix, which makes a session's score depend on its batch
//             (odrec.md §8.5); we always pad to model.max_len, so scores never depend on the batch.
//             With model.item_table = stt this is the OD-Rec student (semi-tensor-train item table).
// Sequences are right-padded (padding id = n_items); position 0 is the first item; attention is
// causal and ignores padded keys, so no row is ever fully masked.
#include <algorithm>
#include <cmath>
#include <optional>

#include "compress/semi_tensor_train.h"
#include "core/log.h"
#include "data/negative_sampler.h"
#include "data/samples.h"
#include "eval/dot_scorer.h"
#include "kernels/counter_based_dropout.h"
#include "kernels/full_softmax_cross_entropy.h"
#include "kernels/parallel_bmm.h"
#include "kernels/parallel_linear.h"
#include "models/sampled_item_task.h"
#include "models/sasrec.h"
#include "models/soft_attention_readout.h"
#include "models/torch_models.h"
#include "models/torch_recommender.h"

namespace pocketrec::models {
namespace {

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
  BlockImpl(int64_t d, int64_t heads, int64_t inner, double drop, bool post_ln)
      : heads(heads), post_ln(post_ln) {
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
    torch::Tensor scores = kernels::parallel_bmm(Q, K.transpose(1, 2)).view({B, heads, L, L}) /
                               std::sqrt(static_cast<double>(dh)) + mask.additive.unsqueeze(1);
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
  // stt: the item table's semi-tensor-train shape, or nullopt for a dense table.
  SasNetImpl(int64_t n_items, int64_t d, int64_t max_len, int64_t layers, int64_t heads, int64_t inner, double drop,
             bool odrec, const std::optional<compress::SttShape>& stt, bool stt_ordered)
      : pad(n_items), d(d), odrec(odrec) {
    if (stt)
      stt_item = register_module("stt_item", compress::SemiTensorTrainEmbedding(*stt, 0.1, stt_ordered));
    else
      item = register_module("item", torch::nn::Embedding(torch::nn::EmbeddingOptions(n_items + 1, d).padding_idx(n_items)));
    pos = register_module("pos", torch::nn::Embedding(max_len, d));
    ln_in = register_module("ln_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(odrec ? 1e-12 : 1e-8)));
    dropout = register_module("dropout", kernels::CounterBasedDropout(drop));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) blocks->push_back(Block(d, heads, inner, drop, odrec));
    if (odrec) readout = register_module("readout", SoftAttentionReadout(d));
    torch::NoGradGuard g;
    for (auto& p : named_parameters()) {
      if (odrec) {  // every parameter, LayerNorm gamma and beta included (odrec.md §1, §8.8)
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

  // Rows of the item table; the padding id reads a zero row (an STT table has no padding row).
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
      rows = stt_item->forward(safe);
    }
    return rows * is_pad.logical_not().unsqueeze(-1);
  }
  // The n_items x d table the scores are computed against (STT: reconstructed from the cores).
  torch::Tensor item_table() {
    return (item ? item->weight : stt_item->full_table()).slice(0, 0, pad);
  }

  // seq [B,L] right-padded, lengths [B] -> session vectors [B,d]. rows: the input rows [B,L,d], if the
  // caller has gathered them (else item_rows(seq)).
  torch::Tensor encode(const torch::Tensor& seq, const torch::Tensor& lengths, const torch::Tensor& rows = {}) {
    const int64_t B = seq.size(0), L = seq.size(1);
    torch::Tensor valid = seq.ne(pad);                                                   // [B,L]
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
  torch::nn::LayerNorm ln_in{nullptr};
  kernels::CounterBasedDropout dropout{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  SoftAttentionReadout readout{nullptr};
};
TORCH_MODULE(SasNet);

class SasRecModel : public TorchRecommender, public SessionEncoder, public PointwiseModel {
 public:
  SasRecModel(const Config& c, const data::Dataset& d)
      : n_items_(d.n_items), dim_(c.integer("model.dim")), max_len_(c.integer("model.max_len")),
        odrec_(c.str("model.sasrec_variant") == "odrec") {
    const std::string loss = c.str("train.loss");
    bce_ = loss == "bce";
    PR_CHECK(!(odrec_ && bce_), ErrorCode::kInvalidArgument, "train.loss: the odrec variant trains with ce");
    const int64_t heads = c.integer("model.heads"), inner = c.integer("model.inner");
    PR_CHECK(dim_ % heads == 0, ErrorCode::kInvalidArgument, "model.heads: {} does not divide model.dim {}", heads,
             dim_);
    std::optional<compress::SttShape> stt;
    const bool stt_ordered = c.str("model.stt_item_order") == "teacher";
    if (c.str("model.item_table") == "stt") {
      const auto layout = compress::parse_stt_layout(c.str("model.stt_layout"));
      const auto items = c.integers("model.stt_items"), dims = c.integers("model.stt_dims");
      if (items.empty() && dims.empty()) {
        stt = compress::SttShape::choose(n_items_, dim_, c.integer("model.stt_rank"), c.integer("model.stt_t"),
                                         static_cast<size_t>(c.integer("model.stt_cores")), layout);
      } else {
        stt = compress::SttShape{items, dims, c.integer("model.stt_rank"), c.integer("model.stt_t"), layout};
        stt->validate(n_items_, dim_, "model.stt_items / model.stt_dims");
      }
      const int64_t dense = stt->n_rows() * dim_;
      log_info("sasrec: STT item table {}: {} parameters for a {} x {} table (dense: {}, {:.2f}x smaller)",
               stt->to_string(), stt->n_parameters(), stt->n_rows(), dim_, dense,
               static_cast<double>(dense) / static_cast<double>(stt->n_parameters()));
    }
    torch::manual_seed(static_cast<uint64_t>(c.integer("train.seed")));
    net_ = SasNet(n_items_, dim_, max_len_, c.integer("model.layers"), heads, inner > 0 ? inner : dim_,
                  c.number("model.dropout"), odrec_, stt, stt && stt_ordered);
  }

  torch::Tensor item_rows(const torch::Tensor& ids, const torch::Tensor& table) override {
    return net_->item_rows(ids, table);
  }
  torch::Tensor session_vectors(const torch::Tensor& seq, const torch::Tensor& lengths,
                                const torch::Tensor& rows) override {
    return net_->encode(seq, lengths, rows);
  }
  torch::Tensor item_table() override { return net_->item_table(); }
  int64_t dim() const override { return dim_; }
  int64_t item_table_parameters() const override {
    return net_->item ? net_->item->weight.numel() : net_->stt_item->shape().n_parameters();
  }
  torch::nn::Module& encoder_module() override { return *net_; }
  std::optional<compress::SttShape> stt_shape() const override {
    if (!net_->stt_item) return std::nullopt;
    return net_->stt_item->shape();
  }
  std::optional<std::vector<int64_t>> stt_item_order() const override {
    if (!net_->stt_item || !net_->stt_item->ordered()) return std::nullopt;
    const torch::Tensor s = net_->stt_item->slot_of_item().contiguous();
    return std::vector<int64_t>(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + s.numel());
  }
  void set_stt_item_order(const std::vector<int64_t>& slot_of_item) override {
    PR_CHECK(net_->stt_item && net_->stt_item->ordered(), ErrorCode::kInvalidArgument,
             "model.stt_item_order: an item order needs model.item_table = stt and model.stt_item_order = teacher");
    net_->stt_item->set_item_order(slot_of_item);
  }

  std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset&) const override {
    torch::Tensor table;
    {
      torch::NoGradGuard g;
      table = net_->item_table();
    }
    auto encoder = [this, table](const data::EvalSet& set, const int32_t* queries, size_t n, float* out) {
      torch::NoGradGuard g;
      net_->eval();  // scoring never uses dropout (training switches back to train() each epoch)
      std::vector<data::ItemSpan> hist;
      for (size_t r = 0; r < n; ++r) {
        data::ItemSpan h = set.history[queries[r]];
        PR_CHECK(!h.empty(), ErrorCode::kInvalidArgument, "sasrec: query {} has an empty history", queries[r]);
        const size_t keep = std::min<size_t>(h.size(), static_cast<size_t>(max_len_));
        hist.push_back({h.ptr + h.size() - keep, keep});
      }
      auto [seq, lengths] = pad_batch(hist);
      torch::Tensor s = net_->encode(seq, lengths, net_->item_rows(seq, table));
      std::copy_n(s.contiguous().data_ptr<float>(), n * dim_, out);
    };
    return std::make_unique<eval::DotProductScorer>(to_float_vector(table),
                                                    std::vector<float>{}, n_items_, static_cast<int32_t>(dim_),
                                                    encoder);
  }

 protected:
  const char* model_name() const override { return odrec_ ? "sasrec-odrec" : "sasrec"; }
  torch::nn::Module& module() const override { return *net_; }

  // Right-pads spans to the longest (the odrec variant: always to max_len): (seq [B,L], lengths [B]).
  std::pair<torch::Tensor, torch::Tensor> pad_batch(const std::vector<data::ItemSpan>& spans) const {
    int64_t L = odrec_ ? max_len_ : 1;
    for (const auto& s : spans) L = std::max<int64_t>(L, static_cast<int64_t>(s.size()));
    const int64_t B = static_cast<int64_t>(spans.size());
    std::vector<int64_t> seq(B * L, n_items_), lengths(B);
    for (int64_t b = 0; b < B; ++b) {
      std::copy(spans[b].begin(), spans[b].end(), seq.begin() + b * L);
      lengths[b] = static_cast<int64_t>(spans[b].size());
    }
    return {int64_tensor(seq, {B, L}), int64_tensor(lengths, {B})};
  }

  train::TrainTask make_task(const data::Dataset& d, const Config& c) override {
    const data::Sequences* train = &d.train;
    if (odrec_) {
      samples_ = data::make_next_item_samples(d.train, /*min_context=*/1);
      log_info("sasrec (odrec): {} prefix samples, full softmax over {} items", samples_.size(), n_items_);
      auto make_batch = [this, train](const int64_t* ids, size_t n, std::mt19937_64&) {
        std::vector<data::ItemSpan> spans;
        std::vector<int64_t> targets(n);
        for (size_t b = 0; b < n; ++b) {
          const int64_t p = samples_.pos[ids[b]], start = train->offsets[samples_.seq[ids[b]]];
          const int64_t len = std::min<int64_t>(p - start, max_len_);
          spans.push_back({train->items.data() + p - len, static_cast<size_t>(len)});
          targets[b] = train->items[p];
        }
        auto [seq, lengths] = pad_batch(spans);
        return train::Batch{seq, lengths, int64_tensor(targets, {static_cast<int64_t>(n)})};
      };
      return {*net_, static_cast<int64_t>(samples_.size()), make_batch, [this](const train::Batch& b) {
                torch::Tensor table = net_->item_table();
                torch::Tensor sessions = net_->encode(b[0], b[1], net_->item_rows(b[0], table));
                return kernels::full_softmax_cross_entropy(sessions, table, b[2]);
              }};
    }
    // Standard: one sample per training sequence with >= 2 items: its last max_len + 1 items.
    seq_ids_.clear();
    for (size_t s = 0; s < d.train.size(); ++s)
      if (d.train.length(s) >= 2) seq_ids_.push_back(static_cast<int32_t>(s));
    sampler_ = std::make_unique<data::NegativeSampler>(d.train, n_items_, c.boolean("train.neg_exclude_history"));
    log_info("sasrec: {} training sequences (last {} items each), {} loss", seq_ids_.size(), max_len_ + 1,
             bce_ ? "BCE with one negative per position" : "full-softmax cross-entropy");
    auto make_batch = [this, train](const int64_t* ids, size_t n, std::mt19937_64& rng) {
      std::vector<data::ItemSpan> inputs;
      int64_t L = 1;
      for (size_t b = 0; b < n; ++b) {
        data::ItemSpan s = (*train)[seq_ids_[ids[b]]];
        const size_t len = std::min<size_t>(s.size() - 1, static_cast<size_t>(max_len_));
        inputs.push_back({s.ptr + s.size() - 1 - len, len});
        L = std::max<int64_t>(L, static_cast<int64_t>(len));
      }
      const int64_t B = static_cast<int64_t>(n);
      std::vector<int64_t> targets(B * L, -100);  // -100: padded position, ignored
      for (int64_t b = 0; b < B; ++b)
        for (size_t j = 0; j < inputs[b].size(); ++j) targets[b * L + j] = inputs[b].ptr[j + 1];
      train::Batch batch{pad_batch(inputs).first, int64_tensor(targets, {B * L})};
      if (bce_) {
        std::vector<int64_t> negatives(B * L, 0);
        for (int64_t b = 0; b < B; ++b)
          for (size_t j = 0; j < inputs[b].size(); ++j)
            negatives[b * L + j] = sampler_->sample(seq_ids_[ids[b]], static_cast<int32_t>(targets[b * L + j]), rng);
        batch.push_back(int64_tensor(negatives, {B * L}));
      }
      return batch;
    };
    auto loss = [this](const train::Batch& b) {  // b = {seq [B,L], targets [B*L], (negatives [B*L])}
      torch::Tensor H = net_->encode_all(b[0]);  // [B,L,d]
      const torch::Tensor& y = b[1];
      torch::Tensor Hf = H.view({-1, dim_}), valid = y.ge(0);
      if (!bce_) {  // mean over the real positions; only their logits are computed (ML-1M: ~45% are padding)
        torch::Tensor real = valid.nonzero().view({-1});
        return kernels::full_softmax_cross_entropy(Hf.index_select(0, real), net_->item_table(), y.index_select(0, real));
      }
      torch::Tensor ps = (Hf * net_->item_rows(y.clamp_min(0))).sum(1);
      torch::Tensor ns = (Hf * net_->item_rows(b[2])).sum(1);
      return ((torch::softplus(-ps) + torch::softplus(ns)) * valid).sum() / valid.sum();
    };
    return {*net_, static_cast<int64_t>(seq_ids_.size()), make_batch, loss};
  }

  // Ranking distillation's view (SASRec -> SASRec): one sample per training position with at least
  // one item before it, its last max_len items as the input, the session vector scored against the
  // requested items (the sigmoid loss on sampled items, not the model's own full-sequence loss).
 public:
  SampledItemTask sampled_item_task(const data::Dataset& d, const Config& c) override {
    samples_ = data::make_next_item_samples(d.train, /*min_context=*/1);
    sampler_ = std::make_unique<data::NegativeSampler>(d.train, n_items_, c.boolean("train.neg_exclude_history"));
    log_info("sasrec: {} prefix samples scored on sampled items", samples_.size());
    SampledItemTask t = SampledItemTask::over(*net_, d, samples_, *sampler_);
    auto inputs = [this, train = &d.train](const int64_t* ids, size_t n) {
      std::vector<data::ItemSpan> spans;
      for (size_t b = 0; b < n; ++b) {
        const int64_t p = samples_.pos[ids[b]], start = train->offsets[samples_.seq[ids[b]]];
        const int64_t len = std::min<int64_t>(p - start, max_len_);
        spans.push_back({train->items.data() + p - len, static_cast<size_t>(len)});
      }
      return pad_batch(spans);
    };
    t.make_batch = [inputs](const int64_t* ids, size_t n, const std::vector<int64_t>& items, int64_t m) {
      auto [seq, lengths] = inputs(ids, n);
      return train::Batch{seq, lengths, int64_tensor(items, {static_cast<int64_t>(n), m})};
    };
    t.scores = [this](const train::Batch& b, int64_t with_grad) {
      torch::Tensor s = net_->encode(b[0], b[1]);  // [B,d]
      return scores_with_grad_prefix(b[2].size(1), with_grad, [&](int64_t begin, int64_t end) {
        return (net_->item_rows(b[2].slice(1, begin, end)) * s.unsqueeze(1)).sum(2);  // [B,M]
      });
    };
    t.score_all = [this, inputs](const int64_t* ids, size_t n) {
      torch::NoGradGuard g;
      net_->eval();  // as in make_scorer: training switches back to train() each epoch
      auto [seq, lengths] = inputs(ids, n);
      torch::Tensor table = net_->item_table();
      return torch::matmul(net_->encode(seq, lengths, net_->item_rows(seq, table)), table.t());
    };
    return t;
  }

 private:
  int64_t n_items_, dim_, max_len_;
  bool odrec_, bce_ = false;
  mutable SasNet net_{nullptr};  // scoring runs the (stateless) forward from const methods
  data::SampleIndex samples_;
  std::vector<int32_t> seq_ids_;
  std::unique_ptr<data::NegativeSampler> sampler_;
};

}  // namespace

void register_sasrec(ModelRegistry& registry) {
  registry.add({"sasrec", "SASRec (Kang & McAuley, ICDM'18): causal self-attention with learned positions; "
                          "model.sasrec_variant=odrec gives the OD-Rec teacher (post-LN, soft-attention readout).",
                [](const Config& c, const data::Dataset& d) { return std::make_unique<SasRecModel>(c, d); }});
}

}  // namespace pocketrec::models
