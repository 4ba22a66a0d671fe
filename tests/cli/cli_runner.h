// Helpers of the CLI tests: run the pocketrec binary, kill it mid-run, resume it, and the tiny
// data sets the tests train on.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "test_util.h"

namespace pocketrec::testing::cli {

namespace fs = std::filesystem;
struct CliRun {
  int code;
  std::string out;
};

// Runs `pocketrec args` (in `cwd` when given) and returns its exit code and output (stdout and stderr).
inline CliRun run(const std::string& args, const std::string& cwd = "") {
  std::string cmd =
      (cwd.empty() ? "" : "cd '" + cwd + "' && ") + std::string(POCKETREC_BINARY_DIR) + "/pocketrec " + args + " 2>&1";
  CliRun r{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A JSON file; `comments` allows the // comments of the committed configs.
inline nlohmann::json read_json(const std::string& path, bool comments = false) {
  return nlohmann::json::parse(pocketrec::read_file(path), nullptr, /*allow_exceptions=*/true, comments);
}

// Starts `pocketrec args` and sends it SIGKILL as soon as `watch` exists (polled every millisecond),
// the way a machine dies under a run. Returns true if the process was killed before it finished;
// false if it finished first (then nothing was interrupted and the caller retries with a new run).
inline bool run_killed_when(const std::string& args, const std::string& watch) {
  const std::string cmd = "exec " + std::string(POCKETREC_BINARY_DIR) + "/pocketrec " + args + " > /dev/null 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (fs::exists(watch)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// Kills `args --output.dir=DIR` right after its first checkpoint, then resumes it with --resume:
// the resumed run must end exactly as the uninterrupted one in `full_dir`. Retries (a new DIR each
// time) if the run finished before the signal landed, which only a very loaded machine allows.
inline void expect_killed_run_resumes_exactly(const std::string& args, const std::string& dir_prefix,
                                              const std::string& full_dir, std::string* resumed_dir = nullptr) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string dir = dir_prefix + std::to_string(attempt);
    if (!run_killed_when(args + " --output.dir=" + dir, dir + "/checkpoint_last.ckpt")) continue;
    ASSERT_FALSE(fs::exists(dir + "/results.json")) << "killed, yet finished";
    ASSERT_TRUE(fs::exists(dir + "/checkpoint_last.ckpt"));
    CliRun r = run(args + " --output.dir=" + dir + " --resume");
    ASSERT_EQ(r.code, 0) << r.out;
    auto a = nlohmann::json::parse(pocketrec::read_file(full_dir + "/results.json"));
    auto b = nlohmann::json::parse(pocketrec::read_file(dir + "/results.json"));
    EXPECT_TRUE(b["fit"]["resumed"].get<bool>());
    EXPECT_EQ(a["valid"]["metrics"], b["valid"]["metrics"]);
    EXPECT_EQ(a["test"]["metrics"], b["test"]["metrics"]);
    EXPECT_EQ(a["fit"]["best_epoch"], b["fit"]["best_epoch"]);
    EXPECT_EQ(a["fit"]["best_valid"], b["fit"]["best_valid"]);
    if (resumed_dir) *resumed_dir = dir;
    return;
  }
  FAIL() << "the run finished every time before it could be killed: " << args;
}

// Each epoch's training loss in a run's train_log.jsonl.
inline std::vector<double> epoch_losses(const std::string& path) {
  std::vector<double> v;
  for (const auto& line : pocketrec::split(pocketrec::read_file(path), '\n'))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line)["loss"].get<double>());
  return v;
}

// 40 users with 10 check-ins each over 30 items, timestamps increasing.
inline std::string checkins() {
  std::string s;
  for (int u = 0; u < 40; ++u)
    for (int k = 0; k < 10; ++k)
      s += std::to_string(u) + "\t" + std::to_string((u * 7 + k * 3) % 30) + "\t" + std::to_string(1000 + k) + ".0\n";
  return s;
}

// The check-ins written to DIR/d and the flags of a tiny OD-Rec SASRec on them (d = 8, max_len 5,
// selected on validation nDCG@5).
inline std::string tiny_odrec_sasrec(TempDir& t) {
  t.file("d/x_checkins.txt", checkins());
  return " --data.path=" + t.path() +
         "/d --model.name=sasrec --model.sasrec_variant=odrec --model.dim=8 --model.max_len=5 --eval.ks=5 "
         "--eval.valid_metric=ndcg@5 --output.progress=false";
}

}  // namespace pocketrec::testing::cli
