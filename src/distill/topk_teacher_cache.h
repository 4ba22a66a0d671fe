// The teacher's top-K unobserved items for every training sample (Ranking Distillation,
// docs/design/rankdistill.md §4.2.2): computed once, in batches of samples scored against the whole catalogue,
// and stored on disk with the teacher's checksum and a fingerprint of the training samples, so
// every student run on the same teacher and data reuses it and any other run refuses it.
//
// "Unobserved" excludes every training item of the sample's user by default. The reference
// excludes only the sample's own target (its other training items, and the items in the input
// window, can be supervision); TopKExclusion::kTarget reproduces that (distill.rd_topk_exclusion).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/sampled_item_task.h"

namespace pocketrec::distill {

enum class TopKExclusion { kHistory, kTarget };

// What a cache was built from; a cache is used only when all of it matches.
struct TopKCacheKey {
  std::string teacher;           // the teacher's run directory (informational)
  std::string teacher_hash;      // content hash of the teacher's weights file
  std::string data_fingerprint;  // id maps, training sequences and sample index
  int64_t k = 10;
  TopKExclusion exclusion = TopKExclusion::kHistory;
  // What load() checks the rows against (not stored): the sample count and the catalogue size;
  // -1 / 0 skip the check.
  int64_t n_samples = -1;
  int32_t n_items = 0;
};

class TopKTeacherCache {
 public:
  // Scores every sample of `teacher` (batch samples at a time) and keeps its K best allowed items,
  // best first (ties: the smaller item id).
  static TopKTeacherCache build(const models::SampledItemTask& teacher, const TopKCacheKey& key, size_t batch = 256);
  // Reads `path` and checks it against `key`: a cache of another teacher, data, K or exclusion is
  // refused with an error naming the file and what differs, and so is one whose row count differs
  // from key.n_samples or that names an item outside [0, key.n_items).
  static TopKTeacherCache load(const std::string& path, const TopKCacheKey& key);
  // The cache at `path` if it exists (checked as load() does), else built and saved there.
  static TopKTeacherCache load_or_build(const std::string& path, const models::SampledItemTask& teacher,
                                        const TopKCacheKey& key);
  void save(const std::string& path) const;  // atomic

  int64_t k() const { return key_.k; }
  int64_t size() const { return static_cast<int64_t>(items_.size()) / key_.k; }
  const int32_t* row(int64_t sample) const { return items_.data() + sample * key_.k; }
  const TopKCacheKey& key() const { return key_; }

 private:
  TopKCacheKey key_;
  std::vector<int32_t> items_;  // [n_samples, K]
};

// 64-bit FNV-1a of a file's bytes, in hex: the teacher's identity in a cache key. (Not a CRC-32:
// the weights file ends with its own CRC, which makes the CRC of the whole file a constant.)
std::string file_hash(const std::string& path);
// Fingerprint of the data a sampled-item task trains on: its id maps, and one 64-bit hash of the
// training sequences and of every sample's (user, target position) in order.
std::string samples_fingerprint(const data::Dataset& data, const models::SampledItemTask& task);
const char* exclusion_name(TopKExclusion e);

}  // namespace pocketrec::distill
