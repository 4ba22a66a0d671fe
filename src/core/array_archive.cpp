#include "core/array_archive.h"

#include <zlib.h>

#include "core/atomic_file.h"
#include "core/text.h"

namespace pocketrec {
namespace {

constexpr char kMagic[8] = {'\x89', 'P', 'R', 'A', '\r', '\n', '\x1a', '\n'};
constexpr uint64_t kMaxNameLen = 4096;
constexpr uint32_t kMaxDims = 8;

size_t dtype_size(DType d) {
  switch (d) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
  }
  return 0;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kF32: return "f32";
    case DType::kF64: return "f64";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
  }
  return "?";
}

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// Bounds-checked reader over the file bytes: every read names the file and the field.
class Cursor {
 public:
  Cursor(const std::string& bytes, size_t end, const std::string& source) : b_(bytes), end_(end), src_(source) {}
  template <typename T>
  T read(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_bytes(uint64_t n, const char* field) {
    need(n, field);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const char* field) const {
    PR_CHECK(n <= end_ - pos_, ErrorCode::kBadFormat, "{}: {} at offset {} needs {} bytes but only {} remain", src_,
             field, pos_, n, end_ - pos_);
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& b_;
  size_t pos_ = 0, end_;
  const std::string& src_;
};

}  // namespace

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint32_t crc32_of(const void* data, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {  // zlib takes uInt lengths
    uInt step = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = crc32(c, p, step);
    p += step;
    n -= step;
  }
  return static_cast<uint32_t>(c);
}

uint64_t NamedArray::numel() const {
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

void ArrayArchive::add_array(NamedArray a) {
  PR_ASSERT(!has(a.name), "duplicate array name '{}'", a.name);
  arrays_.push_back(std::move(a));
}

bool ArrayArchive::has(const std::string& name) const {
  for (const auto& a : arrays_)
    if (a.name == name) return true;
  return false;
}

const NamedArray& ArrayArchive::get(const std::string& name) const {
  for (const auto& a : arrays_)
    if (a.name == name) return a;
  PR_FAIL(ErrorCode::kBadFormat, "{}: array '{}' is missing", source_, name);
}

const NamedArray& ArrayArchive::checked(const std::string& name, DType dtype,
                                        const std::vector<uint64_t>& shape) const {
  const NamedArray& a = get(name);
  PR_CHECK(a.dtype == dtype, ErrorCode::kBadFormat, "{}: array '{}' has dtype {}, expected {}", source_, name,
           dtype_name(a.dtype), dtype_name(dtype));
  if (!shape.empty())
    PR_CHECK(a.shape == shape, ErrorCode::kBadFormat, "{}: array '{}' has shape [{}], expected [{}]", source_, name,
             fmt::join(a.shape, ","), fmt::join(shape, ","));
  return a;
}

void ArrayArchive::save(const std::string& path) const {
  std::string out(kMagic, sizeof(kMagic));
  put<uint32_t>(out, kVersion);
  put<uint32_t>(out, static_cast<uint32_t>(arrays_.size()));
  std::string meta_text = meta.dump();
  put<uint64_t>(out, meta_text.size());
  out += meta_text;
  for (const auto& a : arrays_) {
    put<uint32_t>(out, static_cast<uint32_t>(a.name.size()));
    out += a.name;
    put<uint8_t>(out, static_cast<uint8_t>(a.dtype));
    put<uint8_t>(out, static_cast<uint8_t>(a.shape.size()));
    for (auto d : a.shape) put<uint64_t>(out, d);
    out.append(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
  }
  put<uint32_t>(out, crc32_of(out.data(), out.size()));
  write_file_atomic(path, out);
}

ArrayArchive ArrayArchive::load(const std::string& path) {
  return parse(read_file(path), path);
}

ArrayArchive ArrayArchive::parse(const std::string& bytes, const std::string& source) {
  constexpr size_t kMinSize = sizeof(kMagic) + 4 + 4 + 8 + 4;
  PR_CHECK(bytes.size() >= kMinSize, ErrorCode::kBadFormat, "{}: file is {} bytes, too short for an array archive",
           source, bytes.size());
  PR_CHECK(std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0, ErrorCode::kBadFormat,
           "{}: not a PocketRec array archive (bad magic)", source);
  uint32_t version;
  std::memcpy(&version, bytes.data() + sizeof(kMagic), 4);
  PR_CHECK(version <= kVersion, ErrorCode::kUnsupportedVersion,
           "{}: file format version {} is newer than this build supports (max {})", source, version, kVersion);
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  uint32_t crc = crc32_of(bytes.data(), bytes.size() - 4);
  PR_CHECK(crc == stored_crc, ErrorCode::kChecksumMismatch,
           "{}: checksum mismatch (stored {:08x}, computed {:08x}): the file is truncated or corrupt", source,
           stored_crc, crc);

  ArrayArchive ar;
  ar.source_ = source;
  Cursor c(bytes, bytes.size() - 4, source);
  c.read_bytes(sizeof(kMagic), "magic");
  c.read<uint32_t>("version");
  uint32_t n = c.read<uint32_t>("array count");
  uint64_t meta_len = c.read<uint64_t>("metadata length");
  std::string meta_text = c.read_bytes(meta_len, "metadata");
  try {
    ar.meta = nlohmann::json::parse(meta_text);
  } catch (const nlohmann::json::exception& e) {
    PR_FAIL(ErrorCode::kBadFormat, "{}: metadata is not valid JSON: {}", source, e.what());
  }
  for (uint32_t i = 0; i < n; ++i) {
    NamedArray a;
    uint32_t name_len = c.read<uint32_t>("array name length");
    PR_CHECK(name_len <= kMaxNameLen, ErrorCode::kBadFormat, "{}: array {} name length {} exceeds {}", source, i,
             name_len, kMaxNameLen);
    a.name = c.read_bytes(name_len, "array name");
    uint8_t dt = c.read<uint8_t>("dtype");
    PR_CHECK(dt <= static_cast<uint8_t>(DType::kI64), ErrorCode::kBadFormat, "{}: array '{}' has unknown dtype {}",
             source, a.name, dt);
    a.dtype = static_cast<DType>(dt);
    uint8_t ndim = c.read<uint8_t>("ndim");
    PR_CHECK(ndim <= kMaxDims, ErrorCode::kBadFormat, "{}: array '{}' has {} dims (max {})", source, a.name, ndim,
             kMaxDims);
    uint64_t numel = 1;
    for (uint8_t d = 0; d < ndim; ++d) {
      uint64_t dim = c.read<uint64_t>("dimension");
      PR_CHECK(dim == 0 || numel <= (uint64_t{1} << 62) / dim, ErrorCode::kBadFormat, "{}: array '{}' shape overflows",
               source, a.name);
      numel *= dim;
      a.shape.push_back(dim);
    }
    uint64_t nbytes = numel * dtype_size(a.dtype);
    c.need(nbytes, "array data");  // checked before allocating
    std::string data = c.read_bytes(nbytes, "array data");
    a.bytes.assign(data.begin(), data.end());
    PR_CHECK(!ar.has(a.name), ErrorCode::kBadFormat, "{}: array '{}' appears twice", source, a.name);
    ar.arrays_.push_back(std::move(a));
  }
  PR_CHECK(c.pos() == bytes.size() - 4, ErrorCode::kBadFormat, "{}: {} unexpected bytes before the checksum", source,
           bytes.size() - 4 - c.pos());
  return ar;
}

}  // namespace pocketrec
