#include "data/stats.h"

#include <algorithm>

#include <fmt/format.h>

#include "data/format_detect.h"
#include "data/readers.h"

namespace pocketrec::data {
namespace {

template <typename LengthOf>
void fill_lengths(DataStats& s, size_t n, LengthOf length_of) {
  s.min_length = n ? INT64_MAX : 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t len = static_cast<int64_t>(length_of(i));
    s.min_length = std::min(s.min_length, len);
    s.max_length = std::max(s.max_length, len);
  }
  s.avg_length = n ? static_cast<double>(s.interactions) / n : 0.0;
}

int64_t distinct(const std::vector<int32_t>& ids, int32_t n) {
  std::vector<bool> seen(n, false);
  int64_t c = 0;
  for (int32_t i : ids) c += !seen[i], seen[i] = true;
  return c;
}

}  // namespace

DataStats compute_stats(const std::string& path, const std::string& format, const std::string& columns) {
  DataSource src = resolve_data_source(path, format);
  DataStats s;
  s.path = src.path;
  s.format = src.format;
  if (src.format == "session") {
    SessionData d = read_sessions(src.path, src.test_path);
    s.sessions = true;
    s.users = static_cast<int64_t>(d.train.size());
    s.interactions = static_cast<int64_t>(d.train.total());
    s.items = distinct(d.train.items, d.items.size());
    s.test_samples = static_cast<int64_t>(d.test_targets.size());
    s.test_only_items = d.test_only_items;
    fill_lengths(s, d.train.size(), [&](size_t i) { return d.train.length(i); });
    return s;
  }
  InteractionTable t;
  if (src.format == "presplit") {
    t = read_triplets(src.path, columns);
    int32_t train_items = t.items.size();
    size_t train_rows = t.size();
    append_triplets(t, src.test_path, columns, /*allow_new_users=*/true);
    s.test_samples = static_cast<int64_t>(t.size() - train_rows);
    s.test_only_items = t.items.size() - train_items;
  } else if (src.format == "checkin") {
    t = read_checkins(src.path);
  } else if (src.format == "inter") {
    t = read_inter(src.path);
  } else if (src.format == "sequence") {
    t = read_user_sequences(src.path);
  } else {
    t = read_triplets(src.path, columns);
  }
  s.interactions = static_cast<int64_t>(t.size());
  s.users = distinct(t.user, t.users.size());
  s.items = distinct(t.item, t.items.size());
  std::vector<int64_t> per_user(t.users.size(), 0);
  for (int32_t u : t.user) ++per_user[u];
  per_user.erase(std::remove(per_user.begin(), per_user.end(), 0), per_user.end());
  fill_lengths(s, per_user.size(), [&](size_t i) { return per_user[i]; });
  return s;
}

std::string DataStats::to_markdown() const {
  std::string md = fmt::format("| {} | value |\n|---|---|\n", path);
  md += fmt::format("| format | {} |\n", format);
  md += fmt::format("| {} | {} |\n", sessions ? "training sessions" : "users", users);
  md += fmt::format("| items | {} |\n", items);
  md += fmt::format("| interactions | {} |\n", interactions);
  md += fmt::format("| avg sequence length | {:.3f} |\n", avg_length);
  md += fmt::format("| min / max length | {} / {} |\n", min_length, max_length);
  if (test_samples >= 0) {
    md += fmt::format("| {} | {} |\n", sessions ? "test samples" : "test interactions", test_samples);
    md += fmt::format("| items only in test | {} |\n", test_only_items);
  }
  return md;
}

}  // namespace pocketrec::data
