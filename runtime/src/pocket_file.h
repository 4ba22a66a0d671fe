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

// Weights decoded to fp32 at load (f16 and i8 tensors); fp32 tensors are used in place.
struct WeightStore {
  std::vector<std::vector<float>> decoded;  // growing the outer vector moves the inner buffers intact
  size_t file_bytes = 0;                    // bytes of the file's weight tensors read so far (scales included)
  size_t decoded_bytes() const {
    size_t n = 0;
    for (const auto& v : decoded) n += v.size() * sizeof(float);
    return n;
  }
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
  // The tensor `name` with exactly `dims` (and of `type`).
  Status get_tensor(const std::string& name, const std::vector<uint64_t>& dims, const TensorView** out) const;
  Status get_tensor(const std::string& name, format::TensorType type, const std::vector<uint64_t>& dims,
                    const TensorView** out) const;
  // The weight `name` with exactly `dims` as fp32: a view into the file for f32, decoded into `store`
  // for f16 and for i8 (with its per-row "<name>.scale").
  Status get_weight(const std::string& name, const std::vector<uint64_t>& dims, WeightStore* store,
                    const float** out) const;
  // The metadata value of `key`, or null.
  const MetaValue* find_meta(const std::string& key) const;

 private:
  std::string source_;
  std::vector<std::pair<std::string, MetaValue>> meta_;
  std::vector<TensorView> tensors_;
};

}  // namespace pocketrec::runtime
