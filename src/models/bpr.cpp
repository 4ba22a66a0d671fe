// BPR-MF (Rendle et al., UAI'09): score(q, i) = <p_q, e_i>, trained on
//   L = -mean log sigmoid(score(q, pos) - score(q, neg))
// with uniformly sampled negatives. The query factor p_q is a learned user factor, or, for
// session data without users, the mean of the history's item factors (how GRU4Rec, ICLR'16,
// applies BPR-MF to sessions); then every prefix of a training session predicts its next item.
#include "core/log.h"
#include "data/negative_sampler.h"
#include "data/samples.h"
#include "eval/dot_scorer.h"
#include "models/torch_model.h"
#include "models/torch_models.h"

namespace pocketrec::models {
namespace {

struct BprNetImpl : torch::nn::Module {
  // n_users = 0: no user table (mean-of-items queries).
  BprNetImpl(int64_t n_users, int64_t n_items, int64_t dim, double init_std) {
    items = register_module("items", torch::nn::Embedding(n_items, dim));
    torch::NoGradGuard g;
    torch::nn::init::normal_(items->weight, 0.0, init_std);
    if (n_users > 0) {
      users = register_module("users", torch::nn::Embedding(n_users, dim));
      torch::nn::init::normal_(users->weight, 0.0, init_std);
    }
  }
  torch::nn::Embedding users{nullptr}, items{nullptr};
};
TORCH_MODULE(BprNet);

class BprModel : public TorchModel {
 public:
  BprModel(const ModelOptions& o, const data::Dataset& d)
      : n_users_(d.has_users ? d.n_users : 0), n_items_(d.n_items), dim_(o.dim), sampling_(o.sampling) {
    mean_items_ = o.bpr.query == "mean_items" || (o.bpr.query == "auto" && !d.has_users);
    PR_CHECK(mean_items_ || d.has_users, ErrorCode::kInvalidArgument,
             "model.bpr_query: 'user' needs data with users, but {} is session data", d.name);
    PR_CHECK(o.loss != LossChoice::kCrossEntropy, ErrorCode::kInvalidArgument,
             "train.loss: bpr trains with its pairwise loss");
    torch::manual_seed(o.seed);
    net_ = BprNet(mean_items_ ? 0 : n_users_, n_items_, dim_, o.init_std);
  }

  std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset&) const override {
    auto encoder = [this](const data::EvalSet& set, const int32_t* queries, size_t n, float* out) {
      torch::NoGradGuard g;
      net_->eval();  // scoring never uses dropout (training switches back to train() each epoch)
      if (mean_items_) {
        std::vector<int64_t> items, offsets;
        for (size_t r = 0; r < n; ++r) {
          offsets.push_back(static_cast<int64_t>(items.size()));
          for (int32_t i : set.history[queries[r]]) items.push_back(i);
        }
        torch::Tensor q = mean_item_factors(int64_tensor(items, {static_cast<int64_t>(items.size())}),
                                            int64_tensor(offsets, {static_cast<int64_t>(offsets.size())}));
        std::copy_n(q.contiguous().data_ptr<float>(), n * dim_, out);
        return;
      }
      const float* w = net_->users->weight.data_ptr<float>();
      for (size_t r = 0; r < n; ++r) {
        const int32_t u = set.users[queries[r]];
        PR_CHECK(u >= 0 && u < n_users_, ErrorCode::kInvalidArgument, "bpr: query {} has no known user", queries[r]);
        std::copy_n(w + static_cast<int64_t>(u) * dim_, dim_, out + r * dim_);
      }
    };
    return std::make_unique<eval::DotProductScorer>(to_float_vector(net_->items->weight), std::vector<float>{},
                                                    n_items_, static_cast<int32_t>(dim_), encoder);
  }

 protected:
  const char* model_name() const override { return "bpr"; }
  torch::nn::Module& module() const override { return *net_; }

  train::TrainTask make_task(const data::Dataset& d) override {
    // User mode: every training interaction; mean-items mode: every prefix -> next item.
    samples_ = data::make_next_item_samples(d.train, mean_items_ ? 1 : 0);
    const data::NegativeSampler* sampler = &negative_sampler(d, sampling_);
    const int64_t n_neg = sampling_.neg_samples;
    log_info("bpr: {} samples, {} query factors, dim {}", samples_.size(), mean_items_ ? "mean-of-items" : "user",
             dim_);
    const data::Sequences* train = &d.train;
    auto make_batch = [this, train, sampler, n_neg](const int64_t* ids, size_t n, std::mt19937_64& rng) {
      std::vector<int64_t> pos, neg, query, bag_items, bag_offsets;
      for (size_t b = 0; b < n; ++b) {
        const int64_t p = samples_.pos[ids[b]];
        const int32_t s = samples_.seq[ids[b]];
        const int32_t target = train->items[p];
        for (int64_t k = 0; k < n_neg; ++k) {
          pos.push_back(target);
          neg.push_back(sampler->sample(s, target, rng));
          if (mean_items_) {
            bag_offsets.push_back(static_cast<int64_t>(bag_items.size()));
            bag_items.insert(bag_items.end(), train->items.begin() + train->offsets[s], train->items.begin() + p);
          } else {
            query.push_back(s);
          }
        }
      }
      const int64_t m = static_cast<int64_t>(pos.size());
      train::Batch batch{int64_tensor(pos, {m}), int64_tensor(neg, {m})};
      if (mean_items_) {
        batch.push_back(int64_tensor(bag_items, {static_cast<int64_t>(bag_items.size())}));
        batch.push_back(int64_tensor(bag_offsets, {m}));
      } else {
        batch.push_back(int64_tensor(query, {m}));
      }
      return batch;
    };
    auto loss = [this](const train::Batch& b) {  // b = {pos, neg, users} or {pos, neg, bag items, bag offsets}
      torch::Tensor q = mean_items_ ? mean_item_factors(b[2], b[3]) : net_->users->forward(b[2]);
      torch::Tensor ep = net_->items->forward(b[0]), en = net_->items->forward(b[1]);
      return -torch::log_sigmoid((q * ep).sum(1) - (q * en).sum(1)).mean();
    };
    return {*net_, static_cast<int64_t>(samples_.size()), make_batch, loss};
  }

 private:
  // Mean of the item factors of each bag (an empty bag gives zeros).
  torch::Tensor mean_item_factors(const torch::Tensor& items, const torch::Tensor& offsets) const {
    return std::get<0>(
        torch::embedding_bag(net_->items->weight, items, offsets, false, /*mode=mean*/ 1, false, {}, false));
  }

  int64_t n_users_, n_items_, dim_;
  SamplingOptions sampling_;
  bool mean_items_ = false;
  mutable BprNet net_{nullptr};  // scoring runs the (stateless) forward from const methods
  data::SampleIndex samples_;
};

}  // namespace

void register_bpr(ModelRegistry& registry) {
  add_model<BprModel>(registry, "bpr",
                      "BPR-MF (Rendle et al., UAI'09): user (or mean-of-history item) factors dot item factors, "
                      "pairwise log-sigmoid loss with sampled negatives.");
}

}  // namespace pocketrec::models
