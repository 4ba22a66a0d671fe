// The bookkeeping of a reproduction suite's stages (app/repro.cpp): the stamp that says whether a
// stage is done with today's settings, its outcome, and the provenance results.json records.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace pocketrec::app {

double seconds_since(std::chrono::steady_clock::time_point t0);

// The JSON file at `path`; Error(kBadFormat) naming it when it is not JSON.
nlohmann::json read_json_at(const std::string& path);

// The checked-out commit, "+modified" when tracked files outside docs/results (which repro itself
// rewrites) differ from it; "unknown" outside git. Asked of git once per process: the code that
// runs does not change while it runs.
std::string git_revision();

// "<arch>, <CPU model>, <n> CPUs" of this machine.
std::string machine_description();

// A stage's stamp file: the identity it last started with, when that invocation started and the
// time earlier invocations put into it, and once finished its wall time and the code revision that
// ran it. A stage is done when its stamp is finished with today's identity and its outputs exist.
class StageStamp {
 public:
  explicit StageStamp(std::string path);  // an unreadable stamp reads as none: the stage is redone
  bool matches(const nlohmann::json& identity) const;
  // A field of the wrong type reads as absent (unfinished, 0, ""), as an unreadable stamp does.
  bool done(const nlohmann::json& identity) const;
  // Of a finished stage: its own invocation's seconds plus those of the interrupted invocations it
  // continued (`resume`), each up to its last checkpoint.
  double wall_s() const;
  std::string git_rev() const;
  // A stage that starts over: no earlier time counts.
  void start(const nlohmann::json& identity);
  // The same stage continued from the progress an interrupted invocation saved in `progress_file`
  // (its last checkpoint): the time from that invocation's start to the file's last write is added
  // to what earlier interrupted invocations carried over, and what it computed after that write,
  // which is redone, does not count. Nothing earlier counts when the stamp is of other settings, is
  // finished, or does not say when its invocation started.
  void resume(const nlohmann::json& identity, const std::string& progress_file);
  void finish(const nlohmann::json& identity, double wall);

 private:
  void write(nlohmann::json j);
  std::string path_;
  nlohmann::json saved_;  // null when there is none
};

struct StageOutcome {
  nlohmann::json results;  // the run's results.json, the export's report or the probe's
  double wall_s = 0;
  std::string git_rev;  // of the code that ran the stage
};

}  // namespace pocketrec::app
