// SASRec (Kang & McAuley, ICDM'18): causal self-attention over the item sequence with learned
// positions; the output at a position scores every item by a dot product with the shared item table.
//   standard  pre-LN blocks as in the reference implementations (Q = LN(x); x = Q + MHA(Q, x, x);
//             x = x + FFN(LN(x)) with ReLU; final LN), item embeddings scaled by sqrt(d); read at the
//             last position; trained sequence-to-sequence on each user's last max_len + 1 items with
//             full-softmax cross-entropy (SASRec+, Klenitskiy & Vasilev, RecSys'23) or BCE with one
//             sampled negative per position (the original).
//   odrec     the OD-Rec teacher (Xia et al., SIGIR'22; docs/design/odrec.md §1): x = Dropout(LN(E[item] + P[pos])),
//             post-LN blocks (RecBole/BERT style, GELU FFN, LN eps 1e-12), soft-attention readout
//               hs = (sum of the outputs at all max_len positions) / length,
//               a_l = w2 . sigmoid(glu1(tanh(H_l)) + glu2(hs)),   s = sum_l a_l H_l over real positions;
//             trained on every prefix -> next item with full-softmax cross-entropy, U(-0.1, 0.1) init of
//             every parameter, LayerNorm gamma/beta included, as in the reference.
//             hs sums padded positions too, as the reference does: a padded query attends to every real
//             item, so those rows carry whole-session summaries into the gate. The reference pads to
//             the batch's longest prefix, which makes a session's score depend on its batch
//             (docs/design/odrec.md §8.5); we always pad to model.max_len, so scores never depend on
//             the batch.
//             With model.item_table = stt this is the OD-Rec student (semi-tensor-train item table).
// Sequences are right-padded (padding id = n_items); position 0 is the first item; attention is
// causal and ignores padded keys, so no row is ever fully masked.
#include <algorithm>
#include <cmath>
#include <optional>

#include "compress/item_order.h"
#include "core/log.h"
#include "data/samples.h"
#include "eval/dot_scorer.h"
#include "kernels/full_softmax_cross_entropy.h"
#include "models/exportable.h"
#include "models/sampled_item_task.h"
#include "models/sasrec_network.h"
#include "models/session_encoder.h"
#include "models/torch_model.h"
#include "models/torch_models.h"

namespace pocketrec::models {
namespace {

// The item table's semi-tensor-train shape of the options, or nullopt for a dense table.
std::optional<compress::SttShape> stt_shape_of(const ItemTableOptions& t, int64_t n_items, int64_t d) {
  if (t.kind != ItemTableKind::kStt) return std::nullopt;
  const SttTableOptions& o = t.stt;
  compress::SttShape shape;
  if (o.items.empty() && o.dims.empty()) {
    shape = compress::SttShape::choose(n_items, d, o.rank, o.t, static_cast<size_t>(o.n_cores), o.layout);
  } else {
    shape = compress::SttShape{o.items, o.dims, o.rank, o.t, o.layout};
    shape.validate(n_items, d, "model.stt_items / model.stt_dims");
  }
  const int64_t dense = shape.n_rows() * d;
  log_info("sasrec: STT item table {}: {} parameters for a {} x {} table (dense: {}, {:.2f}x smaller)",
           shape.to_string(), shape.n_parameters(), shape.n_rows(), d, dense,
           static_cast<double>(dense) / static_cast<double>(shape.n_parameters()));
  return shape;
}

// The item table's product-quantised shape of the options, or nullopt.
std::optional<compress::PqShape> pq_shape_of(const ItemTableOptions& t, int64_t n_items, int64_t d) {
  if (t.kind != ItemTableKind::kPq) return std::nullopt;
  PR_CHECK(!t.pq.rotation || t.pq.codes == PqCodeSource::kTeacher, ErrorCode::kInvalidArgument,
           "model.pq_rotation: a rotation is learned with teacher codes (model.pq_codes=teacher)");
  compress::PqShape shape{n_items, d, t.pq.subspaces, t.pq.codewords, t.pq.rotation};
  shape.validate("model.pq_subspaces / model.pq_codewords");
  const int64_t dense_bytes = 4 * (n_items + 1) * d, bytes = 4 * shape.n_parameters() + shape.code_bytes();
  log_info("sasrec: PQ item table {}: {} floats and {} code bytes, {} bytes (dense fp32 table: {}, {:.2f}x smaller)",
           shape.to_string(), shape.n_parameters(), shape.code_bytes(), bytes, dense_bytes,
           static_cast<double>(dense_bytes) / static_cast<double>(bytes));
  return shape;
}

class SasRecModel : public TorchModel, public SessionEncoder, public SampledItemModel, public ExportableModel {
 public:
  SasRecModel(const ModelOptions& o, const data::Dataset& d)
      : n_items_(d.n_items), dim_(o.dim), max_len_(o.sasrec.max_len), options_(o.sasrec), sampling_(o.sampling) {
    odrec_ = options_.odrec;
    bce_ = o.loss == LossChoice::kBce;
    PR_CHECK(!(odrec_ && bce_), ErrorCode::kInvalidArgument, "train.loss: the odrec variant trains with ce");
    PR_CHECK(dim_ % options_.heads == 0, ErrorCode::kInvalidArgument, "model.heads: {} does not divide model.dim {}",
             options_.heads, dim_);
    const std::optional<compress::SttShape> stt = stt_shape_of(options_.table, n_items_, dim_);
    const std::optional<compress::PqShape> pq = pq_shape_of(options_.table, n_items_, dim_);
    torch::manual_seed(o.seed);
    net_ = SasNet(n_items_, dim_, max_len_, options_.layers, options_.heads, options_.inner > 0 ? options_.inner : dim_,
                  o.dropout, odrec_, stt, stt && options_.table.stt.teacher_order, pq);
    // Codes that need no teacher are assigned now, from their own generators (the model's
    // initialisation above is unchanged by them).
    if (pq && options_.table.pq.codes == PqCodeSource::kSvd)
      net_->pq_item->assign(compress::pq_from_svd(d.train, *pq, o.init_std, o.seed));
    if (pq && options_.table.pq.codes == PqCodeSource::kRandom)
      net_->pq_item->assign(compress::pq_random(*pq, o.init_std, o.seed));
  }

