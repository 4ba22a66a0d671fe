// Sequences in CSR form: one contiguous int32 item array plus offsets. Every per-user history,
// session, evaluation history and target set in PocketRec is stored this way, so training samples
// are (sequence, position) indices into one array instead of materialised copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketrec::data {

struct ItemSpan {
  const int32_t* ptr;
  size_t n;
  const int32_t* begin() const { return ptr; }
  const int32_t* end() const { return ptr + n; }
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  int32_t operator[](size_t i) const { return ptr[i]; }
};

struct Sequences {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> items;

  size_t size() const { return offsets.size() - 1; }
  size_t total() const { return items.size(); }
  size_t length(size_t i) const { return static_cast<size_t>(offsets[i + 1] - offsets[i]); }
  ItemSpan operator[](size_t i) const { return {items.data() + offsets[i], length(i)}; }
  void append(const int32_t* p, size_t n) {
    items.insert(items.end(), p, p + n);
    offsets.push_back(static_cast<int64_t>(items.size()));
  }
  void append(ItemSpan s) { append(s.ptr, s.n); }
  void append(const std::vector<int32_t>& v) { append(v.data(), v.size()); }
  bool operator==(const Sequences& o) const { return offsets == o.offsets && items == o.items; }
};

}  // namespace pocketrec::data
