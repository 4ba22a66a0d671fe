// A reproduction suite (configs/repro/NAME.json): the runs behind one results page, each a
// committed config plus overrides, and what is done with them afterwards (exports checked by the
// runtime, PQ probes of a teacher's table, one on-device query). `pocketrec repro` runs it
// (workflows.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/workflows.h"

namespace pocketrec::app {

struct SuiteRun {
  std::string id;                      // names the run's folder and its row
  std::string role;                    // teacher | student | baseline
  std::string config;                  // its config file, resolved against the suite file's folder
  std::vector<std::string> overrides;  // "--key=value", after the config file
  std::string distill_from;            // the id of the run it is distilled from; empty: trained alone
  std::string compare_to;              // the teacher its row is compared with (distill_from by default)
  // Hyper-parameter grid: config key -> values. Every combination is trained (after `overrides`)
  // and the run is the one with the best validation metric; the others are listed in its row.
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;
  // Seeds (train.seed): the grid is selected with the first; the selected combination is then
  // trained with each further seed, and the row reports the mean and sample deviation over all of
  // them. Empty: the config's own seed, once.
  std::vector<int64_t> seeds;
  // The id of an earlier run whose selected grid values this run takes first (before its own
  // overrides): a student with its teacher's hyper-parameters but its own size.
  std::string same_settings_as;
};

// The overrides of each grid combination, in order (the last key varies fastest); one empty list
// when the run has no grid.
std::vector<std::vector<std::string>> grid_candidates(const SuiteRun& run);

struct SuiteQuery {
  std::string run;               // an exported run, answered from its first export
  std::vector<int64_t> history;  // original item ids, oldest first
  int64_t k = 10;
};

// A goal the page checks: `model`'s test `metric` at least `at_least` times `of`'s (both rows of
// the suite; a row averaged over seeds counts with its mean).
struct SuiteGoal {
  std::string model, metric, of;
  double at_least = 1;
};

// A run written as a .pocket file and checked by the runtime against LibTorch: `<run>.pocket` for
// fp32 weights, `<run>-<weight_type>.pocket` otherwise.
struct SuiteExport {
  std::string run;
  std::string weight_type = "fp32";  // fp32 | fp16 | int8 (ExportRequest::weight_type)
  std::string file_stem() const { return weight_type == "fp32" ? run : run + "-" + weight_type; }
};

// A run's no-training PQ ceiling (pq_probe): its item table replaced by PQ reconstructions with each
// setting. The settings' run_dir is left empty; the stage sets it to the run's folder.
struct SuiteProbe {
  std::string run;
  PqProbeRequest settings;
};

struct Suite {
  std::string path;  // the suite file
  std::string name, title;
  std::vector<std::string> quick;  // overrides of every run in --quick mode (a smaller budget)
  std::vector<SuiteRun> runs;      // in order; a run comes after the one it is distilled from
  // The runs' exports, in order; a run's row shows its first (file size, query time, parity), the
  // page's exported-files table all of them.
  std::vector<SuiteExport> exports;
  // The PQ probes, at most one per run (a probe writes one pq_probe.json in the run's folder).
  std::vector<SuiteProbe> probes;
  SuiteQuery query;  // query.run empty: none
  std::vector<SuiteGoal> goals;
  // A method paper's own numbers for rows of the suite (run id -> metric -> value), shown beside
  // ours on the page; `note` says where they come from and on which data.
  nlohmann::json paper;  // {"note": "...", "rows": {...}}; null: none
};

// Reads and checks a suite file: unknown keys, wrong types, duplicate or unknown run ids, a run
// distilled from a later one, a query of a run that is not exported and a probe setting that is not
// positive are errors naming the file and the key (Error kInvalidArgument).
Suite read_suite(const std::string& path);

// The suite file of `name_or_path`: the path itself when it names a file, else
// configs/repro/<name>.json under the working directory.
std::string suite_path(const std::string& name_or_path);

}  // namespace pocketrec::app