  // ---- SessionEncoder ----
  torch::Tensor item_rows(const torch::Tensor& ids, const torch::Tensor& table) override {
    return net_->item_rows(ids, table);
  }
  torch::Tensor session_vectors(const torch::Tensor& seq, const torch::Tensor& lengths,
                                const torch::Tensor& rows) override {
    return net_->encode(seq, lengths, rows);
  }
  torch::Tensor item_table() override { return net_->item_table(); }
  int64_t dim() const override { return dim_; }
  torch::nn::Module& encoder_module() override { return *net_; }
  ItemTableSize item_table_size() const override {
    if (net_->item)
      return {net_->item->weight.numel(), 0, fmt::format("dense {} x {}", net_->item->weight.size(0), dim_)};
    if (net_->pq_item) {
      const compress::PqShape& s = net_->pq_item->shape();
      return {s.n_parameters(), s.code_bytes(), s.to_string()};
    }
    const compress::SttShape& s = net_->stt_item->shape();
    return {s.n_parameters(), net_->stt_item->ordered() ? 8 * s.n_rows() : 0, "stt " + s.to_string()};
  }
  bool item_table_needs_teacher() const override {
    return (net_->stt_item && net_->stt_item->ordered()) ||
           (net_->pq_item && options_.table.pq.codes == PqCodeSource::kTeacher);
  }
  void init_item_table_from(SessionEncoder& teacher, uint64_t seed) override {
    if (!item_table_needs_teacher()) return;
    torch::Tensor table;
    {
      torch::NoGradGuard g;
      table = teacher.item_table();
    }
    if (net_->pq_item) {
      const compress::PqCodes codes = compress::pq_from_table(
          table, net_->pq_item->shape(), static_cast<int>(options_.table.pq.kmeans_iterations), seed);
      net_->pq_item->assign(codes);
      log_info("sasrec: PQ codes from the teacher's table ({}): relative squared error {:.4f}",
               net_->pq_item->shape().to_string(), codes.distortion);
      return;
    }
    const compress::ItemOrder order = compress::teacher_guided_item_order(table, net_->stt_item->shape(), seed);
    net_->stt_item->set_item_order(order.slot_of_item);
    log_info(
        "sasrec: STT item order from the teacher's table: group + position means explain {:.1f}% of its "
        "variance (id order: {:.1f}%)",
        100 * order.explained, 100 * order.explained_identity);
  }

