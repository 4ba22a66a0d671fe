// Caser (Tang & Wang, WSDM'18) exactly as the Ranking Distillation reference builds it
// (graytowne/rank_distill caser.py; spec: docs/design/rankdistill.md §2-§3):
//   X = E[last L items]                       (B,1,L,d)
//   o_v = conv_v(X)                           vertical conv (L x 1), nv filters, no activation
//   o_h = [max_t ac_conv(conv_h[h](X))]_h     horizontal convs of heights 1..L, nh filters each
//   z = ac_fc(fc1(dropout([o_v; o_h])))       (B,d)
//   x = [z; U[user]]                          (B,2d)
//   score(i) = W2[i] . x + b2[i]
// Loss: -sum_t log sigmoid(s_target_t) - sum_neg log(1 - sigmoid(s_neg)), summed per instance, mean
// over the batch (sigmoid_loss_task); T = model.caser_targets next items per window (the RD
// reference: T = 1; the Caser paper's skip behaviour: T > 1, n_neg negatives per target).
// Item index n_items is the padding row (RD's row 0); it is an ordinary learnable row, as in the
// reference, and is never ranked.
// #params = U*d + 3*I*d + I + (nv*L + nv) + sum_h (nh*h*d + nh) + (nv*d + nh*L)*d + d, I = n_items + 1.
#include "core/log.h"
#include "data/negative_sampler.h"
#include "data/samples.h"
#include "eval/dot_scorer.h"
#include "kernels/counter_based_dropout.h"
#include "kernels/parallel_linear.h"
#include "models/caser_convolutions.h"
#include "models/exportable.h"
#include "models/sampled_item_task.h"
#include "models/torch_model.h"
#include "models/torch_models.h"

namespace pocketrec::models {
namespace {

struct CaserNetImpl : torch::nn::Module {
  CaserNetImpl(int64_t n_users, int64_t n_rows, int64_t d, int64_t L, int64_t nv, int64_t nh, double drop)
      : d(d), L(L), nv(nv) {
    item = register_module("item", torch::nn::Embedding(n_rows, d));
    user = register_module("user", torch::nn::Embedding(n_users, d));
    conv_v = register_module("conv_v", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, nv, {L, 1})));
    conv_h = register_module("conv_h", torch::nn::ModuleList());
    for (int64_t h = 1; h <= L; ++h) conv_h->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, nh, {h, d})));
    fc1 = register_module("fc1", torch::nn::Linear(nv * d + nh * L, d));
    W2 = register_module("W2", torch::nn::Embedding(n_rows, 2 * d));
    b2 = register_module("b2", torch::nn::Embedding(n_rows, 1));
    dropout = register_module("dropout", kernels::CounterBasedDropout(drop));
    torch::NoGradGuard g;  // the reference's initialisation; convs and fc1 keep PyTorch's defaults
    torch::nn::init::normal_(item->weight, 0.0, 1.0 / d);
    torch::nn::init::normal_(user->weight, 0.0, 1.0 / d);
    torch::nn::init::normal_(W2->weight, 0.0, 1.0 / (2.0 * d));
    torch::nn::init::zeros_(b2->weight);
  }

  // seq [B, L] item ids, users [B] -> x [B, 2d]
  torch::Tensor encode(const torch::Tensor& seq, const torch::Tensor& users, const std::string& ac_conv,
                       const std::string& ac_fc) {
    // The Conv2d modules hold the filters; caser_convolutions computes both layers (faster than Conv2d).
    std::vector<torch::Tensor> weights{conv_v->weight}, biases{conv_v->bias};
    for (const auto& m : *conv_h) {
      weights.push_back(m->as<torch::nn::Conv2d>()->weight);
      biases.push_back(m->as<torch::nn::Conv2d>()->bias);
    }
    std::vector<torch::Tensor> conv = caser_convolutions(item->forward(seq), weights, biases);
    std::vector<torch::Tensor> parts{conv[0]};  // o_v [B, nv*d]
    for (size_t h = 1; h < conv.size(); ++h)
      parts.push_back(std::get<0>(activation(ac_conv, conv[h]).max(2)));  // [B,nh,L-h+1] -> [B,nh]
    // fc1 through parallel_linear: the same product, its tiles on both cores.
    const torch::Tensor h = dropout->forward(torch::cat(parts, 1));         // [B, nv*d + nh*L]
    torch::Tensor z = activation(ac_fc, kernels::parallel_linear(fc1, h));  // [B,d]
    return torch::cat({z, user->forward(users)}, 1);                        // [B,2d]
  }

  int64_t d, L, nv;
  torch::nn::Embedding item{nullptr}, user{nullptr}, W2{nullptr}, b2{nullptr};
  torch::nn::Conv2d conv_v{nullptr};
  torch::nn::ModuleList conv_h{nullptr};
  torch::nn::Linear fc1{nullptr};
  kernels::CounterBasedDropout dropout{nullptr};
};
TORCH_MODULE(CaserNet);

class CaserModel : public TorchModel, public SampledItemModel, public ExportableModel {
 public:
  CaserModel(const ModelOptions& o, const data::Dataset& d)
      : n_items_(d.n_items),
        n_users_(d.n_users),
        L_(o.caser.window),
        dim_(o.dim),
        options_(o.caser),
        sampling_(o.sampling) {
    PR_CHECK(d.has_users, ErrorCode::kInvalidArgument, "caser needs data with users; {} is session data", d.name);
    PR_CHECK(o.loss != LossChoice::kCrossEntropy, ErrorCode::kInvalidArgument,
             "train.loss: caser trains with the sigmoid loss on sampled negatives (bce)");
    activation(options_.ac_conv, torch::zeros({1}));  // validate the names now
    activation(options_.ac_fc, torch::zeros({1}));
    torch::manual_seed(o.seed);
    net_ = CaserNet(n_users_, n_items_ + 1, dim_, L_, options_.nv, options_.nh, o.dropout);
  }

