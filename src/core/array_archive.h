// A small, versioned, checksummed container of named typed arrays plus JSON metadata. Model
// weights (POP counts, ItemCF neighbours, BPR factors) and caches are saved in it.
//
// Layout (little-endian):
//   magic "\x89PRA\r\n\x1a\n" | u32 version | u32 n_arrays | u64 meta_len | meta JSON
//   n_arrays x { u32 name_len | name | u8 dtype | u8 ndim | u64 dims[ndim] | data }
//   u32 CRC-32 of every preceding byte
// The reader checks the magic, version and CRC before parsing, then every length against the bytes
// that remain, so a truncated or bit-flipped file is refused with a message naming the file.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pocketrec {

// CRC-32 (zlib polynomial) of a byte range; also seals training checkpoints.
uint32_t crc32_of(const void* data, size_t n);
// 64-bit FNV-1a of the bytes, continuing from `h` (chain calls to hash several buffers as one):
// a content hash for identities (a weights file, a set of training samples), not a checksum.
inline constexpr uint64_t kFnv1aOffset = 14695981039346656037ull;
uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kFnv1aOffset);

enum class DType : uint8_t { kF32 = 0, kF64 = 1, kI32 = 2, kI64 = 3 };

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kF32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::kF64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kI32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kI64;
}

struct NamedArray {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
  uint64_t numel() const;
};

class ArrayArchive {
 public:
  static constexpr uint32_t kVersion = 1;

  nlohmann::json meta = nlohmann::json::object();

  template <typename T>
  void add(const std::string& name, const T* data, std::vector<uint64_t> shape) {
    NamedArray a{name, dtype_of<T>(), std::move(shape), {}};
    a.bytes.resize(a.numel() * sizeof(T));
    if (!a.bytes.empty()) std::memcpy(a.bytes.data(), data, a.bytes.size());
    add_array(std::move(a));
  }
  template <typename T>
  void add(const std::string& name, const std::vector<T>& v) {
    add(name, v.data(), {v.size()});
  }

  bool has(const std::string& name) const;
  const NamedArray& get(const std::string& name) const;  // Error(kBadFormat) naming the file if missing
  // Copies array `name`, checking its dtype and (when given) its shape.
  template <typename T>
  std::vector<T> get_vector(const std::string& name, const std::vector<uint64_t>& expected_shape = {}) const {
    const NamedArray& a = checked(name, dtype_of<T>(), expected_shape);
    std::vector<T> out(a.numel());
    if (!out.empty()) std::memcpy(out.data(), a.bytes.data(), a.bytes.size());
    return out;
  }

  void save(const std::string& path) const;  // atomic (temp file + rename)
  static ArrayArchive load(const std::string& path);
  static ArrayArchive parse(const std::string& bytes, const std::string& source);

  const std::vector<NamedArray>& arrays() const { return arrays_; }

 private:
  void add_array(NamedArray a);
  const NamedArray& checked(const std::string& name, DType dtype, const std::vector<uint64_t>& shape) const;
  std::vector<NamedArray> arrays_;
  std::string source_ = "<memory>";
};

}  // namespace pocketrec
