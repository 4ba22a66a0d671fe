// Stable remapping of raw ids (tokens from the input files) to dense int32 ids 0..n-1, in order of
// first appearance. Integer tokens (the common case) live in a flat open-addressing table; the
// first non-integer token switches the map to string keys. Saved as "<dense id>\t<raw token>" TSV
// next to every model so recommendations can be mapped back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pocketrec::data {

class IdMap {
 public:
  int32_t get_or_add(std::string_view token);
  std::optional<int32_t> find(std::string_view token) const;
  int32_t size() const { return static_cast<int32_t>(integer_mode_ ? int_tokens_.size() : str_tokens_.size()); }
  std::string token(int32_t id) const;
  // A new map holding only ids with keep[id] set, renumbered densely in their old order.
  IdMap filtered(const std::vector<bool>& keep) const;
  size_t memory_bytes() const;

  void save_tsv(const std::string& path) const;  // atomic
  static IdMap load_tsv(const std::string& path);
  bool operator==(const IdMap& o) const;

 private:
  static std::optional<int64_t> canonical_int(std::string_view token);
  void switch_to_strings();
  void grow();
  std::optional<int32_t> find_int(int64_t key) const;

  bool integer_mode_ = true;
  // Open addressing, linear probing; slot value -1 = empty. Capacity is a power of two.
  std::vector<int64_t> keys_;
  std::vector<int32_t> vals_;
  std::vector<int64_t> int_tokens_;
  std::unordered_map<std::string, int32_t> str_ids_;
  std::vector<std::string> str_tokens_;
};

}  // namespace pocketrec::data
