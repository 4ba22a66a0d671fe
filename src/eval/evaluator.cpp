#include "eval/evaluator.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/progress.h"
#include "eval/score_kernel.h"

namespace pocketrec::eval {

double EvalResult::get(const std::string& metric_name) const {
  for (size_t i = 0; i < metrics.size(); ++i)
    if (metrics[i].name() == metric_name) return values[i];
  PR_FAIL(ErrorCode::kInvalidArgument, "metric '{}' was not computed (add it to eval.metrics / eval.ks)", metric_name);
}

nlohmann::json EvalResult::to_json() const {
  nlohmann::json j;
  j["protocol"] = sampled ? "sampled" : "full_ranking";
  j["n_queries"] = n_queries;
  j["n_unhittable"] = n_unhittable;
  j["seconds"] = seconds;
  nlohmann::json m = nlohmann::json::object();
  for (size_t i = 0; i < metrics.size(); ++i) m[metrics[i].name()] = values[i];
  j["metrics"] = m;
  for (const Group& g : groups) {
    nlohmann::json gm = nlohmann::json::object();
    for (size_t i = 0; i < metrics.size(); ++i) gm[metrics[i].name()] = g.values[i];
    j["groups"][g.name] = {{"n_queries", g.n_queries}, {"metrics", gm}};
  }
  return j;
}

namespace {

// Does item (v, j) rank above target (s, t)? Higher score first; ties: lower id first.
inline bool beats(float v, int32_t j, float s, int32_t t) {
  return v > s || (v == s && j < t);
}

// Queries with at most this many hittable targets count with one vectorised pass per target;
// more targets use one pass that locates each item among the sorted target scores.
constexpr size_t kMaxTargetsPerPass = 8;

// Per-query state while its score chunks stream past.
struct QueryState {
  std::vector<int32_t> mask;        // sorted distinct masked items
  std::vector<int32_t> target_ids;  // hittable targets, ordered by (score, id) ascending
  std::vector<float> target_scores;
  std::vector<int64_t> above;        // per target: candidate items ranked above it
  std::vector<int64_t> beat_prefix;  // many-target path: items strictly above exactly targets [0, p)
  int64_t n_targets = 0, n_candidates = 0;
  float min_score = 0;

  bool masked(int32_t j) const { return std::binary_search(mask.begin(), mask.end(), j); }

  // One candidate item j with score v (sampled path and many-target path).
  void add(float v, int32_t j) {
    if (masked(j)) return;
    size_t p = std::lower_bound(target_scores.begin(), target_scores.end(), v) - target_scores.begin();
    ++beat_prefix[p];
    for (size_t i = p; i < target_scores.size() && target_scores[i] == v; ++i)
      if (j < target_ids[i]) ++above[i];
  }

  // A chunk of scores row[0 .. c1-c0) for items [c0, c1). Masked items are overwritten with -inf.
  void add_chunk(float* row, int32_t c0, int32_t c1, int64_t query) {
    for (auto it = std::lower_bound(mask.begin(), mask.end(), c0); it != mask.end() && *it < c1; ++it)
      row[*it - c0] = -INFINITY;
    const size_t n = static_cast<size_t>(c1 - c0);
    if (target_ids.size() > kMaxTargetsPerPass) {
      for (int32_t j = c0; j < c1; ++j) {
        const float v = row[j - c0];
        if (!(v >= min_score)) {  // most items: below every target (NaN fails too)
          if (v != v) check_nan(query, j);
          continue;
        }
        add(v, j);
      }
      return;
    }
    bool nan = false;
    for (size_t i = 0; i < target_ids.size(); ++i) {
      int64_t n_equal = 0;
      above[i] += count_greater(row, n, target_scores[i], &n_equal, &nan);
      if (n_equal > 0) {  // exact ties: the lower item id ranks first
        for (int32_t j = c0; j < std::min(c1, target_ids[i]); ++j)
          if (row[j - c0] == target_scores[i] && !masked(j)) ++above[i];
      }
    }
    if (nan)
      for (int32_t j = c0; j < c1; ++j)
        if (row[j - c0] != row[j - c0]) check_nan(query, j);
  }

  std::vector<int64_t> ranks() {
    std::vector<int64_t> r(static_cast<size_t>(n_targets), kUnranked);
    int64_t strictly_above = 0;  // many-target path: sum of beat_prefix[p] for p > i
    for (size_t i = target_ids.size(); i-- > 0;) {
      strictly_above += beat_prefix[i + 1];
      r[i] = 1 + above[i] + strictly_above;
    }
    std::sort(r.begin(), r.end());
    return r;
  }

