// Fossil (He & McAuley, ICDM'16; spec: docs/design/rankdistill.md §6): FISM similarity over the user's whole
// training history plus an order-L Markov chain with global and per-user weights:
//   score(u, t, i) = beta_i + < |I_u \ {i}|^-alpha * sum_{j in I_u \ {i}} P_j
//                              + sum_{k=1..L} (eta_k + eta^u_k) * P_{s_{t-k}} ,  Q_i >
// As in He's C++, the candidate itself is left out of both sums. Trained like Caser in RD: sigmoid
// loss on the target plus sampled negatives. Full ranking is one matrix-vector product per user:
// for every item outside the history the user vector is the same (items inside it are masked).
// #params = 2*I*d + I + L + U*L (no padding row: missing Markov-chain steps have weight 0).
#include <algorithm>
#include <cmath>

#include "core/log.h"
#include "data/negative_sampler.h"
#include "data/samples.h"
#include "eval/dot_scorer.h"
#include "models/exportable.h"
#include "models/sampled_item_task.h"
#include "models/torch_model.h"
#include "models/torch_models.h"

namespace pocketrec::models {
namespace {

struct FossilNetImpl : torch::nn::Module {
  FossilNetImpl(int64_t n_users, int64_t n_items, int64_t d, int64_t L, double init_std) {
    P = register_module("P", torch::nn::Embedding(n_items, d));
    Q = register_module("Q", torch::nn::Embedding(n_items, d));
    beta = register_module("beta", torch::nn::Embedding(n_items, 1));
    eta = register_parameter("eta", torch::zeros({L}));
    eta_u = register_module("eta_u", torch::nn::Embedding(n_users, L));
    torch::NoGradGuard g;
    torch::nn::init::normal_(P->weight, 0.0, init_std);
    torch::nn::init::normal_(Q->weight, 0.0, init_std);
    torch::nn::init::zeros_(beta->weight);
    torch::nn::init::zeros_(eta_u->weight);
  }
  torch::nn::Embedding P{nullptr}, Q{nullptr}, beta{nullptr}, eta_u{nullptr};
  torch::Tensor eta;
};
TORCH_MODULE(FossilNet);

class FossilModel : public TorchModel, public SampledItemModel, public ExportableModel {
 public:
  FossilModel(const ModelOptions& o, const data::Dataset& d)
      : n_items_(d.n_items),
        n_users_(d.n_users),
        L_(o.fossil.window),
        dim_(o.dim),
        alpha_(o.fossil.alpha),
        sampling_(o.sampling) {
    PR_CHECK(d.has_users, ErrorCode::kInvalidArgument, "fossil needs data with users; {} is session data", d.name);
    PR_CHECK(o.loss != LossChoice::kCrossEntropy, ErrorCode::kInvalidArgument,
             "train.loss: fossil trains with the sigmoid loss on sampled negatives (bce)");
    torch::manual_seed(o.seed);
    net_ = FossilNet(n_users_, n_items_, dim_, L_, o.init_std);
  }

  // Fossil's FISM part reads the whole history: the runtime keeps up to the longest history of the
  // data (training sequences and the validation and test queries' histories).
  ExportSpec export_spec(const data::Dataset& d) const override {
    int64_t longest = L_;
    for (const data::Sequences* seqs : {&d.train, &d.valid.history, &d.test.history})
      for (size_t u = 0; u < seqs->size(); ++u) longest = std::max<int64_t>(longest, (*seqs)[u].size());
    ExportSpec s;
    s.architecture = "fossil";
    s.metadata = {
        {"fossil.dim", dim_}, {"fossil.window", L_}, {"fossil.alpha", alpha_}, {"fossil.max_history", longest}};
    s.weights = net_.ptr().get();
    s.with_users = true;
    return s;
  }

