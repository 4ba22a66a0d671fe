// Crash-safe file output: everything is written to "<path>.tmp.<pid>", fsync'ed and renamed over
// <path> only by commit(). A writer destroyed without commit() (an exception, a kill) removes its
// temp file, so a reader never sees a partial checkpoint, cache, model or results file.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

namespace pocketrec {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  void commit();  // flush, fsync, rename; the writer is closed afterwards
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_path_;
  std::FILE* f_ = nullptr;
};

// One-shot helper: atomically replace `path` with `contents`.
void write_file_atomic(const std::string& path, const std::string& contents);
// Creates a directory and its parents (no error if it exists).
void make_dirs(const std::string& path);

}  // namespace pocketrec
