#include "data/id_map.h"

#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/text.h"

namespace pocketrec::data {
namespace {
inline uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

std::optional<int64_t> IdMap::canonical_int(std::string_view t) {
  // Only canonical decimals, so "007" and "7" never collide.
  if (t.empty() || t.size() > 18) return std::nullopt;
  size_t i = t[0] == '-' ? 1 : 0;
  if (i == t.size() || (t[i] == '0' && t.size() > i + 1)) return std::nullopt;
  int64_t v = 0;
  for (size_t j = i; j < t.size(); ++j) {
    if (t[j] < '0' || t[j] > '9') return std::nullopt;
    v = v * 10 + (t[j] - '0');
  }
  return i ? -v : v;
}

std::optional<int32_t> IdMap::find_int(int64_t key) const {
  if (keys_.empty()) return std::nullopt;
  size_t mask = keys_.size() - 1;
  for (size_t s = mix(static_cast<uint64_t>(key)) & mask;; s = (s + 1) & mask) {
    if (vals_[s] < 0) return std::nullopt;
    if (keys_[s] == key) return vals_[s];
  }
}

void IdMap::grow() {
  size_t cap = keys_.empty() ? 1024 : keys_.size() * 2;
  keys_.assign(cap, 0);
  vals_.assign(cap, -1);
  size_t mask = cap - 1;
  for (size_t id = 0; id < int_tokens_.size(); ++id) {
    size_t s = mix(static_cast<uint64_t>(int_tokens_[id])) & mask;
    while (vals_[s] >= 0) s = (s + 1) & mask;
    keys_[s] = int_tokens_[id];
    vals_[s] = static_cast<int32_t>(id);
  }
}

void IdMap::switch_to_strings() {
  integer_mode_ = false;
  str_tokens_.reserve(int_tokens_.size());
  for (size_t id = 0; id < int_tokens_.size(); ++id) {
    str_tokens_.push_back(std::to_string(int_tokens_[id]));
    str_ids_.emplace(str_tokens_.back(), static_cast<int32_t>(id));
  }
  int_tokens_ = {};
  keys_ = {};
  vals_ = {};
}

int32_t IdMap::get_or_add(std::string_view token) {
  if (integer_mode_) {
    if (auto v = canonical_int(token)) {
      if (auto id = find_int(*v)) return *id;
      PR_CHECK(int_tokens_.size() < INT32_MAX, ErrorCode::kInvalidArgument, "more than 2^31 distinct ids");
      if ((int_tokens_.size() + 1) * 2 > keys_.size()) grow();
      int32_t id = static_cast<int32_t>(int_tokens_.size());
      int_tokens_.push_back(*v);
      size_t mask = keys_.size() - 1;
      size_t s = mix(static_cast<uint64_t>(*v)) & mask;
      while (vals_[s] >= 0) s = (s + 1) & mask;
      keys_[s] = *v;
      vals_[s] = id;
      return id;
    }
    switch_to_strings();
  }
  auto it = str_ids_.find(std::string(token));
  if (it != str_ids_.end()) return it->second;
  int32_t id = static_cast<int32_t>(str_tokens_.size());
  str_tokens_.emplace_back(token);
  str_ids_.emplace(str_tokens_.back(), id);
  return id;
}

std::optional<int32_t> IdMap::find(std::string_view token) const {
  if (integer_mode_) {
    auto v = canonical_int(token);
    if (!v) return std::nullopt;
    return find_int(*v);
  }
  auto it = str_ids_.find(std::string(token));
  if (it == str_ids_.end()) return std::nullopt;
  return it->second;
}

std::string IdMap::token(int32_t id) const {
  PR_ASSERT(id >= 0 && id < size(), "id {} out of range [0, {})", id, size());
  return integer_mode_ ? std::to_string(int_tokens_[id]) : str_tokens_[id];
}

IdMap IdMap::filtered(const std::vector<bool>& keep) const {
  PR_ASSERT(keep.size() == static_cast<size_t>(size()));
  IdMap out;
  for (int32_t id = 0; id < size(); ++id)
    if (keep[id]) out.get_or_add(token(id));
  return out;
}

size_t IdMap::memory_bytes() const {
  return keys_.capacity() * 8 + vals_.capacity() * 4 + int_tokens_.capacity() * 8 + str_tokens_.size() * 64;
}

bool IdMap::operator==(const IdMap& o) const {
  if (size() != o.size()) return false;
  for (int32_t i = 0; i < size(); ++i)
    if (token(i) != o.token(i)) return false;
  return true;
}

void IdMap::save_tsv(const std::string& path) const {
  std::string out;
  for (int32_t i = 0; i < size(); ++i) out += std::to_string(i) + '\t' + token(i) + '\n';
  write_file_atomic(path, out);
}

IdMap IdMap::load_tsv(const std::string& path) {
  std::string text = read_file(path);
  IdMap m;
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    ++line_no;
    start = end + 1;
    if (line.empty()) continue;
    auto tab = line.find('\t');
    PR_CHECK(tab != std::string_view::npos, ErrorCode::kBadFormat, "{}:{}: expected '<id>\\t<token>'", path, line_no);
    auto id = parse_int(line.substr(0, tab));
    PR_CHECK(id && *id == m.size(), ErrorCode::kBadFormat, "{}:{}: expected id {}, found '{}'", path, line_no, m.size(),
             line.substr(0, tab));
    m.get_or_add(line.substr(tab + 1));
    PR_CHECK(m.size() == *id + 1, ErrorCode::kBadFormat, "{}:{}: token '{}' appears twice", path, line_no,
             line.substr(tab + 1));
  }
  return m;
}

}  // namespace pocketrec::data
