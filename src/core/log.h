// Minimal leveled logging to stderr: "[pocketrec 12.3s] message".
#pragma once

#include <string>

#include <fmt/format.h>

namespace pocketrec {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kQuiet = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& message);
double seconds_since_start();

template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kInfo) log_line(LogLevel::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kWarn) log_line(LogLevel::kWarn, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace pocketrec