  std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset&) const override {
    auto encoder = [this](const data::EvalSet& set, const int32_t* queries, size_t n, float* out) {
      torch::NoGradGuard g;
      net_->eval();  // scoring never uses dropout (training switches back to train() each epoch)
      const int64_t B = static_cast<int64_t>(n);
      std::vector<int64_t> bag, offsets, users(n), prev(n * L_, 0);
      std::vector<float> count(n), mask(n * L_, 0.0f);
      std::vector<int32_t> distinct;
      for (size_t r = 0; r < n; ++r) {
        data::ItemSpan h = set.history[queries[r]];
        users[r] = set.users[queries[r]];
        PR_CHECK(users[r] >= 0 && users[r] < n_users_, ErrorCode::kInvalidArgument, "fossil: query {} has no user",
                 queries[r]);
        distinct.assign(h.begin(), h.end());
        std::sort(distinct.begin(), distinct.end());
        distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
        offsets.push_back(static_cast<int64_t>(bag.size()));
        bag.insert(bag.end(), distinct.begin(), distinct.end());
        count[r] = static_cast<float>(distinct.size());
        for (int64_t k = 0; k < L_ && k < static_cast<int64_t>(h.size()); ++k) {
          prev[r * L_ + k] = h[h.size() - 1 - k];
          mask[r * L_ + k] = 1.0f;
        }
      }
      torch::Tensor S = std::get<0>(torch::embedding_bag(net_->P->weight, int64_tensor(bag, {(int64_t)bag.size()}),
                                                         int64_tensor(offsets, {B}), false, /*sum=*/0));
      torch::Tensor cnt = torch::from_blob(count.data(), {B, 1}).clone();
      torch::Tensor coef = torch::where(cnt > 0, cnt.pow(-alpha_), torch::zeros_like(cnt));
      torch::Tensor w = (net_->eta.unsqueeze(0) + net_->eta_u->forward(int64_tensor(users, {B}))) *
                        torch::from_blob(mask.data(), {B, L_});                                    // [B,L]
      torch::Tensor mc = (w.unsqueeze(2) * net_->P->forward(int64_tensor(prev, {B, L_}))).sum(1);  // [B,d]
      torch::Tensor h = S * coef + mc;
      std::copy_n(h.contiguous().data_ptr<float>(), n * dim_, out);
    };
    return std::make_unique<eval::DotProductScorer>(to_float_vector(net_->Q->weight),
                                                    to_float_vector(net_->beta->weight.view(-1)), n_items_,
                                                    static_cast<int32_t>(dim_), encoder);
  }

 protected:
  const char* model_name() const override { return "fossil"; }
  torch::nn::Module& module() const override { return *net_; }

  train::TrainTask make_task(const data::Dataset& d) override {
    return sigmoid_loss_task(sampled_item_task(d), sampling_.neg_samples);
  }

