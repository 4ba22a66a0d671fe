#include "data/readers.h"

#include <algorithm>

#include "core/error.h"
#include "core/text.h"
#include "data/line_reader.h"

namespace pocketrec::data {
namespace {

struct ColumnLayout {
  int user = -1, item = -1, rating = -1, time = -1;
  int n = 0;
  std::string names;
};

ColumnLayout parse_columns(const std::string& columns) {
  ColumnLayout c;
  c.names = columns;
  auto names = split_whitespace(columns);
  for (size_t i = 0; i < names.size(); ++i) {
    auto name = names[i];
    int* slot = name == "user"        ? &c.user
                : name == "item"      ? &c.item
                : name == "rating"    ? &c.rating
                : name == "timestamp" ? &c.time
                                      : nullptr;
    PR_CHECK(slot != nullptr || name == "skip", ErrorCode::kInvalidArgument,
             "data.columns: unknown column '{}' (expected user, item, rating, timestamp or skip)", name);
    if (slot) {
      PR_CHECK(*slot < 0, ErrorCode::kInvalidArgument, "data.columns: column '{}' is given twice", name);
      *slot = static_cast<int>(i);
    }
  }
  c.n = static_cast<int>(names.size());
  PR_CHECK(c.user >= 0 && c.item >= 0, ErrorCode::kInvalidArgument,
           "data.columns: '{}' must name both a user and an item column", columns);
  return c;
}

// Parses the lines of `reader` into `table` with the given layout. The first data line fixes the
// number of fields; every later line must have the same.
void parse_interaction_lines(LineReader& reader, InteractionTable& table, const ColumnLayout& layout, bool tabs_only,
                             bool allow_new_users) {
  int n_fields = -1;
  bool reserved = false;
  std::string_view line;
  while (reader.next(line)) {
    if (trim(line).empty()) continue;
    Fields f = split_fields(line, tabs_only);
    if (n_fields < 0) {
      PR_CHECK(f.n >= 2 && !f.overflow && static_cast<int>(f.n) <= layout.n, ErrorCode::kBadFormat,
               "{}: expected 2 to {} fields ({}), found {}", reader.where(), layout.n, layout.names,
               f.overflow ? std::string("more than 16") : std::to_string(f.n));
      n_fields = static_cast<int>(f.n);
      PR_CHECK(layout.user < n_fields && layout.item < n_fields, ErrorCode::kBadFormat,
               "{}: expected user and item columns ({}), found {} fields", reader.where(), layout.names, f.n);
    }
    PR_CHECK(static_cast<int>(f.n) == n_fields && !f.overflow, ErrorCode::kBadFormat,
             "{}: expected {} fields like the first line ({}), found {}", reader.where(), n_fields, layout.names,
             f.overflow ? std::string("more than 16") : std::to_string(f.n));
    int32_t u;
    if (allow_new_users) {
      u = table.users.get_or_add(f[layout.user]);
    } else {
      auto found = table.users.find(f[layout.user]);
      PR_CHECK(found.has_value(), ErrorCode::kBadFormat, "{}: user '{}' has no training interactions", reader.where(),
               f[layout.user]);
      u = *found;
    }
    table.user.push_back(u);
    table.item.push_back(table.items.get_or_add(f[layout.item]));
    if (layout.rating >= 0 && layout.rating < n_fields) {
      auto r = parse_double(f[layout.rating]);
      PR_CHECK(r.has_value(), ErrorCode::kBadFormat, "{}: expected a numeric rating in field {}, found '{}'",
               reader.where(), layout.rating + 1, f[layout.rating]);
      table.rating.push_back(static_cast<float>(*r));
    }
    if (layout.time >= 0 && layout.time < n_fields) {
      auto t = parse_double(f[layout.time]);
      PR_CHECK(t.has_value(), ErrorCode::kBadFormat, "{}: expected a numeric timestamp in field {}, found '{}'",
               reader.where(), layout.time + 1, f[layout.time]);
      table.time.push_back(*t);
    }
    // Reserve once from the file size so the columns never reallocate (peak memory ~ final size).
    if (!reserved && reader.line_number() == 4096) {
      reserved = true;
      double bytes_per_line = static_cast<double>(line.size() + 1);
      size_t est = static_cast<size_t>(1.05 * reader.file_size() / std::max(1.0, bytes_per_line)) + 4096;
      est = std::max(est, table.size());
      table.user.reserve(est);
      table.item.reserve(est);
      if (!table.rating.empty()) table.rating.reserve(est);
      if (!table.time.empty()) table.time.reserve(est);
    }
  }
  PR_CHECK(n_fields > 0, ErrorCode::kBadFormat, "{}: file has no interactions", reader.path());
  PR_CHECK(table.rating.empty() || table.rating.size() == table.size(), ErrorCode::kBadFormat,
           "{}: some lines have a rating and some do not", reader.path());
  PR_CHECK(table.time.empty() || table.time.size() == table.size(), ErrorCode::kBadFormat,
           "{}: some lines have a timestamp and some do not", reader.path());
}

}  // namespace

InteractionTable read_triplets(const std::string& path, const std::string& columns) {
  InteractionTable t;
  t.source = path;
  append_triplets(t, path, columns, /*allow_new_users=*/true);
  return t;
}

void append_triplets(InteractionTable& table, const std::string& path, const std::string& columns,
                     bool allow_new_users) {
  LineReader reader(path);
  parse_interaction_lines(reader, table, parse_columns(columns), /*tabs_only=*/false, allow_new_users);
}

InteractionTable read_checkins(const std::string& path) {
  return read_triplets(path, "user item timestamp");
}

InteractionTable read_inter(const std::string& path) {
  LineReader reader(path);
  std::string_view header;
  PR_CHECK(reader.next(header), ErrorCode::kBadFormat, "{}: empty file (expected a RecBole header line)", path);
  Fields h = split_fields(header, /*tabs_only=*/true);
  std::string names;
  int user = -1, item = -1;
  for (size_t i = 0; i < h.n; ++i) {
    auto colon = h[i].find(':');
    PR_CHECK(colon != std::string_view::npos, ErrorCode::kBadFormat,
             "{}:1: header field '{}' is not 'name:type' (RecBole atomic file)", path, h[i]);
    auto name = h[i].substr(0, colon), type = h[i].substr(colon + 1);
    PR_CHECK(type == "token" || type == "float" || type == "token_seq" || type == "float_seq", ErrorCode::kBadFormat,
             "{}:1: field '{}' has unknown type '{}' (expected token, float, token_seq or float_seq)", path, name,
             type);
    std::string col = "skip";
    if (name == "user_id") col = "user", user = static_cast<int>(i);
    if (name == "item_id") col = "item", item = static_cast<int>(i);
    if (name == "rating") col = "rating";
    if (name == "timestamp") col = "timestamp";
    names += (names.empty() ? "" : " ") + col;
  }
  PR_CHECK(user >= 0 && item >= 0, ErrorCode::kBadFormat, "{}:1: header needs user_id and item_id fields", path);
  InteractionTable t;
  t.source = path;
  ColumnLayout layout = parse_columns(names);
  parse_interaction_lines(reader, t, layout, /*tabs_only=*/true, /*allow_new_users=*/true);
  return t;
}

InteractionTable read_user_sequences(const std::string& path) {
  LineReader reader(path);
  InteractionTable t;
  t.source = path;
  std::vector<int64_t> first_line;  // per user: the line that gave its sequence
  std::string_view line;
  while (reader.next(line)) {
    if (trim(line).empty()) continue;
    size_t i = 0, n = line.size();
    int field = 0;
    int32_t u = -1;
    while (i < n) {
      while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= n) break;
      size_t j = i;
      while (j < n && line[j] != ' ' && line[j] != '\t') ++j;
      std::string_view tok = line.substr(i, j - i);
      if (field == 0) {
        u = t.users.get_or_add(tok);
        if (static_cast<size_t>(u) < first_line.size()) {
          PR_FAIL(ErrorCode::kBadFormat, "{}: user '{}' already has a sequence (line {})", reader.where(), tok,
                  first_line[u]);
        }
        first_line.push_back(reader.line_number());
      } else {
        t.user.push_back(u);
        t.item.push_back(t.items.get_or_add(tok));
      }
      ++field;
      i = j;
    }
    PR_CHECK(field >= 2, ErrorCode::kBadFormat, "{}: expected 'user item item ...', found an empty sequence",
             reader.where());
  }
  PR_CHECK(t.size() > 0, ErrorCode::kBadFormat, "{}: file has no sequences", path);
  return t;
}

