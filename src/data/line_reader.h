// Streaming line reader: reads a file in 4 MiB blocks and hands out one line at a time as a
// string_view into its buffer (valid until the next call), with its 1-based line number. Memory
// stays at one block whatever the file size. Lines end at '\n'; a trailing '\r' is dropped.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace pocketrec::data {

class LineReader {
 public:
  explicit LineReader(std::string path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  bool next(std::string_view& line);
  int64_t line_number() const { return line_no_; }
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // "path:line" for error messages about the current line.
  std::string where() const { return path_ + ":" + std::to_string(line_no_); }

 private:
  bool fill();
  std::string path_;
  std::FILE* f_ = nullptr;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  int64_t line_no_ = 0;
  uint64_t file_size_ = 0;
};

// Up to kMaxFields whitespace-separated fields of a line, without allocation.
struct Fields {
  static constexpr size_t kMaxFields = 16;
  std::string_view f[kMaxFields];
  size_t n = 0;
  bool overflow = false;  // the line had more than kMaxFields fields
  std::string_view operator[](size_t i) const { return f[i]; }
};
Fields split_fields(std::string_view line, bool tabs_only = false);

}  // namespace pocketrec::data
