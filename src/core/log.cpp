#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>

namespace pocketrec {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
const auto g_start = std::chrono::steady_clock::now();
}  // namespace

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}
LogLevel log_level() {
  return static_cast<LogLevel>(g_level.load());
}

double seconds_since_start() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
}

void log_line(LogLevel level, const std::string& message) {
  const char* tag = level == LogLevel::kWarn ? " warning:" : "";
  std::fprintf(stderr, "[pocketrec %7.1fs]%s %s\n", seconds_since_start(), tag, message.c_str());
  std::fflush(stderr);
}

}  // namespace pocketrec
