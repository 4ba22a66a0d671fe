// Train/validation/test protocols. Each returns a Dataset whose valid/test EvalSets hold, per
// query, the history seen before the targets and the distinct target items.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/readers.h"

namespace pocketrec::data {
namespace {

// Appends the distinct items of [b, e) in order of first appearance.
void append_distinct(Sequences& out, const int32_t* b, const int32_t* e) {
  std::vector<int32_t> seen;
  for (const int32_t* p = b; p != e; ++p)
    if (std::find(seen.begin(), seen.end(), *p) == seen.end()) seen.push_back(*p);
  out.append(seen);
}

Dataset empty_user_dataset(UserSequences& data) {
  Dataset d;
  d.user_ids = std::move(data.users);
  d.item_ids = std::move(data.items);
  d.n_users = d.user_ids.size();
  d.n_items = d.item_ids.size();
  d.has_users = true;
  return d;
}

void add_query(EvalSet& set, int32_t user, const int32_t* hist_b, const int32_t* hist_e, const int32_t* tgt_b,
               const int32_t* tgt_e) {
  if (tgt_b == tgt_e) return;
  set.users.push_back(user);
  set.history.append(hist_b, static_cast<size_t>(hist_e - hist_b));
  append_distinct(set.targets, tgt_b, tgt_e);
}

}  // namespace

Dataset split_temporal_ratio(UserSequences data, double train, double valid, double test, bool fold_validation) {
  PR_CHECK(std::abs(train + valid + test - 1.0) < 1e-6, ErrorCode::kInvalidArgument,
           "split.ratios: train + valid + test must be 1, got {} + {} + {}", train, valid, test);
  PR_CHECK(test > 0, ErrorCode::kInvalidArgument, "split.ratios: the test fraction must be > 0");
  Sequences seqs = std::move(data.seqs);
  Dataset d = empty_user_dataset(data);
  int64_t train_only = 0;
  for (size_t u = 0; u < seqs.size(); ++u) {
    const int64_t n = static_cast<int64_t>(seqs.length(u));
    const int32_t* s = seqs[u].ptr;
    // Rounded counts; a non-zero fraction always gets at least one item.
    int64_t n_test = std::max<int64_t>(1, std::lround(n * test));
    int64_t n_valid = valid > 0 ? std::max<int64_t>(1, std::lround(n * valid)) : 0;
    int64_t n_train = n - n_test - n_valid;
    if (n_train < 1) {  // too short to split: everything is training data
      d.train.append(s, n);
      ++train_only;
      continue;
    }
    d.train.append(s, fold_validation ? n_train + n_valid : n_train);
    if (!fold_validation)
      add_query(d.valid, static_cast<int32_t>(u), s, s + n_train, s + n_train, s + n_train + n_valid);
    add_query(d.test, static_cast<int32_t>(u), s, s + n_train + n_valid, s + n_train + n_valid, s + n);
  }
  if (train_only > 0) log_info("split: {} users too short to split are used for training only", train_only);
  return d;
}

Dataset split_leave_one_out(UserSequences data, bool fold_validation) {
  Sequences seqs = std::move(data.seqs);
  Dataset d = empty_user_dataset(data);
  int64_t train_only = 0;
  for (size_t u = 0; u < seqs.size(); ++u) {
    const int64_t n = static_cast<int64_t>(seqs.length(u));
    const int32_t* s = seqs[u].ptr;
    if (n < 3) {
      d.train.append(s, n);
      ++train_only;
      continue;
    }
    d.train.append(s, fold_validation ? n - 1 : n - 2);
    if (!fold_validation) add_query(d.valid, static_cast<int32_t>(u), s, s + n - 2, s + n - 2, s + n - 1);
    add_query(d.test, static_cast<int32_t>(u), s, s + n - 1, s + n - 1, s + n);
  }
  if (train_only > 0) log_info("split: {} users with < 3 interactions are used for training only", train_only);
  return d;
}

Dataset split_given_users(UserSequences train, const Sequences& test, const std::string& valid_source,
                          double valid_fraction, uint64_t seed) {
  Sequences seqs = std::move(train.seqs);
  Dataset d = empty_user_dataset(train);
  PR_ASSERT(test.size() <= seqs.size());
  std::mt19937_64 rng(seed);
  for (size_t u = 0; u < seqs.size(); ++u) {
    const int64_t n = static_cast<int64_t>(seqs.length(u));
    const int32_t* s = seqs[u].ptr;
    int64_t n_valid = (valid_fraction > 0 && n >= 2) ? std::max<int64_t>(1, std::lround(n * valid_fraction)) : 0;
    n_valid = std::min(n_valid, n - 1);
    std::vector<int32_t> tr, va;
    if (valid_source == "random") {
      std::vector<int64_t> pos(n);
      std::iota(pos.begin(), pos.end(), 0);
      std::shuffle(pos.begin(), pos.end(), rng);
      std::vector<bool> is_valid(n, false);
      for (int64_t i = 0; i < n_valid; ++i) is_valid[pos[i]] = true;
      for (int64_t i = 0; i < n; ++i) (is_valid[i] ? va : tr).push_back(s[i]);
    } else {
      tr.assign(s, s + n - n_valid);
      va.assign(s + n - n_valid, s + n);
    }
    d.train.append(tr);
    add_query(d.valid, static_cast<int32_t>(u), tr.data(), tr.data() + tr.size(), va.data(), va.data() + va.size());
    if (u < test.size()) {
      ItemSpan t = test[u];
      add_query(d.test, static_cast<int32_t>(u), s, s + n, t.begin(), t.end());
    }
  }
  return d;
}

Dataset split_sessions(SessionData data, const std::string& valid_source, double valid_fraction, uint64_t seed) {
  Dataset d;
  d.item_ids = std::move(data.items);
  d.n_items = d.item_ids.size();
  d.has_users = false;
  const size_t n = data.train.size();
  size_t n_valid = static_cast<size_t>(std::lround(static_cast<double>(n) * valid_fraction));
  PR_CHECK(n_valid < n, ErrorCode::kInvalidArgument, "split.valid_fraction {} leaves no training sessions",
           valid_fraction);
  std::vector<bool> is_valid(n, false);
  if (valid_source == "random") {
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(idx.begin(), idx.end(), rng);
    for (size_t i = 0; i < n_valid; ++i) is_valid[idx[i]] = true;
  } else {
    for (size_t i = n - n_valid; i < n; ++i) is_valid[i] = true;
  }
  for (size_t i = 0; i < n; ++i) {
    ItemSpan s = data.train[i];
    if (!is_valid[i]) {
      d.train.append(s);
      continue;
    }
    // Prefix expansion, as the test samples were built: every prefix predicts the next click.
    for (size_t j = 1; j < s.size(); ++j) add_query(d.valid, -1, s.ptr, s.ptr + j, s.ptr + j, s.ptr + j + 1);
  }
  for (size_t q = 0; q < data.test_targets.size(); ++q) {
    ItemSpan p = data.test_prefixes[q];
    add_query(d.test, -1, p.begin(), p.end(), &data.test_targets[q], &data.test_targets[q] + 1);
  }
  return d;
}

}  // namespace pocketrec::data
