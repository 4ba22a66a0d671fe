#include "data/dataset.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "data/format_detect.h"
#include "data/readers.h"

namespace pocketrec::data {
namespace {

InteractionTable read_table(const DataSource& src, const std::string& columns) {
  if (src.format == "checkin") return read_checkins(src.path);
  if (src.format == "inter") return read_inter(src.path);
  if (src.format == "sequence") return read_user_sequences(src.path);
  return read_triplets(src.path, columns);
}

void log_eval_sizes(const Dataset& d) {
  log_info("data: {} {}, {} items, {} training interactions; {} validation and {} test queries",
           d.has_users ? d.n_users : static_cast<int64_t>(d.train.size()), d.has_users ? "users" : "training sessions",
           d.n_items, d.train.total(), d.valid.size(), d.test.size());
}

}  // namespace

Dataset build_dataset(const DataOptions& data, const SplitOptions& split) {
  const std::string& path = data.path;
  DataSource src = resolve_data_source(path, data.format);
  const std::string& method = split.method;
  const bool filtered = data.user_core > 1 || data.item_core > 1 || data.dedup != "none" || data.min_rating > 0;
  Dataset d;
  if (src.format == "session" || src.format == "presplit") {
    PR_CHECK(method == "given", ErrorCode::kInvalidArgument,
             "split.method: '{}' data ({}) comes split into train and test; use split.method=given", src.format, path);
    PR_CHECK(!filtered, ErrorCode::kInvalidArgument,
             "data filters (min_rating, dedup, user_core, item_core) are not supported on pre-split '{}' data",
             src.format);
  }
  log_info("data: reading {} ({} format)", src.path, src.format);
  // The given splits carve validation out of training by a fraction: none, when it is folded back.
  const double valid_fraction = split.fold_validation ? 0.0 : split.valid_fraction;
  if (src.format == "session") {
    SessionData s = read_sessions(src.path, src.test_path);
    if (s.test_only_items > 0)
      log_info("data: {} items appear only in {} (kept in the catalogue, never trained on)", s.test_only_items,
               src.test_path);
    d = split_sessions(std::move(s), split.valid_source, valid_fraction, split.seed);
  } else if (src.format == "presplit") {
    const std::string& columns = data.columns;
    InteractionTable train = read_triplets(src.path, columns);
    InteractionTable test;
    test.source = src.test_path;
    test.users = train.users;
    test.items = train.items;
    append_triplets(test, src.test_path, columns, /*allow_new_users=*/false);
    train.items = test.items;  // items first seen in test join the catalogue
    UserSequences tr = group_by_user(train), te = group_by_user(test);
    d = split_given_users(std::move(tr), te.seqs, split.valid_source, valid_fraction, split.seed);
  } else {
    InteractionTable table = read_table(src, data.columns);
    std::vector<bool> keep;
    const double min_rating = data.min_rating;
    if (!table.rating.empty() && min_rating > 0) {
      keep.resize(table.size());
      int64_t dropped = 0;
      for (size_t i = 0; i < table.size(); ++i) dropped += !(keep[i] = table.rating[i] >= min_rating);
      log_info("data: {} interactions with rating < {} dropped", dropped, min_rating);
    }
    UserSequences us = group_by_user(table, keep.empty() ? nullptr : &keep);
    table = InteractionTable();
    if (data.dedup == "first") log_info("data: {} repeated (user, item) pairs dropped", dedup_first(us));
    const int64_t uk = data.user_core, ik = data.item_core;
    if (uk > 1 || ik > 1)
      log_info("data: k-core (users >= {}, items >= {}) dropped {} interactions", uk, ik, k_core(us, uk, ik));
    PR_CHECK(us.seqs.total() > 0, ErrorCode::kInvalidArgument, "{}: no interactions left after filtering", path);
    if (method == "temporal_ratio") {
      const std::vector<double>& r = split.ratios;
      PR_CHECK(r.size() == 3, ErrorCode::kInvalidArgument, "split.ratios: expected 3 numbers (train, valid, test)");
      d = split_temporal_ratio(std::move(us), r[0], r[1], r[2], split.fold_validation);
    } else if (method == "leave_one_out") {
      d = split_leave_one_out(std::move(us), split.fold_validation);
    } else {
      PR_FAIL(ErrorCode::kInvalidArgument,
              "split.method: 'given' needs pre-split data (train/test files), but {} is "
              "one {} file",
              path, src.format);
    }
  }
  d.name = std::filesystem::path(path).filename().string();
  if (d.name.empty()) d.name = std::filesystem::path(path).parent_path().filename().string();
  PR_CHECK(d.test.size() > 0, ErrorCode::kInvalidArgument, "{}: the split left no test queries", path);
  log_eval_sizes(d);
  return d;
}

}  // namespace pocketrec::data
