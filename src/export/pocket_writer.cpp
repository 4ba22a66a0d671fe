#include "export/pocket_writer.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "pocket_format.h"

namespace pocketrec::exporter {
namespace {

template <typename T>
void put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  s.append(b, sizeof(T));
}

uint64_t numel(const std::vector<uint64_t>& dims) {
  uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

uint64_t align_up(uint64_t x) {
  return (x + format::kAlignment - 1) / format::kAlignment * format::kAlignment;
}

}  // namespace

void PocketWriter::set(const std::string& key, uint8_t type, std::string value) {
  PR_CHECK(!key.empty() && key.size() <= format::kMaxNameBytes, ErrorCode::kInvalidArgument, "pocket: bad key '{}'",
           key);
  for (auto& m : meta_)
    if (m.key == key) {
      m = {key, type, std::move(value)};
      return;
    }
  meta_.push_back({key, type, std::move(value)});
}

void PocketWriter::set_i64(const std::string& key, int64_t v) {
  std::string s;
  put(s, v);
  set(key, static_cast<uint8_t>(format::MetaType::kI64), s);
}
void PocketWriter::set_f64(const std::string& key, double v) {
  std::string s;
  put(s, v);
  set(key, static_cast<uint8_t>(format::MetaType::kF64), s);
}
void PocketWriter::set_string(const std::string& key, const std::string& v) {
  std::string s;
  put<uint64_t>(s, v.size());
  s += v;
  set(key, static_cast<uint8_t>(format::MetaType::kString), s);
}
void PocketWriter::set_i64_array(const std::string& key, const std::vector<int64_t>& v) {
  std::string s;
  put<uint64_t>(s, v.size());
  for (int64_t x : v) put(s, x);
  set(key, static_cast<uint8_t>(format::MetaType::kI64Array), s);
}

void PocketWriter::add(const std::string& name, uint8_t type, const std::vector<uint64_t>& dims, const void* data,
                       size_t n_bytes) {
  PR_CHECK(!name.empty() && name.size() <= format::kMaxNameBytes && !dims.empty() && dims.size() <= format::kMaxDims,
           ErrorCode::kInvalidArgument, "pocket: tensor '{}': bad name or {} dims", name, dims.size());
  for (const auto& t : tensors_)
    PR_CHECK(t.name != name, ErrorCode::kInvalidArgument, "pocket: tensor '{}' added twice", name);
  tensors_.push_back({name, type, dims, std::string(static_cast<const char*>(data), n_bytes)});
}

void PocketWriter::add_f32(const std::string& name, const float* data, const std::vector<uint64_t>& dims) {
  add(name, static_cast<uint8_t>(format::TensorType::kF32), dims, data, numel(dims) * 4);
}

void PocketWriter::add_i64(const std::string& name, const int64_t* data, const std::vector<uint64_t>& dims) {
  add(name, static_cast<uint8_t>(format::TensorType::kI64), dims, data, numel(dims) * 8);
}

void PocketWriter::add_u8(const std::string& name, const uint8_t* data, const std::vector<uint64_t>& dims) {
  add(name, static_cast<uint8_t>(format::TensorType::kU8), dims, data, numel(dims));
}

void PocketWriter::add_f16(const std::string& name, const uint16_t* bits, const std::vector<uint64_t>& dims) {
  add(name, static_cast<uint8_t>(format::TensorType::kF16), dims, bits, numel(dims) * 2);
}

void PocketWriter::add_i8_rows(const std::string& name, const float* data, const std::vector<uint64_t>& dims) {
  const uint64_t n = numel(dims), rows = dims.empty() ? 0 : dims[0], cols = rows ? n / rows : 0;
  std::vector<int8_t> q(n);
  std::vector<float> scale(rows);
  for (uint64_t r = 0; r < rows; ++r) scale[r] = format::quantize_row_i8(data + r * cols, cols, q.data() + r * cols);
  add(name, static_cast<uint8_t>(format::TensorType::kI8), dims, q.data(), n);
  add_f32(name + ".scale", scale.data(), {rows});
}

std::string PocketWriter::bytes() const {
  std::string table;
  for (const auto& m : meta_) {
    put<uint32_t>(table, static_cast<uint32_t>(m.key.size()));
    table += m.key;
    put<uint8_t>(table, m.type);
    table += m.value;
  }
  // Tensor entries have a fixed size given their name and ndim, so offsets can be laid out first.
  uint64_t header_size = format::kFixedHeaderBytes + table.size();
  for (const auto& t : tensors_) header_size += 4 + t.name.size() + 2 + 8 * t.dims.size() + 16;
  uint64_t offset = align_up(header_size);
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors_) {
    offsets.push_back(offset);
    offset = align_up(offset + t.data.size());
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    put<uint32_t>(table, static_cast<uint32_t>(t.name.size()));
    table += t.name;
    put<uint8_t>(table, t.type);
    put<uint8_t>(table, static_cast<uint8_t>(t.dims.size()));
    for (auto d : t.dims) put<uint64_t>(table, d);
    put<uint64_t>(table, offsets[i]);
    put<uint64_t>(table, t.data.size());
  }
  const uint64_t data_end = tensors_.empty() ? header_size : offsets.back() + tensors_.back().data.size();
  const uint64_t file_size = data_end + 4;
  std::string out(reinterpret_cast<const char*>(format::kMagic), sizeof format::kMagic);
  // The oldest version that can hold the file, so a model without PQ codes stays readable by
  // version-1 runtimes.
  const bool has_u8 = std::any_of(tensors_.begin(), tensors_.end(), [](const Tensor& t) {
    return t.type == static_cast<uint8_t>(format::TensorType::kU8);
  });
  put<uint32_t>(out, has_u8 ? format::kVersion : format::kOldestVersion);
  put<uint32_t>(out, format::kAlignment);
  put<uint64_t>(out, file_size);
  put<uint64_t>(out, header_size);
  put<uint32_t>(out, static_cast<uint32_t>(meta_.size()));
  put<uint32_t>(out, static_cast<uint32_t>(tensors_.size()));
  out += table;
  PR_ASSERT(out.size() == header_size, "{} vs {}", out.size(), header_size);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(offsets[i], '\0');
    out += tensors_[i].data;
  }
  put<uint32_t>(out, format::crc32_update(0, out.data(), out.size()));
  return out;
}

void PocketWriter::save(const std::string& path) const {
  write_file_atomic(path, bytes());
}

}  // namespace pocketrec::exporter
