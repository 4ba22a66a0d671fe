// Reads and validates a .pocket file held in memory (layout: pocket_format.h, docs/format.md).
// Order of checks: magic, version, file_size against the bytes given, the trailing CRC, then every
// header field against the bytes that remain (counts, name lengths, dims, shape products checked
// for overflow, offsets and sizes inside the file); only then does anything point into the data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pocket_format.h"
#include "status.h"

namespace pocketrec::runtime {

struct MetaValue {
  format::MetaType type;
  int64_t i64 = 0;
  double f64 = 0;
  std::string str;
  std::vector<int64_t> array;
};

struct TensorView {
  std::string name;
  format::TensorType type;
  std::vector<uint64_t> dims;
  const uint8_t* data = nullptr;  // into the file's bytes, aligned to format::kAlignment
  uint64_t n_bytes = 0;
  uint64_t numel() const;
};

class PocketFile {
 public:
  // `bytes` must outlive the PocketFile; `source` names it in messages ("student.pocket").
  static Status parse(const uint8_t* bytes, size_t size, const std::string& source, PocketFile* out);

  const std::string& source() const { return source_; }

  // Typed lookups that fail with BAD_FORMAT naming the key and the file.
  Status get_i64(const std::string& key, int64_t* out) const;
  Status get_f64(const std::string& key, double* out) const;
  Status get_string(const std::string& key, std::string* out) const;
  Status get_i64_array(const std::string& key, std::vector<int64_t>* out) const;
  bool has_tensor(const std::string& name) const;
  // The tensor `name` of `type` with exactly `dims`.
  Status get_tensor(const std::string& name, format::TensorType type, const std::vector<uint64_t>& dims,
                    const TensorView** out) const;

 private:
  const MetaValue* find_meta(const std::string& key) const;
  std::string source_;
  std::vector<std::pair<std::string, MetaValue>> meta_;
  std::vector<TensorView> tensors_;
};

}  // namespace pocketrec::runtime
