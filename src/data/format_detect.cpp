#include "data/format_detect.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "data/line_reader.h"

namespace fs = std::filesystem;

namespace pocketrec::data {
namespace {

bool is_pickle(const fs::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) return false;
  int c = std::fgetc(f);
  std::fclose(f);
  return c == 0x80;  // pickle protocol >= 2 opcode
}

std::string sniff_text_format(const std::string& path) {
  LineReader r(path);
  std::string_view line;
  size_t max_fields = 0;
  while (r.line_number() < 1000 && r.next(line)) {
    Fields f = split_fields(line);
    max_fields = std::max(max_fields, f.overflow ? Fields::kMaxFields + 1 : f.n);
  }
  return max_fields > 4 ? "sequence" : "triplet";
}

std::string find_one(const std::vector<fs::path>& files, const std::string& needle, const std::string& ext) {
  for (const auto& f : files) {
    auto name = f.filename().string();
    if (name.find(needle) != std::string::npos && f.extension() == ext) return f.string();
  }
  return "";
}

}  // namespace

DataSource resolve_data_source(const std::string& path, const std::string& format) {
  PR_CHECK(!path.empty(), ErrorCode::kInvalidArgument, "data.path is empty: give a dataset file or folder");
  PR_CHECK(fs::exists(path), ErrorCode::kNotFound, "{}: no such file or folder", path);
  DataSource src;
  if (!fs::is_directory(path)) {
    src.path = path;
    if (format != "auto") {
      src.format = format;
    } else if (fs::path(path).extension() == ".inter") {
      src.format = "inter";
    } else if (fs::path(path).filename().string().find("checkins") != std::string::npos) {
      src.format = "checkin";
    } else {
      src.format = sniff_text_format(path);
    }
    PR_CHECK(src.format != "session" && src.format != "presplit", ErrorCode::kInvalidArgument,
             "{}: format '{}' needs a folder with its train and test files", path, src.format);
    return src;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());

  std::string sessions = find_one(files, "train_sessions", ".txt"), samples = find_one(files, "test_samples", ".tsv");
  std::string checkins = find_one(files, "checkins", ".txt"), inter = find_one(files, "", ".inter");
  bool has_train = fs::exists(fs::path(path) / "train.txt"), has_test = fs::exists(fs::path(path) / "test.txt");

  auto want = [&](const std::string& f) { return format == "auto" || format == f; };
  if (want("session") && !sessions.empty() && !samples.empty()) {
    return {"session", sessions, samples};
  }
  if (want("checkin") && !checkins.empty()) return {"checkin", checkins, ""};
  if (want("inter") && !inter.empty()) return {"inter", inter, ""};
  if (want("presplit") && has_train && has_test) {
    auto train = (fs::path(path) / "train.txt").string();
    if (!is_pickle(train)) return {"presplit", train, (fs::path(path) / "test.txt").string()};
  }
  if (format == "session" || format == "checkin" || format == "inter" || format == "presplit")
    PR_FAIL(ErrorCode::kNotFound, "{}: no files for format '{}' in this folder", path, format);
  // A single plain-text data file.
  std::vector<fs::path> text;
  for (const auto& f : files) {
    auto name = f.filename().string();
    if (f.extension() == ".txt" && name.rfind("README", 0) != 0 && !is_pickle(f)) text.push_back(f);
  }
  auto seq = std::find_if(text.begin(), text.end(),
                          [](const fs::path& f) { return f.filename().string().find(".seq") != std::string::npos; });
  if (seq != text.end()) text = {*seq};
  PR_CHECK(text.size() == 1, ErrorCode::kNotFound,
           "{}: cannot tell which file holds the data ({} candidate .txt files); set data.path to the file", path,
           text.size());
  src.path = text[0].string();
  src.format = format == "auto" ? sniff_text_format(src.path) : format;
  return src;
}

}  // namespace pocketrec::data
