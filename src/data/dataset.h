// The split dataset every model and the evaluator work on.
//
// Item ids are dense 0..n_items-1 (no padding id: models that need one add it themselves). Users
// are 0..n_users-1 and train[u] is user u's chronological training sequence; under the session
// protocol there are no users and train holds one sequence per training session.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/id_map.h"
#include "data/sequences.h"

namespace pocketrec::data {

// Evaluation queries: query q has a user (or -1), a chronological history (model input and, when
// the protocol masks, the items excluded from its ranking) and a set of distinct target items.
struct EvalSet {
  std::vector<int32_t> users;
  Sequences history;
  Sequences targets;
  size_t size() const { return targets.size(); }
};

struct Dataset {
  std::string name;  // e.g. "foursquare-nyc-2k"
  IdMap user_ids, item_ids;
  int32_t n_users = 0, n_items = 0;
  bool has_users = true;
  Sequences train;
  EvalSet valid, test;
};

// Per-user chronological sequences after loading and filtering, before splitting.
struct UserSequences {
  IdMap users, items;
  Sequences seqs;  // seqs[u]
};

// Where the interactions come from and which are kept (the data.* keys).
struct DataOptions {
  std::string path;  // file or folder, resolved against the data root
  std::string format = "auto";
  std::string columns = "user item rating timestamp";
  double min_rating = 0;
  std::string dedup = "none";  // none | first
  int64_t user_core = 0, item_core = 0;
};

// How train / validation / test are formed (the split.* keys).
struct SplitOptions {
  std::string method = "temporal_ratio";  // temporal_ratio | leave_one_out | given
  std::vector<double> ratios = {0.7, 0.1, 0.2};
  std::string valid_source = "last";  // last | random
  double valid_fraction = 0.1;
  uint64_t seed = 2024;
  // The validation part stays in training and there are no validation queries; training and test
  // are otherwise those of the split (train.refit trains the selected model again on them).
  bool fold_validation = false;
};

// Loads data.path in data.format, applies the filters and the split protocol. Logs every drop
// (with counts) so nothing is discarded silently.
Dataset build_dataset(const DataOptions& data, const SplitOptions& split);

// ---- building blocks (filters.cpp, splits.cpp) ----
struct InteractionTable;
// Groups interactions by user (users in id order), each user's items ordered by timestamp when the
// table has one (ties keep file order), else by file order. Rows with keep[i] == false are skipped.
UserSequences group_by_user(const InteractionTable& table, const std::vector<bool>* keep = nullptr);
// Keeps only the first occurrence of each (user, item) pair. Returns the number removed.
int64_t dedup_first(UserSequences& data);
// Iterated k-core: removes users with < user_k and items with < item_k interactions until stable,
// then renumbers the survivors densely (first-appearance order is kept). Returns removed count.
int64_t k_core(UserSequences& data, int64_t user_k, int64_t item_k);

// With fold_validation, each user's validation items stay in its training sequence (see SplitOptions).
Dataset split_temporal_ratio(UserSequences data, double train, double valid, double test, bool fold_validation = false);
Dataset split_leave_one_out(UserSequences data, bool fold_validation = false);
// train and test share id maps (test users must exist in train); validation = the last (or a seeded
// random) valid_fraction of each user's training interactions.
Dataset split_given_users(UserSequences train, const Sequences& test, const std::string& valid_source,
                          double valid_fraction, uint64_t seed);
struct SessionData;
// Session protocol: carve validation sessions out of training, prefix-expand them into samples.
Dataset split_sessions(SessionData data, const std::string& valid_source, double valid_fraction, uint64_t seed);

}  // namespace pocketrec::data