SessionData read_sessions(const std::string& train_path, const std::string& test_path) {
  SessionData d;
  d.source = train_path;
  auto parse_items = [&](LineReader& r, std::string_view text, std::vector<int32_t>& out, bool count_new) {
    out.clear();
    size_t i = 0, n = text.size();
    while (i < n) {
      while (i < n && (text[i] == ' ' || text[i] == '\t')) ++i;
      if (i >= n) break;
      size_t j = i;
      while (j < n && text[j] != ' ' && text[j] != '\t') ++j;
      int32_t before = d.items.size();
      out.push_back(d.items.get_or_add(text.substr(i, j - i)));
      if (count_new && d.items.size() > before) ++d.test_only_items;
      i = j;
    }
    (void)r;
  };
  std::vector<int32_t> buf;
  {
    LineReader r(train_path);
    std::string_view line;
    while (r.next(line)) {
      parse_items(r, line, buf, false);
      PR_CHECK(!buf.empty(), ErrorCode::kBadFormat, "{}: empty session (expected item ids separated by spaces)",
               r.where());
      d.train.append(buf);
    }
    PR_CHECK(d.train.size() > 0, ErrorCode::kBadFormat, "{}: file has no sessions", train_path);
  }
  {
    LineReader r(test_path);
    std::string_view line;
    while (r.next(line)) {
      if (trim(line).empty()) continue;
      auto tab = line.find('\t');
      PR_CHECK(tab != std::string_view::npos, ErrorCode::kBadFormat,
               "{}: expected 'target<TAB>prefix items', found no tab", r.where());
      auto target_text = trim(line.substr(0, tab));
      PR_CHECK(!target_text.empty() && split_whitespace(target_text).size() == 1, ErrorCode::kBadFormat,
               "{}: expected one target item before the tab, found '{}'", r.where(), target_text);
      parse_items(r, line.substr(tab + 1), buf, true);
      PR_CHECK(!buf.empty(), ErrorCode::kBadFormat, "{}: empty prefix (a test sample needs at least one item)",
               r.where());
      d.test_prefixes.append(buf);
      int32_t before = d.items.size();
      d.test_targets.push_back(d.items.get_or_add(target_text));
      if (d.items.size() > before) ++d.test_only_items;
    }
    PR_CHECK(!d.test_targets.empty(), ErrorCode::kBadFormat, "{}: file has no test samples", test_path);
  }
  return d;
}

}  // namespace pocketrec::data