 public:
  SampledItemTask sampled_item_task(const data::Dataset& d) override {
    samples_ = data::make_next_item_samples(d.train, /*min_context=*/1);
    // Its history sets are also the FISM sets I_u (the distinct training items of each user).
    sampler_ = &negative_sampler(d, sampling_);
    log_info("fossil: {} training positions, L={}", samples_.size(), L_);
    SampledItemTask t = SampledItemTask::over(*net_, d, samples_, *sampler_, sampling_.neg_samples);
    const data::Sequences* train = &d.train;
    t.make_batch = [this, train](const int64_t* ids, size_t n, const std::vector<int64_t>& cand, int64_t M) {
      const int64_t B = static_cast<int64_t>(n);
      UserSide h = user_side(*train, ids, n);
      std::vector<float> member(n * M), mask(n * L_ * M, 0.0f);
      for (size_t b = 0; b < n; ++b) {
        for (int64_t m = 0; m < M; ++m)
          member[b * M + m] =
              sampler_->excluded(static_cast<int32_t>(h.users[b]), static_cast<int32_t>(cand[b * M + m]));
        // A previous item equal to the candidate is skipped (He's C++).
        for (int64_t k = 0; k < h.n_prev[b]; ++k)
          for (int64_t m = 0; m < M; ++m) mask[(b * M + m) * L_ + k] = h.prev[b * L_ + k] != cand[b * M + m];
      }
      return train::Batch{int64_tensor(cand, {B, M}),
                          int64_tensor(h.bag, {static_cast<int64_t>(h.bag.size())}),
                          int64_tensor(h.offsets, {B}),
                          torch::from_blob(member.data(), {B, M, 1}).clone(),
                          torch::from_blob(h.count.data(), {B, 1, 1}).clone(),
                          int64_tensor(h.users, {B}),
                          torch::from_blob(mask.data(), {B, M, L_}).clone(),
                          int64_tensor(h.prev, {B, L_})};
    };
    t.scores = [this](const train::Batch& b, int64_t with_grad) {
      torch::Tensor S = std::get<0>(torch::embedding_bag(net_->P->weight, b[1], b[2], false, /*sum=*/0));  // [B,d]
      torch::Tensor w = net_->eta.unsqueeze(0) + net_->eta_u->forward(b[5]);                               // [B,L]
      torch::Tensor prev = net_->P->forward(b[7]);                                                         // [B,L,d]
      return scores_with_grad_prefix(b[0].size(1), with_grad, [&](int64_t begin, int64_t end) {
        torch::Tensor C = b[0].slice(1, begin, end), mem = b[3].slice(1, begin, end);
        torch::Tensor cnt = b[4] - mem;  // |I_u \ {c}|
        torch::Tensor coef = torch::where(cnt > 0, cnt.clamp_min(1).pow(-alpha_), torch::zeros_like(cnt));
        torch::Tensor fism = (S.unsqueeze(1) - mem * net_->P->forward(C)) * coef;               // [B,M,d]
        torch::Tensor mc = torch::matmul(w.unsqueeze(1) * b[6].slice(1, begin, end), prev);     // [B,M,d]
        return ((fism + mc) * net_->Q->forward(C)).sum(2) + net_->beta->forward(C).squeeze(2);  // [B,M]
      });
    };
    // Every item at once: the user vector without the candidate exclusions, exact for every item
    // outside the user's training history (the ones a teacher's top-K keeps by default).
    t.score_all = [this, train](const int64_t* ids, size_t n) {
      torch::NoGradGuard g;
      const int64_t B = static_cast<int64_t>(n);
      UserSide h = user_side(*train, ids, n);
      std::vector<float> coef(n), mask(n * L_, 0.0f);
      for (size_t b = 0; b < n; ++b) {
        coef[b] = std::pow(h.count[b], static_cast<float>(-alpha_));
        std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(b * L_), h.n_prev[b], 1.0f);
      }
      torch::Tensor S =
          std::get<0>(torch::embedding_bag(net_->P->weight, int64_tensor(h.bag, {static_cast<int64_t>(h.bag.size())}),
                                           int64_tensor(h.offsets, {B}), false, /*sum=*/0));
      torch::Tensor w = (net_->eta.unsqueeze(0) + net_->eta_u->forward(int64_tensor(h.users, {B}))) *
                        torch::from_blob(mask.data(), {B, L_});                                      // [B,L]
      torch::Tensor mc = (w.unsqueeze(2) * net_->P->forward(int64_tensor(h.prev, {B, L_}))).sum(1);  // [B,d]
      torch::Tensor user_vec = S * torch::from_blob(coef.data(), {B, 1}) + mc;
      return torch::addmm(net_->beta->weight.view({1, -1}), user_vec, net_->Q->weight.t());
    };
    return t;
  }

 private:
  // The user side of samples ids[0..n): the FISM bag I_u (offsets per row) and its size, the user,
  // and the up to L previous items (most recent first, n_prev of them, zero-padded).
  struct UserSide {
    std::vector<int64_t> bag, offsets, users, prev, n_prev;
    std::vector<float> count;
  };
  UserSide user_side(const data::Sequences& train, const int64_t* ids, size_t n) const {
    UserSide h{{},
               {},
               std::vector<int64_t>(n),
               std::vector<int64_t>(n * L_, 0),
               std::vector<int64_t>(n, 0),
               std::vector<float>(n)};
    for (size_t b = 0; b < n; ++b) {
      const int32_t u = samples_.seq[ids[b]];
      const int64_t p = samples_.pos[ids[b]], start = train.offsets[u];
      h.users[b] = u;
      h.offsets.push_back(static_cast<int64_t>(h.bag.size()));
      data::ItemSpan I_u = sampler_->history_set(u);
      h.bag.insert(h.bag.end(), I_u.begin(), I_u.end());
      h.count[b] = static_cast<float>(I_u.size());
      h.n_prev[b] = std::min<int64_t>(L_, p - start);
      for (int64_t k = 0; k < h.n_prev[b]; ++k) h.prev[b * L_ + k] = train.items[p - 1 - k];
    }
    return h;
  }

  int64_t n_items_, n_users_, L_, dim_;
  double alpha_;
  SamplingOptions sampling_;
  mutable FossilNet net_{nullptr};  // scoring runs the (stateless) forward from const methods
  data::SampleIndex samples_;
  const data::NegativeSampler* sampler_ = nullptr;  // the base's, once sampled_item_task() ran
};

}  // namespace

void register_fossil(ModelRegistry& registry) {
  add_model<FossilModel>(registry, "fossil",
                         "Fossil (He & McAuley, ICDM'16): FISM similarity over the history plus an order-L Markov "
                         "chain with global and per-user weights; sigmoid loss on sampled negatives.");
}

}  // namespace pocketrec::models
