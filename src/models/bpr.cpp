// BPR-MF (Rendle et al., UAI'09): score(q, i) = <p_q, e_i>, trained on
//   L = -mean log sigmoid(score(q, pos) - score(q, neg))
// with uniformly sampled negatives. The query factor p_q is a learned user factor, or, for
// session data without users, the mean of the history's item factors (how GRU4Rec, ICLR'16,
// applies BPR-MF to sessions); then every prefix of a training session predicts its next item.
#include <algorithm>

#include <torch/torch.h>

#include "core/array_archive.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "data/samples.h"
#include "eval/dot_scorer.h"
#include "models/torch_models.h"
#include "train/trainer.h"

namespace pocketrec::models {
namespace {

struct BprNetImpl : torch::nn::Module {
  BprNetImpl(int64_t n_users, int64_t n_items, int64_t dim, double init_std) {
    users = register_module("users", torch::nn::Embedding(std::max<int64_t>(1, n_users), dim));
    items = register_module("items", torch::nn::Embedding(n_items, dim));
    torch::NoGradGuard g;
    torch::nn::init::normal_(users->weight, 0.0, init_std);
    torch::nn::init::normal_(items->weight, 0.0, init_std);
  }
  torch::nn::Embedding users{nullptr}, items{nullptr};
};
TORCH_MODULE(BprNet);

std::vector<float> to_vector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().contiguous().to(torch::kFloat32);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

class BprModel : public Recommender {
 public:
  BprModel(const Config& c, const data::Dataset& d)
      : n_users_(d.has_users ? d.n_users : 0), n_items_(d.n_items), dim_(c.integer("model.dim")) {
    std::string q = c.str("model.bpr_query");
    mean_items_ = q == "mean_items" || (q == "auto" && !d.has_users);
    PR_CHECK(mean_items_ || d.has_users, ErrorCode::kInvalidArgument,
             "model.bpr_query: 'user' needs data with users, but {} is session data", d.name);
    torch::manual_seed(static_cast<uint64_t>(c.integer("train.seed")));
    net_ = BprNet(mean_items_ ? 0 : n_users_, n_items_, dim_, c.number("model.init_std"));
  }

  void fit(const data::Dataset& d, const FitContext& ctx) override {
    const Config& c = ctx.config;
    // User mode: every training interaction; mean-items mode: every prefix -> next item.
    data::SampleIndex samples = data::make_next_item_samples(d.train, mean_items_ ? 1 : 0);
    // Sorted distinct items of each training sequence: the negatives to avoid.
    data::Sequences seen;
    for (size_t s = 0; s < d.train.size(); ++s) {
      std::vector<int32_t> v(d.train[s].begin(), d.train[s].end());
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
      seen.append(v);
    }
    const bool exclude = c.boolean("train.neg_exclude_history");
    const int64_t n_neg = c.integer("train.neg_samples");
    log_info("bpr: {} samples, {} query factors, dim {}", samples.size(),
             mean_items_ ? "mean-of-items" : "user", dim_);

    std::vector<int64_t> pos, neg, query, bag_items, bag_offsets;
    train::TrainTask task{*net_, static_cast<int64_t>(samples.size()),
                          [&](const int64_t* ids, size_t n, std::mt19937_64& rng) {
      std::uniform_int_distribution<int32_t> pick(0, n_items_ - 1);
      pos.clear(), neg.clear(), query.clear(), bag_items.clear(), bag_offsets.clear();
      for (size_t b = 0; b < n; ++b) {
        const int64_t p = samples.pos[ids[b]];
        const int32_t s = samples.seq[ids[b]];
        const int32_t target = d.train.items[p];
        data::ItemSpan excl = seen[s];
        for (int64_t k = 0; k < n_neg; ++k) {
          int32_t j = pick(rng);
          for (int tries = 0; tries < 100; ++tries) {
            bool bad = j == target || (exclude && std::binary_search(excl.begin(), excl.end(), j));
            if (!bad) break;
            j = pick(rng);
          }
          pos.push_back(target);
          neg.push_back(j);
          if (mean_items_) {
            bag_offsets.push_back(static_cast<int64_t>(bag_items.size()));
            bag_items.insert(bag_items.end(), d.train.items.begin() + d.train.offsets[s], d.train.items.begin() + p);
          } else {
            query.push_back(s);
          }
        }
      }
      auto opts = torch::TensorOptions().dtype(torch::kInt64);
      torch::Tensor q = mean_items_ ? mean_item_factors(torch::from_blob(bag_items.data(), {(int64_t)bag_items.size()}, opts),
                                                        torch::from_blob(bag_offsets.data(), {(int64_t)bag_offsets.size()}, opts))
                                    : net_->users->forward(torch::from_blob(query.data(), {(int64_t)query.size()}, opts));
      torch::Tensor ep = net_->items->forward(torch::from_blob(pos.data(), {(int64_t)pos.size()}, opts));
      torch::Tensor en = net_->items->forward(torch::from_blob(neg.data(), {(int64_t)neg.size()}, opts));
      torch::Tensor diff = (q * ep).sum(1) - (q * en).sum(1);
      return -torch::log_sigmoid(diff).mean();
    }};
    summary_ = train::run_training(task, *this, ctx).to_json();
  }

