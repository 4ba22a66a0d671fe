#include "data/line_reader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace pocketrec::data {

constexpr size_t kBlock = 4u << 20;

LineReader::LineReader(std::string path) : path_(std::move(path)) {
  struct stat st;
  PR_CHECK(::stat(path_.c_str(), &st) == 0, ErrorCode::kNotFound, "{}: no such file", path_);
  PR_CHECK(S_ISREG(st.st_mode), ErrorCode::kInvalidArgument, "{}: not a regular file", path_);
  file_size_ = static_cast<uint64_t>(st.st_size);
  f_ = std::fopen(path_.c_str(), "rb");
  PR_CHECK(f_ != nullptr, ErrorCode::kIo, "{}: cannot open: {}", path_, std::strerror(errno));
  buf_.resize(kBlock);
}

LineReader::~LineReader() {
  if (f_) std::fclose(f_);
}

bool LineReader::fill() {
  if (eof_) return false;
  // Move the unfinished tail to the front, grow if a single line fills the buffer.
  size_t tail = end_ - begin_;
  if (begin_ > 0) std::memmove(buf_.data(), buf_.data() + begin_, tail);
  begin_ = 0;
  end_ = tail;
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
  size_t got = std::fread(buf_.data() + end_, 1, buf_.size() - end_, f_);
  PR_CHECK(!std::ferror(f_), ErrorCode::kIo, "{}: read error: {}", path_, std::strerror(errno));
  if (got == 0) eof_ = true;
  end_ += got;
  return got > 0;
}

bool LineReader::next(std::string_view& line) {
  for (;;) {
    const char* start = buf_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    if (nl != nullptr) {
      size_t len = static_cast<const char*>(nl) - start;
      line = std::string_view(start, len);
      begin_ += len + 1;
      break;
    }
    if (!fill()) {
      if (begin_ == end_) return false;
      line = std::string_view(buf_.data() + begin_, end_ - begin_);  // last line without '\n'
      begin_ = end_;
      break;
    }
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ++line_no_;
  return true;
}

Fields split_fields(std::string_view line, bool tabs_only) {
  Fields out;
  size_t i = 0, n = line.size();
  auto is_sep = [&](char c) { return c == '\t' || (!tabs_only && c == ' '); };
  while (i < n) {
    while (i < n && is_sep(line[i])) ++i;
    if (i >= n) break;
    size_t j = i;
    while (j < n && !is_sep(line[j])) ++j;
    if (out.n == Fields::kMaxFields) {
      out.overflow = true;
      break;
    }
    out.f[out.n++] = line.substr(i, j - i);
    i = j;
  }
  return out;
}

}  // namespace pocketrec::data
