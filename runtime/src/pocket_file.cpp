#include "pocket_file.h"

#include <cinttypes>
#include <cstring>
#include <limits>

namespace pocketrec::runtime {
namespace {

// Bounds-checked little-endian reads over [pos, end).
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t pos, size_t end) : base_(base), pos_(pos), end_(end) {}
  size_t pos() const { return pos_; }
  bool has(uint64_t n) const { return n <= end_ - pos_; }
  template <typename T>
  bool read(T* out) {
    if (!has(sizeof(T))) return false;
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool read_bytes(uint64_t n, std::string* out) {
    if (!has(n)) return false;
    out->assign(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }

 private:
  const uint8_t* base_;
  size_t pos_, end_;
};

std::string dims_str(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

const char* tensor_type_name(format::TensorType t) {
  switch (t) {
    case format::TensorType::kF32: return "f32";
    case format::TensorType::kI8: return "i8";
    case format::TensorType::kI64: return "i64";
    case format::TensorType::kF16: return "f16";
    case format::TensorType::kU8: return "u8";
  }
  return "?";
}

const char* meta_type_name(format::MetaType t) {
  switch (t) {
    case format::MetaType::kI64: return "i64";
    case format::MetaType::kF64: return "f64";
    case format::MetaType::kString: return "string";
    case format::MetaType::kI64Array: return "i64 array";
  }
  return "?";
}

}  // namespace

uint64_t TensorView::numel() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

Status PocketFile::parse(const uint8_t* bytes, size_t size, const std::string& source, PocketFile* out) {
  const char* src = source.c_str();
  const auto bad = POCKETREC_STATUS_BAD_FORMAT;
  RT_CHECK(size >= format::kFixedHeaderBytes + 4, bad, "%s: %zu bytes is too short for a .pocket file (minimum %zu)",
           src, size, format::kFixedHeaderBytes + 4);
  RT_CHECK(std::memcmp(bytes, format::kMagic, sizeof format::kMagic) == 0, bad,
           "%s: not a .pocket model file (bad magic)", src);
  Cursor c(bytes, sizeof format::kMagic, size);
  uint32_t version = 0, alignment = 0, n_meta = 0, n_tensors = 0;
  uint64_t file_size = 0, header_size = 0;
  (void)c.read(&version);
  RT_CHECK(version >= format::kOldestVersion, bad, "%s: format version %u is invalid", src, version);
  RT_CHECK(version <= format::kVersion, POCKETREC_STATUS_UNSUPPORTED_VERSION,
           "%s: file format version %u is newer than this runtime (max %u)", src, version, format::kVersion);
  (void)c.read(&alignment);
  (void)c.read(&file_size);
  (void)c.read(&header_size);
  (void)c.read(&n_meta);
  (void)c.read(&n_tensors);
  RT_CHECK(file_size == size, bad, "%s: header says %" PRIu64 " bytes but the file has %zu (truncated or padded)", src,
           file_size, size);
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes + size - 4, 4);
  const uint32_t crc = format::crc32_update(0, bytes, size - 4);
  RT_CHECK(crc == stored_crc, POCKETREC_STATUS_CHECKSUM_MISMATCH,
           "%s: checksum mismatch (stored %08x, computed %08x): corrupt file", src, stored_crc, crc);
  RT_CHECK(alignment == format::kAlignment, bad, "%s: alignment %u, expected %u", src, alignment, format::kAlignment);
  RT_CHECK(header_size >= format::kFixedHeaderBytes && header_size <= size - 4, bad,
           "%s: header size %" PRIu64 " outside [%zu, %zu]", src, header_size, format::kFixedHeaderBytes, size - 4);
  // Each entry takes at least 5 (meta) or 6 (tensor) bytes, which bounds the counts before any allocation.
  const uint64_t room = header_size - format::kFixedHeaderBytes;
  RT_CHECK(n_meta <= room / 5 && n_tensors <= room / 6, bad,
           "%s: %u metadata entries and %u tensors cannot fit in a %" PRIu64 "-byte header", src, n_meta, n_tensors,
           header_size);

  PocketFile f;
  f.source_ = source;
  Cursor h(bytes, format::kFixedHeaderBytes, static_cast<size_t>(header_size));
  for (uint32_t i = 0; i < n_meta; ++i) {
    uint32_t key_len = 0;
    std::string key;
    uint8_t type = 0;
    RT_CHECK(h.read(&key_len) && key_len > 0 && key_len <= format::kMaxNameBytes && h.read_bytes(key_len, &key) &&
                 h.read(&type),
             bad, "%s: metadata entry %u: truncated or bad key (length %u)", src, i, key_len);
    RT_CHECK(type <= static_cast<uint8_t>(format::MetaType::kI64Array), bad, "%s: metadata '%s': unknown type %u", src,
             key.c_str(), type);
    RT_CHECK(f.find_meta(key) == nullptr, bad, "%s: metadata key '%s' appears twice", src, key.c_str());
    MetaValue v;
    v.type = static_cast<format::MetaType>(type);
    bool ok = true;
    uint64_t n = 0;
    switch (v.type) {
      case format::MetaType::kI64: ok = h.read(&v.i64); break;
      case format::MetaType::kF64: ok = h.read(&v.f64); break;
      case format::MetaType::kString: ok = h.read(&n) && h.read_bytes(n, &v.str); break;
      case format::MetaType::kI64Array:
        ok = h.read(&n) && n <= (header_size - h.pos()) / 8;
        if (ok) {
          v.array.resize(static_cast<size_t>(n));
          for (auto& x : v.array) ok = ok && h.read(&x);
        }
        break;
    }
    RT_CHECK(ok, bad, "%s: metadata '%s': value truncated", src, key.c_str());
    f.meta_.emplace_back(std::move(key), std::move(v));
  }
  uint64_t data_end = format::kFixedHeaderBytes;
  for (uint32_t i = 0; i < n_tensors; ++i) {
    uint32_t name_len = 0;
    TensorView t;
    uint8_t type = 0, ndim = 0;
    RT_CHECK(h.read(&name_len) && name_len > 0 && name_len <= format::kMaxNameBytes &&
                 h.read_bytes(name_len, &t.name) && h.read(&type) && h.read(&ndim),
             bad, "%s: tensor entry %u: truncated or bad name (length %u)", src, i, name_len);
    const char* name = t.name.c_str();
    // The u8 type came with version 2.
    const uint8_t last = static_cast<uint8_t>(version >= 2 ? format::kLastTensorType : format::TensorType::kF16);
    RT_CHECK(type <= last, bad, "%s: tensor '%s': unknown type %u (format version %u)", src, name, type, version);
    RT_CHECK(ndim >= 1 && ndim <= format::kMaxDims, bad, "%s: tensor '%s': %u dimensions, expected 1..%zu", src, name,
             ndim, format::kMaxDims);
    t.type = static_cast<format::TensorType>(type);
    uint64_t numel = 1;
    for (uint8_t d = 0; d < ndim; ++d) {
      uint64_t dim = 0;
      RT_CHECK(h.read(&dim), bad, "%s: tensor '%s': dims truncated", src, name);
      RT_CHECK(dim == 0 || numel <= std::numeric_limits<uint64_t>::max() / 8 / dim, bad,
               "%s: tensor '%s': shape product overflows", src, name);
      numel *= dim;
      t.dims.push_back(dim);
    }
    uint64_t offset = 0;
    RT_CHECK(h.read(&offset) && h.read(&t.n_bytes), bad, "%s: tensor '%s': offset truncated", src, name);
    RT_CHECK(t.n_bytes == numel * format::tensor_type_size(t.type), bad,
             "%s: tensor '%s': %" PRIu64 " bytes, expected %" PRIu64 " for its shape", src, name, t.n_bytes,
             numel * format::tensor_type_size(t.type));
    RT_CHECK(offset % format::kAlignment == 0 && offset >= header_size && offset <= size - 4 &&
                 t.n_bytes <= size - 4 - offset,
             bad,
             "%s: tensor '%s': offset %" PRIu64 " + size %" PRIu64
             " is not an aligned range inside the data (%zu bytes)",
             src, name, offset, t.n_bytes, size - 4);
    RT_CHECK(offset >= data_end, bad, "%s: tensor '%s' overlaps the previous tensor", src, name);
    data_end = offset + t.n_bytes;
    RT_CHECK(!f.has_tensor(t.name), bad, "%s: tensor '%s' appears twice", src, name);
    t.data = bytes + offset;
    f.tensors_.push_back(std::move(t));
  }
  RT_CHECK(h.pos() == header_size, bad, "%s: header has %zu bytes, header_size says %" PRIu64, src, h.pos(),
           header_size);
  *out = std::move(f);
  return Status::Ok();
}

const MetaValue* PocketFile::find_meta(const std::string& key) const {
  for (const auto& [k, v] : meta_)
    if (k == key) return &v;
  return nullptr;
}

#define POCKET_GET(method, TYPE, field)                                                                              \
  Status PocketFile::method(const std::string& key, decltype(MetaValue::field)* out) const {                         \
    const MetaValue* v = find_meta(key);                                                                             \
    RT_CHECK(v != nullptr, POCKETREC_STATUS_BAD_FORMAT, "%s: metadata key '%s' is missing", source_.c_str(),         \
             key.c_str());                                                                                           \
    RT_CHECK(v->type == format::MetaType::TYPE, POCKETREC_STATUS_BAD_FORMAT, "%s: metadata '%s' is %s, expected %s", \
             source_.c_str(), key.c_str(), meta_type_name(v->type), meta_type_name(format::MetaType::TYPE));         \
    *out = v->field;                                                                                                 \
    return Status::Ok();                                                                                             \
  }
POCKET_GET(get_i64, kI64, i64)
POCKET_GET(get_f64, kF64, f64)
POCKET_GET(get_string, kString, str)
POCKET_GET(get_i64_array, kI64Array, array)
#undef POCKET_GET

bool PocketFile::has_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return true;
  return false;
}