  std::unique_ptr<eval::Scorer> make_scorer(const data::Dataset&) const override {
    auto encoder = [this](const data::EvalSet& set, const int32_t* queries, size_t n, float* out) {
      torch::NoGradGuard g;
      if (mean_items_) {
        std::vector<int64_t> items, offsets;
        for (size_t r = 0; r < n; ++r) {
          offsets.push_back(static_cast<int64_t>(items.size()));
          for (int32_t i : set.history[queries[r]]) items.push_back(i);
        }
        auto opts = torch::TensorOptions().dtype(torch::kInt64);
        torch::Tensor q = mean_item_factors(torch::from_blob(items.data(), {(int64_t)items.size()}, opts),
                                            torch::from_blob(offsets.data(), {(int64_t)offsets.size()}, opts));
        std::copy_n(q.contiguous().data_ptr<float>(), n * dim_, out);
        return;
      }
      const float* w = net_->users->weight.data_ptr<float>();
      for (size_t r = 0; r < n; ++r) {
        int32_t u = set.users[queries[r]];
        PR_CHECK(u >= 0 && u < n_users_, ErrorCode::kInvalidArgument, "bpr: query {} has no known user",
                 queries[r]);
        std::copy_n(w + static_cast<int64_t>(u) * dim_, dim_, out + r * dim_);
      }
    };
    return std::make_unique<eval::DotProductScorer>(to_vector(net_->items->weight), std::vector<float>{}, n_items_,
                                                    static_cast<int32_t>(dim_), encoder);
  }

  void save(const std::string& path) const override {
    ArrayArchive ar;
    ar.meta = {{"model", "bpr"}, {"dim", dim_}, {"query", mean_items_ ? "mean_items" : "user"}};
    ar.add("items", to_vector(net_->items->weight).data(), {(uint64_t)n_items_, (uint64_t)dim_});
    if (!mean_items_) ar.add("users", to_vector(net_->users->weight).data(), {(uint64_t)n_users_, (uint64_t)dim_});
    ar.save(path);
  }

  void load(const std::string& path) override {
    ArrayArchive ar = ArrayArchive::load(path);
    PR_CHECK(ar.meta.value("model", "") == "bpr", ErrorCode::kBadFormat, "{}: not a bpr model", path);
    torch::NoGradGuard g;
    auto items = ar.get_vector<float>("items", {(uint64_t)n_items_, (uint64_t)dim_});
    net_->items->weight.copy_(torch::from_blob(items.data(), {n_items_, dim_}));
    if (!mean_items_) {
      auto users = ar.get_vector<float>("users", {(uint64_t)n_users_, (uint64_t)dim_});
      net_->users->weight.copy_(torch::from_blob(users.data(), {n_users_, dim_}));
    }
  }

  int64_t n_parameters() const override {
    return (static_cast<int64_t>(n_items_) + (mean_items_ ? 0 : n_users_)) * dim_;
  }
  nlohmann::json fit_summary() const override { return summary_; }

 private:
  // Mean of the item factors of each bag (an empty bag gives zeros).
  torch::Tensor mean_item_factors(const torch::Tensor& items, const torch::Tensor& offsets) const {
    return std::get<0>(
        torch::embedding_bag(net_->items->weight, items, offsets, false, /*mode=mean*/ 1, false, {}, false));
  }

  int64_t n_users_, n_items_, dim_;
  bool mean_items_ = false;
  BprNet net_{nullptr};
  nlohmann::json summary_ = nlohmann::json::object();
};

}  // namespace

void register_torch_models(ModelRegistry& registry) {
  registry.add({"bpr", "BPR-MF (Rendle et al., UAI'09): user (or mean-of-history item) factors dot item factors, "
                       "pairwise log-sigmoid loss with sampled negatives.",
                [](const Config& c, const data::Dataset& d) { return std::make_unique<BprModel>(c, d); }});
}

}  // namespace pocketrec::models