  // ---- ExportableModel ----
  ExportSpec export_spec(const data::Dataset&) const override {
    ExportSpec s;
    s.architecture = odrec_ ? "sasrec-odrec" : "sasrec";
    s.metadata = {{"sasrec.dim", dim_},
                  {"sasrec.max_len", max_len_},
                  {"sasrec.layers", options_.layers},
                  {"sasrec.heads", options_.heads},
                  {"sasrec.inner", options_.inner > 0 ? options_.inner : dim_},
                  {"sasrec.item_table", net_->stt_item  ? "stt"
                                        : net_->pq_item ? "pq"
                                                        : "dense"}};
    if (net_->pq_item) add_pq_export(s);
    if (net_->stt_item) {
      const compress::SttShape& shape = net_->stt_item->shape();
      PR_CHECK(shape.n_cores() == 2 && shape.layout == compress::SttLayout::kCanonical, ErrorCode::kInvalidArgument,
               "export: the runtime reads STT item tables of 2 cores in the canonical layout, this one is {}",
               shape.to_string());
      s.metadata["stt.items"] = shape.items;
      s.metadata["stt.dims"] = shape.dims;
      s.metadata["stt.rank"] = shape.rank;
      s.metadata["stt.t"] = shape.t;
      s.metadata["stt.layout"] = "canonical";
      if (net_->stt_item->ordered()) {
        const torch::Tensor slots = net_->stt_item->slot_of_item().contiguous();
        s.int64_tensors.emplace_back(
            "stt_item.slot_of_item",
            std::vector<int64_t>(slots.data_ptr<int64_t>(), slots.data_ptr<int64_t>() + slots.numel()));
      }
    }
    s.weights = net_.ptr().get();
    return s;
  }

  // PQ metadata, the codes as bytes and the fixed rotation (docs/format.md); the codebooks are a
  // parameter and go with the weights.
  void add_pq_export(ExportSpec& s) const {
    const compress::PqShape& shape = net_->pq_item->shape();
    s.metadata["pq.subspaces"] = shape.subspaces;
    s.metadata["pq.codewords"] = shape.codewords;
    s.metadata["pq.rotation"] = shape.rotation ? 1 : 0;
    const torch::Tensor codes = net_->pq_item->codes().to(torch::kUInt8).contiguous();
    s.u8_tensors.push_back(
        {"pq_item.codes",
         {static_cast<uint64_t>(shape.n_rows), static_cast<uint64_t>(shape.subspaces)},
         std::vector<uint8_t>(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel())});
    if (shape.rotation) {
      const torch::Tensor r = net_->pq_item->rotation().contiguous();
      s.f32_tensors.push_back({"pq_item.rotation",
                               {static_cast<uint64_t>(shape.dim), static_cast<uint64_t>(shape.dim)},
                               std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel())});
    }
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
    return std::make_unique<eval::DotProductScorer>(to_float_vector(table), std::vector<float>{}, n_items_,
                                                    static_cast<int32_t>(dim_), encoder);
  }

