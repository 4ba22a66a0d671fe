// The .pocket file layout (docs/format.md), shared by the writer (src/export) and the reader
// (runtime/src/pocket_file.cpp) so the two can never disagree. Little-endian.
//
//   0   magic "\x89PRK\r\n\x1a\n" (PNG-style: text-mode mangling and truncated transfers are caught)
//   8   u32 format_version      12  u32 alignment (64)
//   16  u64 file_size           24  u64 header_size (end of the tensor table)
//   32  u32 n_meta              36  u32 n_tensors
//   40  n_meta    x { u32 key_len, key, u8 MetaType, value }
//             kI64: i64 | kF64: f64 | kString: u64 len, bytes | kI64Array: u64 count, i64[count]
//       n_tensors x { u32 name_len, name, u8 TensorType, u8 ndim (1..4), u64 dims[ndim],
//                     u64 offset (absolute, a multiple of alignment), u64 n_bytes }
//   tensor data at the offsets (zero padding between)
//   last 4 bytes: u32 CRC-32 (zlib polynomial) of every preceding byte
// Weights may be stored as f32, f16 (IEEE binary16) or i8; an i8 tensor "x" comes with an f32 tensor
// "x.scale" holding one scale per row (the first dim): x[r][...] ~ scale[r] * q[r][...].
// The version moves only for structural changes; new metadata keys and tensors do not move it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pocketrec::format {

inline constexpr unsigned char kMagic[8] = {0x89, 'P', 'R', 'K', '\r', '\n', 0x1a, '\n'};
// Version 2 has the u8 tensor type (product-quantised codes); a writer stamps the oldest version
// that can hold its file, and readers accept every version from kOldestVersion to kVersion.
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kOldestVersion = 1;
inline constexpr uint32_t kAlignment = 64;
inline constexpr size_t kFixedHeaderBytes = 40;
inline constexpr size_t kMaxDims = 4;
inline constexpr size_t kMaxNameBytes = 256;

enum class MetaType : uint8_t { kI64 = 0, kF64 = 1, kString = 2, kI64Array = 3 };
enum class TensorType : uint8_t { kF32 = 0, kI8 = 1, kI64 = 2, kF16 = 3, kU8 = 4 };
inline constexpr TensorType kLastTensorType = TensorType::kU8;

inline constexpr size_t tensor_type_size(TensorType t) {
  switch (t) {
    case TensorType::kF32: return 4;
    case TensorType::kI8: return 1;
    case TensorType::kI64: return 8;
    case TensorType::kF16: return 2;
    case TensorType::kU8: return 1;
  }
  return 0;
}

// Symmetric per-row int8: scale = max|x| / 127 (1 for an all-zero row), q = round(x / scale).
// Returns the scale. The exporter's int8 weights and the runtime's int8 item table both use it.
inline float quantize_row_i8(const float* x, size_t n, int8_t* q) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : (-x[i] > m ? -x[i] : m);
  const float s = m > 0 ? m / 127.0f : 1.0f;
  for (size_t i = 0; i < n; ++i) {
    float v = x[i] / s;
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    q[i] = static_cast<int8_t>(v >= 0 ? static_cast<int>(v + 0.5f) : -static_cast<int>(-v + 0.5f));
  }
  return s;
}

// IEEE binary16 -> binary32, exact for every input (subnormals, infinities and NaN included).
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (man << 13);  // inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);  // rebias 15 -> 127
  } else if (man == 0) {
    bits = sign;  // +-0
  } else {        // subnormal: normalise
    exp = 113;
    while ((man & 0x400u) == 0) man <<= 1, --exp;
    bits = sign | (exp << 23) | ((man & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// CRC-32 with the zlib polynomial, bytewise table built at compile time; crc32_update(0, ...) starts.
namespace detail {
struct Crc32Table {
  uint32_t v[256];
  constexpr Crc32Table() : v() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      v[i] = c;
    }
  }
};
inline constexpr Crc32Table kCrc32Table{};
}  // namespace detail

inline uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = detail::kCrc32Table.v[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace pocketrec::format
