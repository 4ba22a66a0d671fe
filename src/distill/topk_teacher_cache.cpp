#include "distill/topk_teacher_cache.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include "core/array_archive.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "eval/top_k.h"
#include "models/torch_model.h"

namespace pocketrec::distill {

const char* exclusion_name(TopKExclusion e) {
  return e == TopKExclusion::kHistory ? "history" : "target";
}

std::string file_hash(const std::string& path) {
  const std::string bytes = read_file(path);
  return fmt::format("{:016x}", fnv1a64(bytes.data(), bytes.size()));
}

std::string samples_fingerprint(const data::Dataset& d, const models::SampledItemTask& task) {
  // One hash over the training items, then every sample's (sequence, target position) in sample
  // order: any change to the data, the samples or their order changes it.
  uint64_t h = fnv1a64(d.train.items.data(), d.train.items.size() * sizeof(int32_t));
  h = fnv1a64(d.train.offsets.data(), d.train.offsets.size() * sizeof(d.train.offsets[0]), h);
  h = fnv1a64(task.samples->seq.data(), task.samples->seq.size() * sizeof(task.samples->seq[0]), h);
  h = fnv1a64(task.samples->pos.data(), task.samples->pos.size() * sizeof(task.samples->pos[0]), h);
  return fmt::format("{} samples={} hash={:016x}", models::data_fingerprint(d), task.size(), h);
}

TopKTeacherCache TopKTeacherCache::build(const models::SampledItemTask& teacher, const TopKCacheKey& key,
                                         size_t batch) {
  PR_CHECK(key.k >= 1 && key.k < teacher.n_items, ErrorCode::kInvalidArgument,
           "distill.rd_k: {} must be between 1 and the number of items - 1 ({})", key.k, teacher.n_items - 1);
  TopKTeacherCache cache;
  cache.key_ = key;
  const int64_t n = teacher.size(), K = key.k, N = teacher.n_items;
  cache.items_.resize(static_cast<size_t>(n * K));
  std::vector<int64_t> ids(batch);
  constexpr float kExcluded = -std::numeric_limits<float>::infinity();
  ProgressBar bar("teacher top-K", n, "samples");
  for (int64_t b0 = 0; b0 < n; b0 += static_cast<int64_t>(batch)) {
    const size_t nb = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(batch), n - b0));
    std::iota(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(nb), b0);
    torch::Tensor scores = teacher.score_all(ids.data(), nb).contiguous();
    float* s = scores.data_ptr<float>();
    for (size_t r = 0; r < nb; ++r) {
      float* row = s + r * static_cast<size_t>(N);
      const int64_t id = ids[r];
      if (key.exclusion == TopKExclusion::kHistory)
        for (int32_t item : teacher.sampler->history_set(teacher.user(id))) row[item] = kExcluded;
      row[teacher.target(id)] = kExcluded;
      const std::vector<int32_t> order = eval::top_k_indices(row, static_cast<int32_t>(N), static_cast<size_t>(K));
      PR_CHECK(row[order[static_cast<size_t>(K - 1)]] > kExcluded, ErrorCode::kInvalidArgument,
               "distill.rd_k: the user of training sample {} has fewer than {} unobserved items", id, K);
      std::copy_n(order.begin(), K, cache.items_.begin() + id * K);
    }
    bar.advance(static_cast<int64_t>(nb));
  }
  return cache;
}

void TopKTeacherCache::save(const std::string& path) const {
  ArrayArchive ar;
  ar.meta = {{"kind", "topk_teacher_cache"},
             {"teacher", key_.teacher},
             {"teacher_hash", key_.teacher_hash},
             {"data_fingerprint", key_.data_fingerprint},
             {"k", key_.k},
             {"exclusion", exclusion_name(key_.exclusion)}};
  ar.add("items", items_.data(), {static_cast<uint64_t>(size()), static_cast<uint64_t>(key_.k)});
  ar.save(path);
}

TopKTeacherCache TopKTeacherCache::load(const std::string& path, const TopKCacheKey& key) {
  ArrayArchive ar = ArrayArchive::load(path);
  const nlohmann::json& m = ar.meta;
  PR_CHECK(m.value("kind", "") == "topk_teacher_cache", ErrorCode::kBadFormat, "{}: not a teacher top-K cache", path);
  auto refuse = [&](const char* what, const std::string& found, const std::string& expected) {
    PR_FAIL(ErrorCode::kInvalidArgument,
            "{}: this teacher top-K cache was built for another {} ({} instead of {}); delete it or set "
            "distill.rd_cache to another path",
            path, what, found, expected);
  };
  if (m.value("teacher_hash", "") != key.teacher_hash)
    refuse("teacher", fmt::format("weights hash {} of {}", m.value("teacher_hash", ""), m.value("teacher", "?")),
           fmt::format("{} of {}", key.teacher_hash, key.teacher));
  if (m.value("data_fingerprint", "") != key.data_fingerprint)
    refuse("training data", m.value("data_fingerprint", ""), key.data_fingerprint);
  if (m.value("k", int64_t{0}) != key.k) refuse("K", std::to_string(m.value("k", int64_t{0})), std::to_string(key.k));
  if (m.value("exclusion", "") != exclusion_name(key.exclusion))
    refuse("exclusion rule", m.value("exclusion", ""), exclusion_name(key.exclusion));
  TopKTeacherCache cache;
  cache.key_ = key;
  const NamedArray& a = ar.get("items");
  PR_CHECK(a.shape.size() == 2 && a.shape[1] == static_cast<uint64_t>(key.k), ErrorCode::kBadFormat,
           "{}: items has shape [{}], expected [n_samples, {}]", path, fmt::join(a.shape, ","), key.k);
  PR_CHECK(key.n_samples < 0 || a.shape[0] == static_cast<uint64_t>(key.n_samples), ErrorCode::kBadFormat,
           "{}: {} rows for {} training samples", path, a.shape[0], key.n_samples);
  cache.items_ = ar.get_vector<int32_t>("items", a.shape);
  if (key.n_items > 0)
    for (size_t i = 0; i < cache.items_.size(); ++i)
      PR_CHECK(cache.items_[i] >= 0 && cache.items_[i] < key.n_items, ErrorCode::kBadFormat,
               "{}: row {} holds item {}, outside [0, {})", path, i / static_cast<size_t>(key.k), cache.items_[i],
               key.n_items);
  return cache;
}

TopKTeacherCache TopKTeacherCache::load_or_build(const std::string& path, const models::SampledItemTask& teacher,
                                                 const TopKCacheKey& key) {
  if (std::filesystem::exists(path)) {
    TopKCacheKey expected = key;
    expected.n_samples = teacher.size();
    expected.n_items = teacher.n_items;
    TopKTeacherCache cache = load(path, expected);
    log_info("distill: teacher top-{} cache {} ({} samples)", key.k, path, cache.size());
    return cache;
  }
  const auto t0 = std::chrono::steady_clock::now();
  TopKTeacherCache cache = build(teacher, key);
  cache.save(path);
  log_info("distill: built the teacher top-{} cache {} ({} samples, {:.1f}s)", key.k, path, cache.size(),
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return cache;
}

}  // namespace pocketrec::distill
