// Progress bar for long loops: "train epoch 3 [=====>    ] 52% 183k/351k  loss 4.2131  61.2k/s  ETA 2.7s".
// On a terminal it redraws one line; otherwise (CI logs) it prints a line at most every 10 s, so
// logs stay short. Nothing is printed for loops that end within the first second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pocketrec {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ~ProgressBar();
  // Advance by n units; `extra` (e.g. "loss 0.4213") is shown after the counters.
  void advance(int64_t n, const std::string& extra = "");
  void finish();
  static void set_enabled(bool enabled);  // global switch (off in tests)

 private:
  void draw(bool final_line);
  std::string label_, unit_, extra_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool tty_, drawn_ = false, finished_ = false;
};

}  // namespace pocketrec
