// Loading a generated whitespace triplet file of 5M lines ("user item rating timestamp"):
// lines/s, MB/s, and peak RSS against the compact in-memory size of the interactions
// (goal: peak RSS <= 2x compact). The file is written once to $TMPDIR (removed at exit).
//   build/bench/bench_data_loading
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "bench_util.h"
#include "data/readers.h"

using namespace pocketrec;

namespace {

constexpr int64_t kLines = 5000000;

struct GeneratedFile {
  std::string path;
  size_t bytes = 0;
  GeneratedFile() {
    path = (std::filesystem::temp_directory_path() / "pocketrec_bench_5M.txt").string();
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<int> user(0, 199999), item(0, 499999), rating(1, 5);
    int64_t t = 1300000000;
    for (int64_t i = 0; i < kLines; ++i) std::fprintf(f, "%d %d %d %ld\n", user(rng), item(rng), rating(rng), t + i);
    std::fclose(f);
    bytes = std::filesystem::file_size(path);
  }
  ~GeneratedFile() { std::remove(path.c_str()); }
};

void BM_ReadTriplets(benchmark::State& state) {
  static GeneratedFile file;
  size_t rss_before = bench::current_rss_bytes();
  size_t compact = 0, ids = 0;
  for (auto _ : state) {
    data::InteractionTable t = data::read_triplets(file.path, "user item rating timestamp");
    compact = t.compact_bytes();
    ids = t.users.memory_bytes() + t.items.memory_bytes();
    benchmark::DoNotOptimize(t.user.data());
  }
  double peak = static_cast<double>(bench::peak_rss_bytes());
  state.counters["lines_per_s"] = benchmark::Counter(kLines, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MB_per_s"] = benchmark::Counter(file.bytes / 1e6, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["file_MB"] = file.bytes / 1e6;
  state.counters["compact_MB"] = compact / 1e6;
  state.counters["id_maps_MB"] = ids / 1e6;
  state.counters["rss_before_MB"] = rss_before / 1e6;
  state.counters["peak_rss_MB"] = peak / 1e6;
  state.counters["peak_over_compact"] = peak / compact;
}

}  // namespace

BENCHMARK(BM_ReadTriplets)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_MAIN();
