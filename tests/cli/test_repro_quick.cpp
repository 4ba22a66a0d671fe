// Every committed reproduction suite (configs/repro/*.json) in its quick mode, as CI runs it: each
// output exists and holds sane values. These check the pipeline, not results: every metric a
// fraction, teachers above POP on validation, students smaller than their teachers, each run's grid
// and seeds all trained, exports exact against LibTorch, the PQ probes' metrics fractions, the plots
// drawn from the rows; and, per suite, the orderings its quick budget is known to keep.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "core/text.h"
#include "test_util.h"

using pocketrec::testing::TempDir;
using namespace pocketrec::testing::cli;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> committed_suites() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(std::string(POCKETREC_SOURCE_DIR) + "/configs/repro"))
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

double valid_of(const nlohmann::json& row, const std::string& metric) {
  return row["valid"][metric].get<double>();
}

// Pairs (better, worse) of run ids whose validation metric a suite's quick mode keeps in this order.
const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kQuickOrderings = {
    {"baselines-retailrocket", {{"itemcf", "pop"}, {"bpr", "pop"}}},
    {"baselines-tmall", {{"itemcf", "pop"}, {"bpr", "pop"}}},
    {"odrec-retailrocket", {{"teacher", "dense-d8"}}},
    {"odrec-tmall", {{"teacher", "dense-d4"}}},
    {"quickstart", {{"caser-rd", "caser-student"}}},
    {"rd-gowalla", {{"caser-rd", "caser-s"}}},
    {"rd-foursquare", {{"caser-rd", "caser-s"}}},
    {"teachers-ml-1m", {{"itemcf", "pop"}, {"teacher", "bpr"}}},
};

// (suite, run) of students that are larger than their teachers on the quick data only: an STT table
// of rank 240 over the quick data's 617 items outweighs the dense one (not so over Tmall's 40,728).
const std::set<std::pair<std::string, std::string>> kQuickLargerStudents = {{"odrec-tmall", "stt-r240"}};

class ReproQuick : public ::testing::TestWithParam<std::string> {};