  // Ranking distillation's view (SASRec -> SASRec): one sample per training position with at least
  // one item before it, its last max_len items as the input, the session vector scored against the
  // requested items (the sigmoid loss on sampled items, not the model's own full-sequence loss).
  SampledItemTask sampled_item_task(const data::Dataset& d) override {
    samples_ = data::make_next_item_samples(d.train, /*min_context=*/1);
    log_info("sasrec: {} prefix samples scored on sampled items", samples_.size());
    SampledItemTask t =
        SampledItemTask::over(*net_, d, samples_, negative_sampler(d, sampling_), sampling_.neg_samples);
    t.make_batch = [this, train = &d.train](const int64_t* ids, size_t n, const std::vector<int64_t>& items,
                                            int64_t m) {
      auto [seq, lengths] = prefix_batch(*train, ids, n);
      return train::Batch{seq, lengths, int64_tensor(items, {static_cast<int64_t>(n), m})};
    };
    t.scores = [this](const train::Batch& b, int64_t with_grad) {
      torch::Tensor s = net_->encode(b[0], b[1]);  // [B,d]
      return scores_with_grad_prefix(b[2].size(1), with_grad, [&](int64_t begin, int64_t end) {
        return (net_->item_rows(b[2].slice(1, begin, end)) * s.unsqueeze(1)).sum(2);  // [B,M]
      });
    };
    t.score_all = [this, train = &d.train](const int64_t* ids, size_t n) {
      torch::NoGradGuard g;
      net_->eval();  // as in make_scorer: training switches back to train() each epoch
      auto [seq, lengths] = prefix_batch(*train, ids, n);
      torch::Tensor table = net_->item_table();
      return torch::matmul(net_->encode(seq, lengths, net_->item_rows(seq, table)), table.t());
    };
    return t;
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

  // The inputs of prefix samples ids[0..n) of samples_: each sample's last max_len items before its
  // target, padded (seq [B,L], lengths [B]).
  std::pair<torch::Tensor, torch::Tensor> prefix_batch(const data::Sequences& train, const int64_t* ids,
                                                       size_t n) const {
    std::vector<data::ItemSpan> spans;
    for (size_t b = 0; b < n; ++b) {
      const int64_t p = samples_.pos[ids[b]], start = train.offsets[samples_.seq[ids[b]]];
      const int64_t len = std::min<int64_t>(p - start, max_len_);
      spans.push_back({train.items.data() + p - len, static_cast<size_t>(len)});
    }
    return pad_batch(spans);
  }

  train::TrainTask make_task(const data::Dataset& d) override { return odrec_ ? prefix_task(d) : sequence_task(d); }

  // The OD-Rec variant: every prefix -> its next item, full-softmax cross-entropy over all items.
  train::TrainTask prefix_task(const data::Dataset& d) {
    samples_ = data::make_next_item_samples(d.train, /*min_context=*/1);
    log_info("sasrec (odrec): {} prefix samples, full softmax over {} items", samples_.size(), n_items_);
    auto make_batch = [this, train = &d.train](const int64_t* ids, size_t n, std::mt19937_64&) {
      std::vector<int64_t> targets(n);
      for (size_t b = 0; b < n; ++b) targets[b] = train->items[samples_.pos[ids[b]]];
      auto [seq, lengths] = prefix_batch(*train, ids, n);
      return train::Batch{seq, lengths, int64_tensor(targets, {static_cast<int64_t>(n)})};
    };
    return {*net_, static_cast<int64_t>(samples_.size()), make_batch, [this](const train::Batch& b) {
              torch::Tensor table = net_->item_table();
              torch::Tensor sessions = net_->encode(b[0], b[1], net_->item_rows(b[0], table));
              return kernels::full_softmax_cross_entropy(sessions, table, b[2]);
            }};
  }

  // The standard variant: one sample per training sequence with >= 2 items, its last max_len + 1
  // items trained sequence to sequence.
  train::TrainTask sequence_task(const data::Dataset& d) {
    seq_ids_.clear();
    for (size_t s = 0; s < d.train.size(); ++s)
      if (d.train.length(s) >= 2) seq_ids_.push_back(static_cast<int32_t>(s));
    const data::NegativeSampler* sampler = &negative_sampler(d, sampling_);
    log_info("sasrec: {} training sequences (last {} items each), {} loss", seq_ids_.size(), max_len_ + 1,
             bce_ ? "BCE with one negative per position" : "full-softmax cross-entropy");
    auto make_batch = [this, sampler, train = &d.train](const int64_t* ids, size_t n, std::mt19937_64& rng) {
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
            negatives[b * L + j] = sampler->sample(seq_ids_[ids[b]], static_cast<int32_t>(targets[b * L + j]), rng);
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
        return kernels::full_softmax_cross_entropy(Hf.index_select(0, real), net_->item_table(),
                                                   y.index_select(0, real));
      }
      torch::Tensor ps = (Hf * net_->item_rows(y.clamp_min(0))).sum(1);
      torch::Tensor ns = (Hf * net_->item_rows(b[2])).sum(1);
      return ((torch::softplus(-ps) + torch::softplus(ns)) * valid).sum() / valid.sum();
    };
    return {*net_, static_cast<int64_t>(seq_ids_.size()), make_batch, loss};
  }

 private:
  int64_t n_items_, dim_, max_len_;
  SasRecOptions options_;
  SamplingOptions sampling_;
  bool odrec_ = false, bce_ = false;
  mutable SasNet net_{nullptr};  // scoring runs the (stateless) forward from const methods
  data::SampleIndex samples_;
  std::vector<int32_t> seq_ids_;
};

}  // namespace

void register_sasrec(ModelRegistry& registry) {
  add_model<SasRecModel>(registry, "sasrec",
                         "SASRec (Kang & McAuley, ICDM'18): causal self-attention with learned positions; "
                         "model.sasrec_variant=odrec gives the OD-Rec teacher (post-LN, soft-attention readout).");
}

}  // namespace pocketrec::models
