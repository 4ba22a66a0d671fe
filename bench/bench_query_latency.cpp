// Online inference time of trained runs' models, side by side in one process on one LibTorch
// thread: each of up to --queries test queries (spread over the test split) encoded and scored
// against every item on its own, as a device answering one request would; three rounds over all
// runs (so drift of the machine's speed hits every run alike), the median round per run. The runs
// must share their data and split (the data set is built once). Prints JSON
//   {"queries": n, "threads": 1, "us_per_query": {"<run dir>": microseconds, ...}}
// which `pocketrec distill-report --latency` reads for the RD paper's time column.
//   build/bench/bench_query_latency [--queries N] RUN_DIR...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/fit.h"
#include "app/options.h"
#include "app/process.h"
#include "app/run_directory.h"
#include "core/error.h"
#include "core/log.h"

using namespace pocketrec;

int main(int argc, char** argv) {
  app::prepare_process();
  size_t max_queries = 1000;
  std::vector<std::string> runs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--queries" && i + 1 < argc)
      max_queries = static_cast<size_t>(std::atoll(argv[++i]));
    else
      runs.push_back(a);
  }
  try {
    PR_CHECK(!runs.empty(), ErrorCode::kInvalidArgument, "usage: bench_query_latency [--queries N] RUN_DIR...");
    set_log_level(LogLevel::kWarn);
    app::RunSettings first = app::run_settings(app::read_run_config(runs[0]));
    first.process.torch_threads = 1;
    first.process.progress = false;
    app::setup_process(first.process);
    const data::Dataset d = data::build_dataset(first.data, first.split);
    const size_t n = std::min(max_queries, d.test.size());
    PR_CHECK(n > 0, ErrorCode::kInvalidArgument, "{}: no test queries to time", runs[0]);
    const nlohmann::json data_id = app::data_identity(first);
    std::vector<models::ModelInstance> models;
    std::vector<std::unique_ptr<eval::Scorer>> scorers;
    for (const auto& dir : runs) {
      const app::RunSettings s = app::run_settings(app::read_run_config(dir));
      PR_CHECK(app::data_identity(s) == data_id, ErrorCode::kInvalidArgument,
               "{}: other data.* or split.* settings than {}; timed runs must share their data", dir, runs[0]);
      models.push_back(app::load_run_model(dir, s, d, ""));
      scorers.push_back(models.back()->make_scorer(d));
    }
    std::vector<float> scores(static_cast<size_t>(d.n_items));
    auto seconds = [&](eval::Scorer& scorer) {
      const auto t0 = std::chrono::steady_clock::now();
      for (size_t i = 0; i < n; ++i) {
        const auto q = static_cast<int32_t>(i * d.test.size() / n);
        scorer.prepare(d.test, &q, 1);
        scorer.score(0, 1, 0, d.n_items, scores.data(), scores.size());
      }
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    for (auto& s : scorers) seconds(*s);  // warm-up
    constexpr int kRounds = 3;
    std::vector<std::vector<double>> t(runs.size());
    for (int round = 0; round < kRounds; ++round)
      for (size_t r = 0; r < scorers.size(); ++r) t[r].push_back(seconds(*scorers[r]));
    nlohmann::json out = {{"queries", n}, {"threads", 1}, {"us_per_query", nlohmann::json::object()}};
    for (size_t r = 0; r < runs.size(); ++r) {
      std::sort(t[r].begin(), t[r].end());
      out["us_per_query"][runs[r]] = 1e6 * t[r][kRounds / 2] / static_cast<double>(n);
    }
    std::printf("%s\n", out.dump(2).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_query_latency: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