TEST_P(ReproQuick, WritesASanePage) {
  const std::string name = GetParam();
  TempDir t;
  // From the source tree, where the suites name their configs.
  const CliRun quick = run("repro " + name + " --quick --runs " + t.path() + "/runs", POCKETREC_SOURCE_DIR);
  ASSERT_EQ(quick.code, 0) << quick.out;
  const std::string dir = t.path() + "/runs/results";
  const nlohmann::json page = read_json(dir + "/results.json");
  const nlohmann::json suite = read_json(std::string(POCKETREC_SOURCE_DIR) + "/configs/repro/" + name + ".json", true);
  EXPECT_TRUE(page["quick"].get<bool>());
  const std::string vm = page["valid_metric"];
  ASSERT_EQ(page["rows"].size(), suite["runs"].size());
  for (const auto& file : {"table.md", "size.svg", "size.png"}) EXPECT_TRUE(fs::exists(dir + "/" + file)) << file;

  std::map<std::string, nlohmann::json> rows;
  for (size_t i = 0; i < page["rows"].size(); ++i) {
    const nlohmann::json& row = page["rows"][i];
    const nlohmann::json& run = suite["runs"][i];
    const std::string id = row["model"];
    ASSERT_EQ(id, run["id"]);
    rows[id] = row;
    for (const char* split : {"valid", "test"})
      for (const auto& [metric, value] : row[split].items())
        EXPECT_TRUE(std::isfinite(value.get<double>()) && value >= 0.0 && value <= 1.0) << id << " " << metric;
    size_t combinations = 1;
    if (run.contains("grid"))
      for (const auto& [key, values] : run["grid"].items()) combinations *= values.size();
    EXPECT_EQ(row.contains("grid") ? row["grid"].size() : size_t{1}, combinations) << id;
    const size_t seeds = run.contains("seeds") ? run["seeds"].size() : 1;
    EXPECT_EQ(row.contains("seeds") ? row["seeds"].size() : size_t{1}, seeds) << id;
    if (seeds > 1) {  // different seeds train different models
      ASSERT_TRUE(row.contains("test_std") && row["test_std"].contains(vm)) << id;
      EXPECT_GT(row["test_std"][vm].get<double>(), 0.0) << id;
    }
    if (row.contains("test_groups"))  // target groups (eval.repeat_split) say how many queries each holds
      for (const auto& [group, metrics] : row["test_groups"].items())
        EXPECT_GT(row["test_group_queries"][group].get<int64_t>(), 0) << id << " " << group;
    if (row.contains("teacher") && !kQuickLargerStudents.count({name, id})) {
      const nlohmann::json& teacher = rows.at(row["teacher"].get<std::string>());
      EXPECT_LT(row["params"].get<int64_t>(), teacher["params"].get<int64_t>()) << id;
      if (row.contains("table_bytes") && teacher.contains("table_bytes"))
        EXPECT_LT(row["table_bytes"].get<int64_t>(), teacher["table_bytes"].get<int64_t>()) << id;
    }
  }
  if (rows.count("pop"))
    for (const auto& [id, row] : rows)
      if (row["role"] == "teacher") EXPECT_GT(valid_of(row, vm), valid_of(rows["pop"], vm)) << id;
  // Exports: fp32 files exact against LibTorch (and shown in their rows); smaller files keep most of
  // the top-20 lists.
  const nlohmann::json exports = suite.value("export", nlohmann::json::array());
  ASSERT_EQ(page["exports"].size(), exports.size());
  std::map<std::string, int64_t> fp32_bytes;
  for (const auto& x : page["exports"]) {
    const std::string id = x["run"], type = x["weight_type"];
    const nlohmann::json& v = x["verify"];
    EXPECT_GT(v["query_us"]["p50"].get<double>(), 0.0) << id << " " << type;
    if (type == "fp32") {
      fp32_bytes[id] = x["bytes"].get<int64_t>();
      EXPECT_LE(v["max_abs_score_diff"].get<double>(), 1e-4) << id;
      EXPECT_GE(v["top20_identical"].get<double>(), 0.99) << id;
      EXPECT_EQ(rows[id]["file_bytes"], x["bytes"]) << id;
      EXPECT_EQ(rows[id]["runtime_parity"]["max_abs_score_diff"], v["max_abs_score_diff"]) << id;
    } else {
      ASSERT_TRUE(fp32_bytes.count(id)) << id << ": the suites list the fp32 file first";
      EXPECT_LT(x["bytes"].get<int64_t>(), fp32_bytes[id]) << id << " " << type;
      EXPECT_GE(v["top20_overlap"].get<double>(), 0.9) << id << " " << type;
    }
  }
  // PQ probes: one entry per probe of the suite, every HR@20 and MRR@20 of every row a fraction.
  const nlohmann::json probes = suite.value("probe", nlohmann::json::array());
  ASSERT_EQ(page.value("probes", nlohmann::json::array()).size(), probes.size());
  for (size_t i = 0; i < probes.size(); ++i)
    for (const auto& r : page["probes"][i]["rows"])
      for (const char* split : {"valid", "test"})
        for (const char* metric : {"hr@20", "mrr@20"}) {
          const double value = r[split][metric].get<double>();
          EXPECT_TRUE(value >= 0.0 && value <= 1.0) << r["table"] << " " << split << " " << metric;
        }
  if (suite.contains("query")) EXPECT_EQ(page["query"]["top"].size(), suite["query"].value("k", 10u));
  if (const auto it = kQuickOrderings.find(name); it != kQuickOrderings.end())
    for (const auto& [better, worse] : it->second)
      EXPECT_GT(valid_of(rows.at(better), vm), valid_of(rows.at(worse), vm)) << better << " vs " << worse;
  // The item tables' plot (drawn for two rows with a table or more) has a point per such row, the
  // target groups' a bar per group.
  const std::string hm = page["metrics"].dump().find("\"hr@20\"") != std::string::npos ? "hr@20" : vm;
  const std::string tables = fs::exists(dir + "/tables.dat") ? pocketrec::read_file(dir + "/tables.dat") : "";
  const std::string groups = fs::exists(dir + "/groups.dat") ? pocketrec::read_file(dir + "/groups.dat") : "";
  auto has_table = [&](const nlohmann::json& row) { return row.contains("table_bytes") && row["test"].contains(hm); };
  const size_t with_table = std::count_if(rows.begin(), rows.end(), [&](const auto& r) { return has_table(r.second); });
  for (const auto& [id, row] : rows) {
    if (with_table >= 2 && has_table(row)) {
      EXPECT_NE(
          tables.find(fmt::format("{} {:.6f} ", row["table_bytes"].get<int64_t>(), row["test"][hm].get<double>())),
          std::string::npos)
          << id << "\n"
          << tables;
    }
    if (row.contains("test_groups") && row["test_groups"].contains("new")) {  // "new" is the row's last bar
      const size_t at = groups.find("\n" + id + " ");
      ASSERT_NE(at, std::string::npos) << id << "\n" << groups;
      const size_t line = at + 1, end = groups.find('\n', line);
      const std::string bars = groups.substr(line, end - line);
      EXPECT_EQ(bars.substr(bars.rfind(' ') + 1), fmt::format("{:.6f}", row["test_groups"]["new"][hm].get<double>()))
          << id << "\n"
          << groups;
    }
  }
  EXPECT_EQ(fs::exists(dir + "/tables.svg"), with_table >= 2);
  // Each numeric grid axis is drawn against the selection metric.
  for (const auto& [id, row] : rows)
    if (row.contains("grid") && row["grid"].size() > 1)
      EXPECT_NE(pocketrec::read_file(dir + "/table.md").find("](sweep-" + id + "-"), std::string::npos) << id;
}

INSTANTIATE_TEST_SUITE_P(Committed, ReproQuick, ::testing::ValuesIn(committed_suites()), [](const auto& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

}  // namespace
