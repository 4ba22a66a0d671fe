#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace pocketrec {

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  tmp_path_ = path_ + ".tmp." + std::to_string(::getpid());
  f_ = std::fopen(tmp_path_.c_str(), "wb");
  PR_CHECK(f_ != nullptr, ErrorCode::kIo, "{}: cannot create temporary file: {}", tmp_path_, std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (f_ != nullptr) {
    std::fclose(f_);
    std::remove(tmp_path_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t n) {
  PR_ASSERT(f_ != nullptr, "write after commit");
  if (n == 0) return;
  PR_CHECK(std::fwrite(data, 1, n, f_) == n, ErrorCode::kIo, "{}: write failed: {}", tmp_path_, std::strerror(errno));
}

void AtomicFileWriter::commit() {
  PR_ASSERT(f_ != nullptr, "commit twice");
  bool ok = std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok) {
    std::remove(tmp_path_.c_str());
    PR_FAIL(ErrorCode::kIo, "{}: flush failed: {}", tmp_path_, std::strerror(errno));
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_path_.c_str());
    PR_FAIL(ErrorCode::kIo, "{}: rename failed: {}", path_, std::strerror(errno));
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  AtomicFileWriter w(path);
  w.write(contents);
  w.commit();
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  PR_CHECK(!ec, ErrorCode::kIo, "{}: cannot create directory: {}", path, ec.message());
}

}  // namespace pocketrec