Status PocketFile::get_tensor(const std::string& name, const std::vector<uint64_t>& dims,
                              const TensorView** out) const {
  for (const auto& t : tensors_) {
    if (t.name != name) continue;
    RT_CHECK(t.dims == dims, POCKETREC_STATUS_BAD_FORMAT, "%s: tensor '%s' has shape %s, expected %s", source_.c_str(),
             name.c_str(), dims_str(t.dims).c_str(), dims_str(dims).c_str());
    *out = &t;
    return Status::Ok();
  }
  return make_status(POCKETREC_STATUS_BAD_FORMAT, "%s: tensor '%s' is missing", source_.c_str(), name.c_str());
}

Status PocketFile::get_tensor(const std::string& name, format::TensorType type, const std::vector<uint64_t>& dims,
                              const TensorView** out) const {
  RT_TRY(get_tensor(name, dims, out));
  RT_CHECK((*out)->type == type, POCKETREC_STATUS_BAD_FORMAT, "%s: tensor '%s' has type %s, expected %s",
           source_.c_str(), name.c_str(), tensor_type_name((*out)->type), tensor_type_name(type));
  return Status::Ok();
}

Status PocketFile::get_weight(const std::string& name, const std::vector<uint64_t>& dims, WeightStore* store,
                              const float** out) const {
  const TensorView* t = nullptr;
  RT_TRY(get_tensor(name, dims, &t));
  store->file_bytes += t->n_bytes;
  if (t->type == format::TensorType::kF32) {
    *out = reinterpret_cast<const float*>(t->data);
    return Status::Ok();
  }
  const uint64_t n = t->numel(), rows = dims[0], cols = rows ? n / rows : 0;
  std::vector<float> v(static_cast<size_t>(n));
  if (t->type == format::TensorType::kF16) {
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, t->data + 2 * i, 2);
      v[i] = format::f16_to_f32(h);
    }
  } else if (t->type == format::TensorType::kI8) {
    const TensorView* s = nullptr;
    RT_TRY(get_tensor(name + ".scale", format::TensorType::kF32, {rows}, &s));
    store->file_bytes += s->n_bytes;
    const auto* q = reinterpret_cast<const int8_t*>(t->data);
    const auto* scale = reinterpret_cast<const float*>(s->data);
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t c = 0; c < cols; ++c) v[r * cols + c] = scale[r] * static_cast<float>(q[r * cols + c]);
  } else {
    return make_status(POCKETREC_STATUS_BAD_FORMAT, "%s: weight '%s' is stored as %s (expected f32, f16 or i8)",
                       source_.c_str(), name.c_str(), tensor_type_name(t->type));
  }
  store->decoded.push_back(std::move(v));
  *out = store->decoded.back().data();
  return Status::Ok();
}

}  // namespace pocketrec::runtime