  ExportSpec export_spec(const data::Dataset&) const override {
    ExportSpec s;
    s.architecture = "caser";
    s.metadata = {{"caser.dim", dim_},
                  {"caser.window", L_},
                  {"caser.nv", options_.nv},
                  {"caser.nh", options_.nh},
                  {"caser.ac_conv", options_.ac_conv},
                  {"caser.ac_fc", options_.ac_fc}};
    s.weights = net_.ptr().get();
    s.with_users = true;
    return s;
  }

  std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset&) const override {
    auto encoder = [this](const data::EvalSet& set, const int32_t* queries, size_t n, float* out) {
      torch::NoGradGuard g;
      net_->eval();  // scoring never uses dropout (training switches back to train() each epoch)
      std::vector<int64_t> seq(n * L_, n_items_), users(n);
      for (size_t r = 0; r < n; ++r) {
        data::ItemSpan h = set.history[queries[r]];
        users[r] = set.users[queries[r]];
        PR_CHECK(users[r] >= 0 && users[r] < n_users_, ErrorCode::kInvalidArgument, "caser: query {} has no user",
                 queries[r]);
        // The last L items, left-padded.
        for (int64_t j = 0; j < L_ && j < static_cast<int64_t>(h.size()); ++j)
          seq[r * L_ + (L_ - 1 - j)] = h[h.size() - 1 - j];
      }
      const int64_t B = static_cast<int64_t>(n);
      torch::Tensor x =
          net_->encode(int64_tensor(seq, {B, L_}), int64_tensor(users, {B}), options_.ac_conv, options_.ac_fc);
      std::copy_n(x.contiguous().data_ptr<float>(), n * 2 * dim_, out);
    };
    torch::Tensor W = net_->W2->weight.slice(0, 0, n_items_), b = net_->b2->weight.slice(0, 0, n_items_).view(-1);
    return std::make_unique<eval::DotProductScorer>(to_float_vector(W), to_float_vector(b), n_items_,
                                                    static_cast<int32_t>(2 * dim_), encoder);
  }

 protected:
  const char* model_name() const override { return "caser"; }
  torch::nn::Module& module() const override { return *net_; }

  train::TrainTask make_task(const data::Dataset& d) override {
    return sigmoid_loss_task(sampled_item_task(d), sampling_.neg_samples);
  }

 public:
  SampledItemTask sampled_item_task(const data::Dataset& d) override {
    const int64_t T = options_.targets;
    samples_ = data::make_window_samples(d.train, L_, T);
    log_info("caser: {} training windows (L={}, T={})", samples_.size(), L_, T);
    SampledItemTask t =
        SampledItemTask::over(*net_, d, samples_, negative_sampler(d, sampling_), sampling_.neg_samples);
    t.n_targets = T;
    // Inputs of a batch: the windows and users of the samples.
    auto inputs = [this, train = &d.train](const int64_t* ids, size_t n) {
      const int64_t B = static_cast<int64_t>(n);
      std::vector<int64_t> seq(n * L_), users(n);
      for (size_t b = 0; b < n; ++b) {
        data::gather_window(*train, samples_, ids[b], L_, n_items_, seq.data() + b * L_);
        users[b] = samples_.seq[ids[b]];
      }
      return std::make_pair(int64_tensor(seq, {B, L_}), int64_tensor(users, {B}));
    };
    t.make_batch = [inputs](const int64_t* ids, size_t n, const std::vector<int64_t>& items, int64_t m) {
      auto [seq, users] = inputs(ids, n);
      return train::Batch{seq, users, int64_tensor(items, {static_cast<int64_t>(n), m})};
    };
    t.scores = [this](const train::Batch& b, int64_t with_grad) {
      torch::Tensor x = net_->encode(b[0], b[1], options_.ac_conv, options_.ac_fc);  // [B,2d]
      return scores_with_grad_prefix(b[2].size(1), with_grad, [&](int64_t begin, int64_t end) {
        torch::Tensor items = b[2].slice(1, begin, end);
        return (net_->W2->forward(items) * x.unsqueeze(1)).sum(2) + net_->b2->forward(items).squeeze(2);  // [B,M]
      });
    };
    t.score_all = [this, inputs](const int64_t* ids, size_t n) {
      torch::NoGradGuard g;
      net_->eval();  // as in make_scorer: training switches back to train() each epoch
      auto [seq, users] = inputs(ids, n);
      torch::Tensor x = net_->encode(seq, users, options_.ac_conv, options_.ac_fc);
      return torch::addmm(net_->b2->weight.slice(0, 0, n_items_).view({1, -1}), x,
                          net_->W2->weight.slice(0, 0, n_items_).t());
    };
    return t;
  }

 private:
  int64_t n_items_, n_users_, L_, dim_;
  CaserOptions options_;
  SamplingOptions sampling_;
  mutable CaserNet net_{nullptr};  // scoring runs the (stateless) forward from const methods
  data::SampleIndex samples_;
};

}  // namespace

void register_caser(ModelRegistry& registry) {
  add_model<CaserModel>(registry, "caser",
                        "Caser (Tang & Wang, WSDM'18) as in the RD reference: horizontal + vertical convolutions "
                        "over the last L items, user embedding, sigmoid loss on sampled negatives.");
}

}  // namespace pocketrec::models
