#include "export/verify.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "eval/top_k.h"
#include "export/runtime_model.h"

namespace pocketrec::exporter {
namespace {

double overlap_of(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t common = 0;
  for (int32_t x : b) common += static_cast<size_t>(std::count(a.begin(), a.end(), x));
  return static_cast<double>(common) / static_cast<double>(a.size());
}

// The dataset's original (integer) ids of query q's history, as the runtime takes them.
std::vector<int64_t> original_history(const data::Dataset& d, int32_t q) {
  std::vector<int64_t> hist;
  for (int32_t item : d.test.history[q]) hist.push_back(std::stoll(d.item_ids.token(item)));
  return hist;
}

// The runtime's whole query (history in, top-20 out, the history's items excluded) on each of the
// queries, for its own user when the model has users, after one untimed pass: {p50, p99} in
// microseconds. One thread, as on a phone.
nlohmann::json time_queries(const RuntimeModel& file, const std::vector<std::vector<int64_t>>& histories,
                            const std::vector<int64_t>& users) {
  std::vector<int64_t> items(20);
  std::vector<float> scores(20);
  size_t n_out = 0;
  std::vector<double> us;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t q = 0; q < histories.size(); ++q) {
      const std::vector<int64_t>& hist = histories[q];
      if (!users.empty()) check_runtime(pocketrec_context_set_user(file.ctx, users[q]));
      const auto t0 = std::chrono::steady_clock::now();
      check_runtime(
          pocketrec_recommend(file.ctx, hist.data(), hist.size(), 20, 1, items.data(), scores.data(), &n_out));
      if (pass == 1)
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
  if (us.empty()) return nullptr;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * static_cast<double>(us.size())))];
  };
  return {{"p50", at(0.5)}, {"p99", at(0.99)}};
}

}  // namespace

nlohmann::json verify_pocket(const models::Recommender& model, const data::Dataset& d, const std::string& path,
                             size_t n_queries) {
  const size_t n = std::min(n_queries, d.test.size());
  std::vector<int32_t> queries(n);
  for (size_t i = 0; i < n; ++i) queries[i] = static_cast<int32_t>(i * d.test.size() / n);
  auto scorer = model.make_scorer(d);
  RuntimeModel file(path, POCKETREC_SCORING_AUTO), int8(path, POCKETREC_SCORING_INT8_TABLE);
  const int32_t N = d.n_items;
  std::vector<float> ref(static_cast<size_t>(N)), got(static_cast<size_t>(N)), q8(static_cast<size_t>(N));
  std::vector<std::vector<int64_t>> histories;
  std::vector<int64_t> users;  // of the queries, for models with user embeddings
  double max_diff = 0, overlap = 0, overlap8 = 0;
  size_t identical = 0, hits_ref = 0, hits_got = 0;
  auto hit = [&](int32_t q, const std::vector<int32_t>& top) {
    for (int32_t t : d.test.targets[q])
      if (std::find(top.begin(), top.end(), t) != top.end()) return true;
    return false;
  };
  const size_t batch = 256;
  for (size_t b0 = 0; b0 < n; b0 += batch) {
    const size_t nb = std::min(batch, n - b0);
    scorer->prepare(d.test, queries.data() + b0, nb);
    for (size_t r = 0; r < nb; ++r) {
      const int32_t q = queries[b0 + r];
      scorer->score(r, 1, 0, N, ref.data(), static_cast<size_t>(N));
      const std::vector<int64_t> hist = original_history(d, q);
      histories.push_back(hist);
      if (pocketrec_model_n_users(file.model) > 0) {
        const int64_t user = std::stoll(d.user_ids.token(d.test.users[q]));
        users.push_back(user);
        check_runtime(pocketrec_context_set_user(file.ctx, user));
        check_runtime(pocketrec_context_set_user(int8.ctx, user));
      }
      check_runtime(pocketrec_score_all(file.ctx, hist.data(), hist.size(), got.data()));
      check_runtime(pocketrec_score_all(int8.ctx, hist.data(), hist.size(), q8.data()));
      for (int32_t j = 0; j < N; ++j) max_diff = std::max(max_diff, static_cast<double>(std::fabs(ref[j] - got[j])));
      const auto t_ref = eval::top_k_indices(ref.data(), N, 20), t_got = eval::top_k_indices(got.data(), N, 20),
                 t_q8 = eval::top_k_indices(q8.data(), N, 20);
      identical += t_ref == t_got;
      overlap += overlap_of(t_ref, t_got);
      overlap8 += overlap_of(t_ref, t_q8);
      hits_ref += hit(q, t_ref);
      hits_got += hit(q, t_got);
    }
  }
  const nlohmann::json query_us = time_queries(file, histories, users);
  const double nd = static_cast<double>(std::max<size_t>(n, 1));
  log_info(
      "export: runtime vs LibTorch on {} test queries: max |score diff| {:.3g}, identical top-20 {}/{}, top-20 "
      "overlap {:.4f}, HR@20 {:.4f} vs {:.4f}; with the int8 table: top-20 overlap {:.4f}",
      n, max_diff, identical, n, overlap / nd, static_cast<double>(hits_got) / nd, static_cast<double>(hits_ref) / nd,
      overlap8 / nd);
  return {{"queries", n},
          {"max_abs_score_diff", max_diff},
          {"top20_identical", static_cast<double>(identical) / nd},
          {"top20_overlap", overlap / nd},
          {"int8_table_top20_overlap", overlap8 / nd},
          {"hr@20_libtorch", static_cast<double>(hits_ref) / nd},
          {"hr@20_runtime", static_cast<double>(hits_got) / nd},
          {"query_us", query_us}};
}

}  // namespace pocketrec::exporter
