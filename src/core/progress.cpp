#include "core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include <fmt/format.h>

namespace pocketrec {
namespace {
std::atomic<bool> g_enabled{true};

std::string human(double v) {
  if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
  if (v >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}
}  // namespace

void ProgressBar::set_enabled(bool enabled) {
  g_enabled = enabled;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  tty_ = ::isatty(::fileno(stderr)) != 0;
}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::advance(int64_t n, const std::string& extra) {
  done_ += n;
  if (!extra.empty()) extra_ = extra;
  if (!g_enabled) return;
  auto now = std::chrono::steady_clock::now();
  double since_start = std::chrono::duration<double>(now - start_).count();
  double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (since_start < 1.0) return;
  if ((tty_ && since_draw >= 0.2) || (!tty_ && since_draw >= 10.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (g_enabled && drawn_) draw(true);
}

void ProgressBar::draw(bool final_line) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? done_ / secs : 0.0;
  double frac = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / total_) : 0.0;
  double eta = rate > 0 ? (total_ - done_) / rate : 0.0;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  std::string line =
      fmt::format("{} [{}] {:3.0f}% {}/{} {}  {}{}/s  {} {:.1f}s", label_, bar, frac * 100, human(done_), human(total_),
                  extra_, human(rate), unit_, final_line ? "took" : "ETA", final_line ? secs : eta);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace pocketrec
