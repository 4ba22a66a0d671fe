#include "app/repro_stage.h"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/text.h"

namespace pocketrec::app {
namespace {

std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    if (::pclose(p) != 0) out.clear();
  }
  return std::string(trim(out));
}

// Seconds since the Unix epoch, the clock of file modification times.
double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// j[key] when it is a number, else 0 (a stamp is written by this code, but may be edited by hand).
double number_at(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

// A stamp's "finished": true only when it is the boolean true (a stamp edited by hand reads as
// unfinished, so its stage is redone, never an exception).
bool is_finished(const nlohmann::json& j) {
  return j.is_object() && j.contains("finished") && j["finished"].is_boolean() && j["finished"].get<bool>();
}

}  // namespace

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json read_json_at(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  PR_CHECK(!j.is_discarded(), ErrorCode::kBadFormat, "{}: not valid JSON", path);
  return j;
}

std::string git_revision() {
  static const std::string revision = [] {
    const std::string rev = command_output("git rev-parse HEAD 2>/dev/null");
    if (rev.empty()) return std::string("unknown");
    const std::string changes =
        command_output("git status --porcelain --untracked-files=no -- . ':(exclude)docs/results' 2>/dev/null");
    return changes.empty() ? rev : rev + "+modified";
  }();
  return revision;
}

std::string machine_description() {
  std::string cpu;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; cpu.empty() && std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      cpu = std::string(trim(line.substr(line.find(':') + 1)));
  utsname u{};
  const std::string arch = ::uname(&u) == 0 ? u.machine : "unknown";
  return fmt::format("{}, {}{} CPUs", arch, cpu.empty() ? "" : cpu + ", ", std::thread::hardware_concurrency());
}

StageStamp::StageStamp(std::string path) : path_(std::move(path)) {
  if (std::filesystem::exists(path_))
    saved_ = nlohmann::json::parse(read_file(path_), nullptr, /*allow_exceptions=*/false);
  if (!saved_.is_object()) saved_ = nullptr;
}

bool StageStamp::done(const nlohmann::json& identity) const {
  return matches(identity) && is_finished(saved_);
}

double StageStamp::wall_s() const {
  return number_at(saved_, "wall_s");
}

std::string StageStamp::git_rev() const {
  return saved_.is_object() && saved_.contains("git_rev") && saved_["git_rev"].is_string()
             ? saved_["git_rev"].get<std::string>()
             : "";
}

bool StageStamp::matches(const nlohmann::json& identity) const {
  return saved_.is_object() && saved_.contains("identity") && saved_["identity"] == identity;
}

void StageStamp::start(const nlohmann::json& identity) {
  write({{"identity", identity}, {"finished", false}, {"started_at", unix_seconds_now()}, {"earlier_s", 0.0}});
}

void StageStamp::resume(const nlohmann::json& identity, const std::string& progress_file) {
  const double now = unix_seconds_now();
  double earlier = 0;
  struct stat st {};
  if (matches(identity) && !is_finished(saved_) && number_at(saved_, "started_at") > 0 &&
      ::stat(progress_file.c_str(), &st) == 0) {
    const double saved_at = static_cast<double>(st.st_mtim.tv_sec) + 1e-9 * static_cast<double>(st.st_mtim.tv_nsec);
    // A modification time ahead of this clock (another machine's file system) counts up to now.
    earlier = number_at(saved_, "earlier_s") + std::max(0.0, std::min(saved_at, now) - number_at(saved_, "started_at"));
  }
  write({{"identity", identity}, {"finished", false}, {"started_at", now}, {"earlier_s", earlier}});
}

void StageStamp::finish(const nlohmann::json& identity, double wall) {
  const double earlier = number_at(saved_, "earlier_s");
  write({{"identity", identity},
         {"finished", true},
         {"wall_s", earlier + wall},
         {"earlier_s", earlier},
         {"git_rev", git_revision()}});
}

void StageStamp::write(nlohmann::json j) {
  saved_ = std::move(j);
  write_file_atomic(path_, saved_.dump(2) + "\n");
}

}  // namespace pocketrec::app