  [[noreturn]] static void check_nan(int64_t query, int32_t item) {
    PR_FAIL(ErrorCode::kInternal, "model produced a NaN score (query {}, item {})", query, item);
  }
};

void check_finite(float v, int64_t query, int32_t item) {
  if (std::isnan(v)) QueryState::check_nan(query, item);
}

}  // namespace

std::vector<int64_t> ranks_from_scores(const float* scores, int32_t n_items, const std::vector<int32_t>& targets,
                                       const std::vector<int32_t>& mask_sorted) {
  std::vector<int64_t> ranks;
  for (int32_t t : targets) {
    if (std::binary_search(mask_sorted.begin(), mask_sorted.end(), t)) {
      ranks.push_back(kUnranked);
      continue;
    }
    int64_t r = 1;
    for (int32_t j = 0; j < n_items; ++j)
      if (j != t && !std::binary_search(mask_sorted.begin(), mask_sorted.end(), j) && beats(scores[j], j, scores[t], t))
        ++r;
    ranks.push_back(r);
  }
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

EvalResult evaluate(const data::EvalSet& set, Scorer& scorer, const EvalOptions& opt) {
  PR_CHECK(!opt.metrics.empty(), ErrorCode::kInvalidArgument, "eval.metrics: no metric selected");
  const int32_t n_items = scorer.n_items();
  const size_t n_queries = set.size();
  for (const QueryGroup& g : opt.groups)
    PR_CHECK(g.members.size() == n_queries, ErrorCode::kInvalidArgument,
             "evaluate: group '{}' has {} member flags for {} queries", g.name, g.members.size(), n_queries);
  const size_t n_metrics = opt.metrics.size();
  const size_t batch = std::max<size_t>(1, opt.batch_size);
  // Chunks are whole 16-item panels of the score kernel.
  const size_t chunk = std::max<size_t>(16, opt.item_chunk / 16 * 16);
  const int threads = opt.threads > 0 ? opt.threads : omp_get_num_procs();

  std::vector<double> per_query(n_queries * n_metrics, 0.0);
  std::vector<uint8_t> status(n_queries, 0);  // 0 skipped (no target), 1 evaluated, 2 all targets masked
  std::vector<int32_t> rows(batch);
  ProgressBar bar(opt.label, static_cast<int64_t>(n_queries), "q");
  const auto t0 = std::chrono::steady_clock::now();

  for (size_t b0 = 0; b0 < n_queries; b0 += batch) {
    const size_t n = std::min(batch, n_queries - b0);
    std::iota(rows.begin(), rows.begin() + n, static_cast<int32_t>(b0));
    scorer.prepare(set, rows.data(), n);
    std::exception_ptr error;
    std::mutex error_mu;
#pragma omp parallel num_threads(threads)
    {
      try {
        const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        const size_t r0 = n * tid / nth, r1 = n * (tid + 1) / nth;
        std::vector<QueryState> st(r1 - r0);
        std::vector<float> buf;
        float one;
        // Targets' own scores first: the chunk pass needs them to count what ranks above.
        for (size_t r = r0; r < r1; ++r) {
          const size_t q = b0 + r;
          QueryState& s = st[r - r0];
          data::ItemSpan hist = set.history[q], tg = set.targets[q];
          s.n_targets = static_cast<int64_t>(tg.size());
          if (opt.mask_history) {
            for (int32_t i : hist)
              if (i >= 0 && i < n_items) s.mask.push_back(i);
            std::sort(s.mask.begin(), s.mask.end());
            s.mask.erase(std::unique(s.mask.begin(), s.mask.end()), s.mask.end());
          }
          s.n_candidates = n_items - static_cast<int64_t>(s.mask.size());
          std::vector<std::pair<float, int32_t>> ts;
          for (int32_t t : tg) {
            PR_CHECK(t >= 0 && t < n_items, ErrorCode::kInvalidArgument, "query {}: target item {} outside [0, {})", q,
                     t, n_items);
            if (std::binary_search(s.mask.begin(), s.mask.end(), t)) continue;  // masked: never a hit
            scorer.score(r, 1, t, t + 1, &one, 1);
            check_finite(one, static_cast<int64_t>(q), t);
            ts.emplace_back(one, t);
          }
          std::sort(ts.begin(), ts.end());
          for (auto& [sc, id] : ts) s.target_scores.push_back(sc), s.target_ids.push_back(id);
          s.beat_prefix.assign(ts.size() + 1, 0);
          s.above.assign(ts.size(), 0);
          s.min_score = ts.empty() ? INFINITY : ts.front().first;
        }
        if (opt.sampled_negatives > 0) {
          for (size_t r = r0; r < r1; ++r) {
            QueryState& s = st[r - r0];
            if (s.target_ids.empty()) continue;
            // Seeded per query, so the sample never depends on batching or threads.
            std::mt19937_64 rng(opt.seed * 0x9E3779B97F4A7C15ULL + b0 + r);
            std::uniform_int_distribution<int32_t> pick(0, n_items - 1);
            std::vector<int32_t> taken;
            data::ItemSpan tg = set.targets[b0 + r];
            const int64_t available = s.n_candidates - static_cast<int64_t>(s.target_ids.size());
            const int64_t want = std::min<int64_t>(opt.sampled_negatives, std::max<int64_t>(0, available));
            while (static_cast<int64_t>(taken.size()) < want) {
              int32_t j = pick(rng);
              if (std::binary_search(s.mask.begin(), s.mask.end(), j) ||
                  std::find(tg.begin(), tg.end(), j) != tg.end() ||
                  std::find(taken.begin(), taken.end(), j) != taken.end())
                continue;
              taken.push_back(j);
              scorer.score(r, 1, j, j + 1, &one, 1);
              check_finite(one, static_cast<int64_t>(b0 + r), j);
              if (one >= s.min_score) s.add(one, j);
            }
            // Other targets rank among the candidates too.
            for (size_t i = 0; i < s.target_ids.size(); ++i) s.add(s.target_scores[i], s.target_ids[i]);
            s.n_candidates = want + static_cast<int64_t>(s.target_ids.size());
          }
        } else if (r1 > r0) {
          buf.resize((r1 - r0) * chunk);
          for (int64_t c0 = 0; c0 < n_items; c0 += static_cast<int64_t>(chunk)) {
            const int32_t c1 = static_cast<int32_t>(std::min<int64_t>(n_items, c0 + static_cast<int64_t>(chunk)));
            scorer.score(r0, r1 - r0, static_cast<int32_t>(c0), c1, buf.data(), chunk);
            for (size_t r = r0; r < r1; ++r) {
              QueryState& s = st[r - r0];
              if (s.target_ids.empty()) continue;
              s.add_chunk(buf.data() + (r - r0) * chunk, static_cast<int32_t>(c0), c1, static_cast<int64_t>(b0 + r));
            }
          }
        }
        for (size_t r = r0; r < r1; ++r) {
          const size_t q = b0 + r;
          QueryState& s = st[r - r0];
          if (s.n_targets == 0 || s.n_candidates <= 0) continue;
          status[q] = s.target_ids.empty() ? 2 : 1;
          std::vector<int64_t> ranks = s.ranks();
          for (size_t m = 0; m < n_metrics; ++m)
            per_query[q * n_metrics + m] = metric_value(opt.metrics[m], ranks, s.n_candidates);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    bar.advance(static_cast<int64_t>(n));
  }
  bar.finish();

  EvalResult res;
  res.metrics = opt.metrics;
  res.sampled = opt.sampled_negatives > 0;
  res.values.assign(n_metrics, 0.0);
  for (size_t q = 0; q < n_queries; ++q) {  // fixed summation order: deterministic
    if (status[q] == 0) continue;
    ++res.n_queries;
    res.n_unhittable += status[q] == 2;
    for (size_t m = 0; m < n_metrics; ++m) res.values[m] += per_query[q * n_metrics + m];
  }
  if (res.n_queries > 0)
    for (auto& v : res.values) v /= static_cast<double>(res.n_queries);
  for (const QueryGroup& g : opt.groups) {
    EvalResult::Group group{g.name, 0, std::vector<double>(n_metrics, 0.0)};
    for (size_t q = 0; q < n_queries; ++q) {
      if (status[q] == 0 || !g.members[q]) continue;
      ++group.n_queries;
      for (size_t m = 0; m < n_metrics; ++m) group.values[m] += per_query[q * n_metrics + m];
    }
    if (group.n_queries > 0)
      for (auto& v : group.values) v /= static_cast<double>(group.n_queries);
    res.groups.push_back(std::move(group));
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

std::vector<QueryGroup> target_item_groups(const data::EvalSet& set, const std::vector<uint8_t>& item_group,
                                           const std::vector<std::string>& names) {
  std::vector<QueryGroup> groups;
  for (size_t g = 0; g < names.size(); ++g) {
    QueryGroup group{names[g], std::vector<uint8_t>(set.size(), 0)};
    for (size_t q = 0; q < set.size(); ++q) {
      data::ItemSpan tg = set.targets[q];
      group.members[q] = !tg.empty() && std::all_of(tg.begin(), tg.end(), [&](int32_t t) {
        PR_CHECK(t >= 0 && static_cast<size_t>(t) < item_group.size(), ErrorCode::kInvalidArgument,
                 "target_item_groups: target item {} has no group ({} items grouped)", t, item_group.size());
        return item_group[t] == g;
      });
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

std::vector<QueryGroup> repeat_groups(const data::EvalSet& set) {
  QueryGroup repeat{"repeat", std::vector<uint8_t>(set.size(), 0)}, fresh{"new", std::vector<uint8_t>(set.size(), 0)};
  for (size_t q = 0; q < set.size(); ++q) {
    data::ItemSpan h = set.history[q], tg = set.targets[q];
    if (tg.empty()) continue;
    size_t n_in_history = 0;
    for (int32_t t : tg) n_in_history += std::find(h.begin(), h.end(), t) != h.end();
    repeat.members[q] = n_in_history == tg.size();
    fresh.members[q] = n_in_history == 0;
  }
  return {std::move(repeat), std::move(fresh)};
}

}  // namespace pocketrec::eval
