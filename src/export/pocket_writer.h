// Builds a .pocket model file (layout: runtime/src/pocket_format.h, spec: docs/format.md). LibTorch-
// free: the exporters fill it from a trained model, tests build small and deliberately broken files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pocketrec::exporter {

class PocketWriter {
 public:
  void set_i64(const std::string& key, int64_t v);
  void set_f64(const std::string& key, double v);
  void set_string(const std::string& key, const std::string& v);
  void set_i64_array(const std::string& key, const std::vector<int64_t>& v);

  void add_f32(const std::string& name, const float* data, const std::vector<uint64_t>& dims);
  void add_i64(const std::string& name, const int64_t* data, const std::vector<uint64_t>& dims);
  void add_u8(const std::string& name, const uint8_t* data, const std::vector<uint64_t>& dims);  // PQ codes
  // IEEE binary16 bit patterns (converted by the caller, e.g. torch's kHalf).
  void add_f16(const std::string& name, const uint16_t* bits, const std::vector<uint64_t>& dims);
  // Quantises `data` per row (the first dim; format::quantize_row_i8) and adds "<name>" as i8 plus
  // "<name>.scale" as f32 [dims[0]].
  void add_i8_rows(const std::string& name, const float* data, const std::vector<uint64_t>& dims);

  std::string bytes() const;                 // the whole file, CRC included
  void save(const std::string& path) const;  // atomic (temp file + rename)

 private:
  struct Meta {
    std::string key;
    uint8_t type;
    std::string value;  // encoded little-endian
  };
  struct Tensor {
    std::string name;
    uint8_t type;
    std::vector<uint64_t> dims;
    std::string data;
  };
  void set(const std::string& key, uint8_t type, std::string value);
  void add(const std::string& name, uint8_t type, const std::vector<uint64_t>& dims, const void* data, size_t n_bytes);
  std::vector<Meta> meta_;
  std::vector<Tensor> tensors_;
};

}  // namespace pocketrec::exporter
