// `pocketrec repro` end to end on a tiny suite: the page it writes holds each run's own numbers,
// sizes, PQ probes and the runtime's answer; a second invocation redoes nothing; a changed teacher
// retrains the teacher and its student but not the rest; bad suite files are refused naming file and
// key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "core/text.h"
#include "test_util.h"

using pocketrec::testing::TempDir;
using namespace pocketrec::testing::cli;
namespace fs = std::filesystem;

namespace {

// A suite over the tiny check-ins: POP, a SASRec teacher, and its PQ student distilled by OD-Rec's
// KD, both exported; the student answers a query for the history 3 10.
std::string tiny_suite(TempDir& t, const std::string& teacher_seed) {
  t.file("d/x_checkins.txt", checkins());
  t.file("cfg/base.json", R"({
  "data": {"path": ")" + t.path() +
                              R"(/d"},
  "model": {"name": "sasrec", "sasrec_variant": "odrec", "dim": 8, "max_len": 5},
  "train": {"epochs": 2, "batch_size": 16, "patience": 0},
  "eval": {"ks": [5], "valid_metric": "ndcg@5"}
})");
  t.file("cfg/student.json", R"({
  // comments are allowed, as in every config
  "extends": "base.json",
  "model": {"item_table": "pq", "pq_subspaces": 4, "pq_codewords": 4},
  "distill": {"method": "odrec", "init_from_teacher": true}
})");
  return t.file("cfg/suite.json", R"({
  "name": "tiny",
  "title": "A tiny suite",
  "quick": ["--train.epochs=1"],
  "runs": [
    {"id": "pop", "role": "baseline", "config": "base.json", "set": ["--model.name=pop"]},
    {"id": "teacher", "role": "teacher", "config": "base.json", "set": ["--train.seed=)" +
                                      teacher_seed + R"("],
     "grid": {"train.lr": [0.01, 0.003]}},
    {"id": "student", "role": "student", "config": "student.json", "distill_from": "teacher"}
  ],
  "export": ["teacher", {"run": "student", "weight_type": "fp16"}, "student"],
  "query": {"run": "student", "history": [3, 10], "k": 4}
})");
}

}  // namespace

TEST(Cli, ReproWritesThePageFromTheRunsAndRedoesOnlyWhatChanged) {
  TempDir t;
  const std::string suite = tiny_suite(t, "1");
  const std::string runs = t.path() + "/runs", out = t.path() + "/out";
  const std::string cmd = "repro " + suite + " --runs " + runs + " --out " + out;
  CliRun first = run(cmd);
  ASSERT_EQ(first.code, 0) << first.out;

  const nlohmann::json page = read_json(out + "/results.json");
  EXPECT_EQ(page["name"], "tiny");
  EXPECT_EQ(page["command"], "pocketrec " + cmd);
  EXPECT_FALSE(page["quick"].get<bool>());
  EXPECT_GT(page["wall_s"].get<double>(), 0.0);
  EXPECT_FALSE(page["git_rev"].get<std::string>().empty());
  EXPECT_FALSE(page["machine"].get<std::string>().empty());
  EXPECT_EQ(page["valid_metric"], "ndcg@5");
  ASSERT_EQ(page["rows"].size(), 3u);
  double rows_wall = 0;
  for (const auto& row : page["rows"]) {
    const bool first_best = row.contains("grid") && row["valid"]["ndcg@5"] == row["grid"][0]["valid"]["ndcg@5"];
    const std::string grid = row.contains("grid") ? (first_best ? "/grid-0" : "/grid-1") : "";
    const nlohmann::json own = read_json(runs + "/" + row["model"].get<std::string>() + grid + "/results.json");
    EXPECT_EQ(row["valid"], own["valid"]["metrics"]) << row["model"];  // the page copies, it never recomputes
    EXPECT_EQ(row["test"], own["test"]["metrics"]) << row["model"];
    EXPECT_EQ(row["params"], own["n_parameters"]);
    EXPECT_EQ(row["selected_on"], "valid");
    rows_wall += row["wall_s"].get<double>();
  }
  const nlohmann::json &pop = page["rows"][0], &teacher = page["rows"][1], &student = page["rows"][2];
  EXPECT_EQ(pop["role"], "baseline");
  EXPECT_EQ(pop["method"], "supervised");
  EXPECT_FALSE(pop.contains("file_bytes"));
  EXPECT_EQ(teacher["role"], "teacher");
  // The grid: both learning rates trained, the validation-best kept, and the student taught by it.
  ASSERT_EQ(teacher["grid"].size(), 2u);
  const double v0 = teacher["grid"][0]["valid"]["ndcg@5"], v1 = teacher["grid"][1]["valid"]["ndcg@5"];
  const int chosen = v1 > v0 ? 1 : 0;
  EXPECT_EQ(teacher["valid"]["ndcg@5"].get<double>(), std::max(v0, v1));
  EXPECT_EQ(teacher["config"]["set"][1], chosen == 0 ? "--train.lr=0.01" : "--train.lr=0.003");
  EXPECT_EQ(read_json(runs + "/student/results.json")["teacher"], runs + "/teacher/grid-" + std::to_string(chosen));
  EXPECT_EQ(student["teacher"], "teacher");
  EXPECT_EQ(student["method"], "odrec");
  EXPECT_EQ(student["config"]["file"], t.path() + "/cfg/student.json");
  // Sizes: the student's table is 4 one-byte codes per item plus 4 x 4 x 2 codebook floats.
  const int64_t n_items = read_json(runs + "/student/results.json")["n_items"];
  EXPECT_EQ(student["table_bytes"].get<int64_t>(), 4 * n_items + 4 * 4 * 2 * 4);
  EXPECT_EQ(teacher["table_bytes"].get<int64_t>() % (8 * 4), 0);
  EXPECT_EQ(teacher["file_bytes"].get<uint64_t>(), fs::file_size(runs + "/teacher.pocket"));
  EXPECT_LE(teacher["runtime_parity"]["max_abs_score_diff"].get<double>(), 1e-4);
  for (const auto* row : {&teacher, &student}) {
    EXPECT_EQ((*row)["git_rev"], page["git_rev"]);
    EXPECT_GT((*row)["query_us"]["p50"].get<double>(), 0.0);
    EXPECT_GE((*row)["query_us"]["p99"].get<double>(), (*row)["query_us"]["p50"].get<double>());
    EXPECT_EQ((*row)["curve"].size(), 2u);  // two epochs, each with its validation metric
    EXPECT_TRUE((*row)["curve"][1]["valid"].contains("ndcg@5"));
  }
  // Every export in the suite's order; a row shows its run's first (the student's fp16 file), the
  // query is answered from it.
  ASSERT_EQ(page["exports"].size(), 3u);
  const nlohmann::json& half = page["exports"][1];
  EXPECT_EQ(half["weight_type"], "fp16");
  EXPECT_EQ(half["file"], runs + "/student-fp16.pocket");
  EXPECT_EQ(half["bytes"].get<uint64_t>(), fs::file_size(runs + "/student-fp16.pocket"));
  EXPECT_LT(half["bytes"].get<uint64_t>(), fs::file_size(runs + "/student.pocket"));
  EXPECT_EQ(page["exports"][2]["bytes"].get<uint64_t>(), fs::file_size(runs + "/student.pocket"));
  EXPECT_GT(half["verify"]["max_abs_score_diff"].get<double>(), 0.0);  // fp16 weights round the scores
  EXPECT_EQ(half["verify"]["hr@20_libtorch"], page["exports"][2]["verify"]["hr@20_libtorch"]);
  EXPECT_EQ(student["file_bytes"], half["bytes"]);
  EXPECT_EQ(page["query"]["file"], runs + "/student-fp16.pocket");
  // The page's wall time is every stage's own: the runs' (each grid's sum) and the three exports'.
  double exports_wall = 0;
  for (const char* e : {"teacher", "student", "student-fp16"})
    exports_wall += read_json(runs + "/" + e + ".export-stage.json")["wall_s"].get<double>();
  EXPECT_GT(exports_wall, 0.0);
  EXPECT_NEAR(page["wall_s"].get<double>(), rows_wall + exports_wall, 1e-9);
  ASSERT_EQ(page["query"]["top"].size(), 4u);
  for (const auto& item : page["query"]["top"]) {
    EXPECT_NE(item["item"].get<int64_t>(), 3);  // the history's items are left out
    EXPECT_NE(item["item"].get<int64_t>(), 10);
  }
  const std::string table = pocketrec::read_file(out + "/table.md");
  EXPECT_NE(table.find("| student | teacher |"), std::string::npos) << table;
  EXPECT_NE(table.find(fmt::format("| student | fp16 | {} | 1.0 |", half["bytes"].get<int64_t>())), std::string::npos)
      << table;
  EXPECT_NE(table.find(fmt::format(" {:.4f} |", student["test"]["ndcg@5"].get<double>())), std::string::npos) << table;
  for (const char* plot : {"size.png", "size.svg", "size.dat", "curves.png", "curves.svg", "curves.dat"})
    EXPECT_GT(fs::file_size(out + "/" + plot), 0u) << plot;

  // Again: nothing is retrained or re-exported, and the page is the same.
  const auto stamp = fs::last_write_time(runs + "/student/model.prarr");
  const auto pop_stamp = fs::last_write_time(runs + "/pop/repro_stage.json");
  CliRun second = run(cmd);
  ASSERT_EQ(second.code, 0) << second.out;
  for (const char* id : {"pop", "teacher", "student"})
    EXPECT_NE(second.out.find(std::string("repro: ") + id + " is up to date"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("student.pocket is up to date"), std::string::npos) << second.out;
  EXPECT_EQ(fs::last_write_time(runs + "/student/model.prarr"), stamp);
  EXPECT_EQ(read_json(out + "/results.json")["rows"], page["rows"]);

  // Another teacher seed: the teacher and the student it teaches are redone, POP is not.
  tiny_suite(t, "2");
  CliRun third = run(cmd);
  ASSERT_EQ(third.code, 0) << third.out;
  EXPECT_NE(third.out.find("repro: pop is up to date"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("repro: teacher is up to date"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("repro: student is up to date"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("student.pocket is up to date"), std::string::npos) << third.out;
  EXPECT_EQ(fs::last_write_time(runs + "/pop/repro_stage.json"), pop_stamp);
  const nlohmann::json redone = read_json(out + "/results.json");
  EXPECT_EQ(redone["rows"][0]["test"], pop["test"]);
  EXPECT_EQ(redone["rows"][1]["config"]["set"][0], "--train.seed=2");

  // --quick writes under the runs folder, with the suite's smaller budget.
  CliRun quick = run("repro " + suite + " --quick --runs " + t.path() + "/quick");
  ASSERT_EQ(quick.code, 0) << quick.out;
  const nlohmann::json q = read_json(t.path() + "/quick/results/results.json");
  EXPECT_TRUE(q["quick"].get<bool>());
  EXPECT_EQ(q["rows"][1]["epochs_run"], 1);
}

TEST(Cli, ReproRefusesABadSuiteNamingFileAndKey) {
  TempDir t;
  tiny_suite(t, "1");
  auto refused = [&](const std::string& text, const std::string& expected) {
    const std::string path = t.file("cfg/bad.json", text);
    CliRun r = run("repro " + path + " --runs " + t.path() + "/runs --out " + t.path() + "/out");
    EXPECT_EQ(r.code, 2) << text << "\n" << r.out;
    EXPECT_NE(r.out.find(path + ": " + expected), std::string::npos) << r.out;
  };
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json", "sett": []}]})",
          "unknown key 'runs[0].sett' (did you mean 'runs[0].set'?)");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "tutor", "config": "base.json"}]})",
          "key 'runs[0].role': expected teacher, student or baseline, got 'tutor'");
  refused(R"({"name": "x", "runs": [{"id": "s", "role": "student", "config": "student.json", "distill_from": "t"}]})",
          "key 'runs[0].distill_from': 't' is not a run listed before 's'");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "query": {"run": "a", "history": [1]}})",
          "key 'query.run': 'a' is not exported");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json", "set": "--x=1"}]})",
          "key 'runs[0].set': wrong type");
  refused(R"({"runs": []})", "key 'name' is required");
  refused(R"({"name": "../x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}]})",
          "key 'name': '../x' must be lower-case letters");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}], "export": ["a"],
              "query": {"run": "a", "history": [1.5]}})",
          "key 'query.history': expected a list of integer item ids");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "export": ["a", {"run": "a", "weight_type": "int4"}]})",
          "key 'export[1].weight_type': 'int4' is not fp32, fp16 or int8");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "export": ["a", {"run": "a", "weight_type": "fp32"}]})",
          "key 'export[1]': a (fp32) is exported twice");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "export": [{"run": "b", "weight_type": "int8"}]})",
          "key 'export[0]': 'b' is not a run of the suite");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "export": [{"run": "a", "dtype": "int8"}]})",
          "unknown key 'export[0].dtype'");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json", "seeds": [1, 2, 1]}]})",
          "key 'runs[0].seeds': 1 is listed twice");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json", "same_settings_as": "b"}]})",
          "key 'runs[0].same_settings_as': 'b' is not a run listed before 'a'");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"},
                                    {"id": "b", "role": "student", "config": "base.json", "same_settings_as": "a"},
                                    {"id": "c", "role": "student", "config": "base.json", "same_settings_as": "b"}]})",
          "key 'runs[2].same_settings_as': 'b' takes its own settings from 'a'; name that run instead");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "goals": [{"model": "a", "metric": "map", "of": "b", "at_least": 1}]})",
          "key 'goals[0].of': 'b' is not a run of the suite");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "goals": [{"model": "a", "metric": "hr@99", "of": "a", "at_least": 1}]})",
          "key 'goals[0].metric': the runs report no metric 'hr@99'");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "paper": {"note": "n", "rows": {"z": {"map": 0.1}}}})",
          "key 'paper.rows.z': not a run of the suite");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "probe": [{"run": "a", "subspace": [8]}]})",
          "unknown key 'probe[0].subspace' (did you mean 'probe[0].subspaces'?)");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "probe": [{"run": "b"}]})",
          "key 'probe[0].run': 'b' is not a run of the suite");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "probe": [{"run": "a", "subspaces": [8, 0]}]})",
          "key 'probe[0].subspaces': expected a non-empty list of positive integers, got [8,0]");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "probe": [{"run": "a", "codewords": -1}]})",
          "key 'probe[0].codewords': expected a positive integer, got -1");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "probe": [{"run": "a", "rotation": [0]}]})",
          "key 'probe[0].rotation': wrong type");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "probe": [{"run": "a"}, {"run": "a", "subspaces": [2]}]})",
          "key 'probe[1]': 'a' is probed twice");
  // What pq_probe would refuse after every run has trained is refused before the first.
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"}],
              "probe": [{"run": "a", "subspaces": [4, 3]}]})",
          "key 'probe[0].subspaces': 3 does not divide model.dim = 8 of 'a'");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json",
                                     "set": ["--model.item_table=pq", "--model.pq_subspaces=4"]}],
              "probe": [{"run": "a"}]})",
          "key 'probe[0].run': 'a' is a sasrec model with a pq item table; a probe quantises a dense SASRec table");
  // A bad config key in the second run is found before the first is trained.
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"},
                                    {"id": "b", "role": "teacher", "config": "base.json", "set": ["--train.epoch=1"]}]})",
          "runs[1] ('b'): ");
  refused(R"({"name": "x", "runs": [{"id": "a", "role": "teacher", "config": "base.json"},
                                    {"id": "b", "role": "teacher", "config": "base.json", "set": ["--eval.ks=3"]}]})",
          "runs[1] ('b') has other data, split or evaluation settings than runs[0]");
  EXPECT_FALSE(fs::exists(t.path() + "/runs/a"));
  EXPECT_FALSE(fs::exists(t.path() + "/out/results.json"));
}

// Seeds and shared settings: a student takes its teacher's selected grid value, is trained with
// each seed in its own folder, and its row is the mean over the seeds with the sample deviation;
// the teacher's grid is drawn against the selection metric; a refitted run says so.
TEST(Cli, ReproAveragesSeedsTakesTheTeachersSettingsAndMarksRefits) {
  TempDir t;
  tiny_suite(t, "1");
  const std::string suite = t.file("cfg/seeds.json", R"({
  "name": "seeds",
  "runs": [
    {"id": "teacher", "role": "teacher", "config": "base.json", "grid": {"train.lr": [0.01, 0.003]}},
    {"id": "small", "role": "student", "config": "base.json", "set": ["--model.dim=4"],
     "same_settings_as": "teacher", "compare_to": "teacher", "seeds": [5, 6]},
    {"id": "refitted", "role": "baseline", "config": "base.json", "set": ["--train.refit=true"]}
  ],
  "goals": [{"model": "small", "metric": "ndcg@5", "of": "teacher", "at_least": 0.01},
            {"model": "small", "metric": "ndcg@5", "of": "teacher", "at_least": 100}],
  "paper": {"note": "A paper's numbers on other data.", "rows": {"teacher": {"ndcg@5": 0.5}}}
})");
  const std::string runs = t.path() + "/runs", out = t.path() + "/out";
  CliRun r = run("repro " + suite + " --runs " + runs + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json page = read_json(out + "/results.json");
  const nlohmann::json &teacher = page["rows"][0], &small = page["rows"][1], &refitted = page["rows"][2];
  const std::string selected = teacher["config"]["set"][0];
  EXPECT_EQ(small["config"]["set"], nlohmann::json({selected, "--model.dim=4", "--train.seed=5"}));
  ASSERT_EQ(small["seeds"].size(), 2u);
  double sum = 0, a = 0, b = 0;
  for (int i = 0; i < 2; ++i) {
    const int seed = 5 + i;
    const nlohmann::json own = read_json(runs + "/small/seed-" + std::to_string(seed) + "/results.json");
    EXPECT_EQ(small["seeds"][i]["seed"], seed);
    EXPECT_EQ(small["seeds"][i]["test"], own["test"]["metrics"]);
    EXPECT_EQ(own["config"]["train"]["seed"], seed);
    EXPECT_EQ(own["config"]["train"]["lr"].dump(), selected.substr(selected.find('=') + 1));
    (i == 0 ? a : b) = own["test"]["metrics"]["ndcg@5"].get<double>();
    sum += own["test"]["metrics"]["ndcg@5"].get<double>();
  }
  EXPECT_NE(a, b);  // the seeds train different models
  EXPECT_DOUBLE_EQ(small["test"]["ndcg@5"].get<double>(), sum / 2);
  EXPECT_NEAR(small["test_std"]["ndcg@5"].get<double>(), std::abs(a - b) / std::sqrt(2.0), 1e-12);
  for (const auto& g : teacher["grid"]) EXPECT_TRUE(g["test"].contains("ndcg@5"));
  EXPECT_TRUE(refitted["refitted"].get<bool>());
  EXPECT_FALSE(teacher.contains("refitted"));
  const std::string table = pocketrec::read_file(out + "/table.md");
  EXPECT_NE(table.find(fmt::format("{:.4f} ± {:.4f}", sum / 2, std::abs(a - b) / std::sqrt(2.0))), std::string::npos)
      << table;
  EXPECT_NE(table.find("supervised (refitted)"), std::string::npos) << table;
  EXPECT_NE(table.find("](sweep-teacher-train.lr.svg)"), std::string::npos) << table;
  EXPECT_GT(fs::file_size(out + "/sweep-teacher-train.lr.svg"), 0u);
  // Goals: the ratio of the two rows' test values (the student's mean over its seeds), met or not.
  ASSERT_EQ(page["goals"].size(), 2u);
  const double ratio = (sum / 2) / teacher["test"]["ndcg@5"].get<double>();
  EXPECT_DOUBLE_EQ(page["goals"][0]["ratio"].get<double>(), ratio);
  EXPECT_TRUE(page["goals"][0]["met"].get<bool>());
  EXPECT_FALSE(page["goals"][1]["met"].get<bool>());
  EXPECT_NE(table.find(fmt::format("| small | teacher | ndcg@5 | {:.3f} | ≥ 100 | **missed** |", ratio)),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("A paper's numbers on other data."), std::string::npos) << table;
  EXPECT_NE(table.find(fmt::format("| teacher | ndcg@5 | {:.4f} | 0.5000 |", teacher["test"]["ndcg@5"].get<double>())),
            std::string::npos)
      << table;
  EXPECT_EQ(pocketrec::read_file(out + "/sweep-teacher-train.lr.dat").find("# train.lr, valid ndcg@5"), 0u);
}

// A probe stage: the teacher's item table replaced by PQ reconstructions, nothing retrained, for each
// M (dividing d = 8) without and with a rotation; the probe's rows in results.json and its table on the
// page; a second repro does not probe again, other settings do.
TEST(Cli, ReproProbesTheTeachersItemTableOncePerSettings) {
  TempDir t;
  tiny_suite(t, "1");
  auto probe_suite = [&](const std::string& subspaces) {
    return t.file("cfg/probe.json", R"({
  "name": "probe",
  "runs": [{"id": "teacher", "role": "teacher", "config": "base.json"}],
  // K = 4: PQ needs at least K items, and the tiny data has 30
  "probe": [{"run": "teacher", "subspaces": )" +
                                        subspaces +
                                        R"(, "rotation": [false, true], "codewords": 4}]
})");
  };
  const std::string suite = probe_suite("[2, 4]");
  const std::string runs = t.path() + "/runs", out = t.path() + "/out";
  const std::string cmd = "repro " + suite + " --runs " + runs + " --out " + out;
  CliRun first = run(cmd);
  ASSERT_EQ(first.code, 0) << first.out;
  const nlohmann::json page = read_json(out + "/results.json");
  ASSERT_EQ(page["probes"].size(), 1u);
  const nlohmann::json& probe = page["probes"][0];
  EXPECT_EQ(probe["run"], "teacher");
  EXPECT_EQ(probe["settings"], nlohmann::json({{"subspaces", {2, 4}}, {"rotation", {false, true}}, {"codewords", 4}}));
  EXPECT_EQ(probe["rows"], read_json(runs + "/teacher/pq_probe.json")["rows"]);  // the probe's own rows, copied
  ASSERT_EQ(probe["rows"].size(), 5u);  // the dense teacher, then M = 2 and 4, each without and with a rotation
  EXPECT_EQ(probe["rows"][0]["table"], "teacher (dense)");
  EXPECT_EQ(probe["rows"][4]["subspaces"], 4);
  EXPECT_TRUE(probe["rows"][4]["rotation"].get<bool>());
  for (const auto& row : probe["rows"])
    for (const char* split : {"valid", "test"})
      for (const char* metric : {"hr@20", "mrr@20"}) {
        const double value = row[split][metric].get<double>();
        EXPECT_TRUE(value >= 0.0 && value <= 1.0) << row["table"] << " " << split << " " << metric;
      }
  const std::string table = pocketrec::read_file(out + "/table.md");
  EXPECT_NE(table.find("## PQ ceiling (teacher's table quantised, nothing retrained): teacher\n"), std::string::npos)
      << table;
  EXPECT_NE(table.find("| teacher (dense) | "), std::string::npos) << table;

  const auto written = fs::last_write_time(runs + "/teacher/pq_probe.json");
  CliRun second = run(cmd);
  ASSERT_EQ(second.code, 0) << second.out;
  EXPECT_NE(second.out.find("repro: the PQ probe of teacher is up to date"), std::string::npos) << second.out;
  EXPECT_EQ(fs::last_write_time(runs + "/teacher/pq_probe.json"), written);
  EXPECT_EQ(read_json(out + "/results.json")["probes"], page["probes"]);

  // `pocketrec pq-probe` by hand writes the same file with other settings: the stage probes again.
  CliRun by_hand = run("pq-probe " + runs + "/teacher --subspaces 2 --codewords 4 --rotation no");
  ASSERT_EQ(by_hand.code, 0) << by_hand.out;
  ASSERT_EQ(read_json(runs + "/teacher/pq_probe.json")["rows"].size(), 2u);
  CliRun after_hand = run(cmd);
  ASSERT_EQ(after_hand.code, 0) << after_hand.out;
  EXPECT_EQ(after_hand.out.find("the PQ probe of teacher is up to date"), std::string::npos) << after_hand.out;
  EXPECT_EQ(read_json(out + "/results.json")["probes"], page["probes"]);
  // A report edited into types the tool never writes is not the stage's either: probed again.
  t.file("runs/teacher/pq_probe.json", R"({"codewords": "4", "rows": {"0": 1}})");
  CliRun after_edit = run(cmd);
  ASSERT_EQ(after_edit.code, 0) << after_edit.out;
  EXPECT_EQ(after_edit.out.find("the PQ probe of teacher is up to date"), std::string::npos) << after_edit.out;
  EXPECT_EQ(read_json(out + "/results.json")["probes"], page["probes"]);

  probe_suite("[4]");
  CliRun third = run(cmd);
  ASSERT_EQ(third.code, 0) << third.out;
  EXPECT_NE(third.out.find("repro: teacher is up to date"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("the PQ probe of teacher is up to date"), std::string::npos) << third.out;
  EXPECT_EQ(read_json(out + "/results.json")["probes"][0]["rows"].size(), 3u);
}

// A grid of refitted runs (train.refit) selects without refitting and refits only the winner, in
// <id>/refit, resumed from the winner's checkpoints: the result is exactly that of training the
// winner with train.refit=true from the start, and the winner's refitted model teaches the student.
TEST(Cli, ReproRefitsOnlyTheGridsWinner) {
  TempDir t;
  tiny_suite(t, "1");
  const std::string suite = t.file("cfg/refits.json", R"({
  "name": "refits",
  "runs": [
    {"id": "itemcf", "role": "baseline", "config": "base.json",
     "set": ["--model.name=itemcf", "--train.refit=true"], "grid": {"model.itemcf_neighbors": [0, 5]}},
    {"id": "teacher", "role": "teacher", "config": "base.json",
     "set": ["--train.refit=true", "--train.epochs=6", "--train.patience=1"], "grid": {"train.lr": [0.01, 0.003]}},
    {"id": "student", "role": "student", "config": "student.json", "distill_from": "teacher"}
  ]
})");
  const std::string runs = t.path() + "/runs", out = t.path() + "/out";
  const std::string cmd = "repro " + suite + " --runs " + runs + " --out " + out;
  CliRun r = run(cmd);
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json page = read_json(out + "/results.json");
  for (const char* id : {"itemcf", "teacher"}) {
    const nlohmann::json& row = page["rows"][std::string(id) == "itemcf" ? 0 : 1];
    for (int c = 0; c < 2; ++c) {  // each combination selected, none refitted
      const nlohmann::json own = read_json(runs + "/" + id + "/grid-" + std::to_string(c) + "/results.json");
      EXPECT_FALSE(own.contains("refit")) << id << c;
      EXPECT_FALSE(own["config"]["train"]["refit"].get<bool>()) << id << c;
      EXPECT_EQ(row["grid"][c]["valid"], nlohmann::json({{"ndcg@5", own["valid"]["metrics"]["ndcg@5"]}})) << id << c;
    }
    const int chosen = row["selected"].get<int>();
    const nlohmann::json winner = read_json(runs + "/" + id + "/grid-" + std::to_string(chosen) + "/results.json");
    const nlohmann::json refit = read_json(runs + "/" + id + "/refit/results.json");
    EXPECT_TRUE(refit.contains("refit")) << id;
    EXPECT_TRUE(row["refitted"].get<bool>()) << id;
    EXPECT_EQ(row["valid"], winner["valid"]["metrics"]) << id;  // the selected model's validation
    EXPECT_EQ(row["test"], refit["test"]["metrics"]) << id;     // the refitted model's test
    if (std::string(id) == "teacher") EXPECT_NE(row["test"], winner["test"]["metrics"]);  // ItemCF's are all 1 here
  }
  // The teacher's refit equals a run of the winning settings refitted from the start (which stops
  // early or not: both resume to the same end).
  auto expect_refit_as_direct = [&](const nlohmann::json& teacher, const std::string& name) {
    const std::string lr = teacher["config"]["set"].back();
    const nlohmann::json refit = read_json(runs + "/teacher/refit/results.json");
    EXPECT_TRUE(refit["fit"]["resumed"].get<bool>());
    // Continued from the winner's checkpoints, the refit's time is its own: the winner's is its stage's.
    EXPECT_EQ(read_json(runs + "/teacher/refit/repro_stage.json")["earlier_s"].get<double>(), 0.0);
    EXPECT_EQ(refit["config"]["train"]["lr"].dump(), lr.substr(lr.find('=') + 1));
    CliRun direct = run("train -c " + t.path() + "/cfg/base.json --train.refit=true --train.epochs=6 " +
                        "--train.patience=1 " + lr + " --output.progress=false --output.dir=" + t.path() + "/" + name);
    ASSERT_EQ(direct.code, 0) << direct.out;
    const nlohmann::json plain = read_json(t.path() + "/" + name + "/results.json");
    EXPECT_EQ(refit["valid"]["metrics"], plain["valid"]["metrics"]);
    EXPECT_EQ(refit["test"]["metrics"], plain["test"]["metrics"]);
    for (const char* key : {"best_epoch", "epochs_run", "stopped_early"})
      EXPECT_EQ(refit["fit"][key], plain["fit"][key]);
    EXPECT_EQ(refit["refit"]["epochs"], plain["refit"]["epochs"]);
    EXPECT_EQ(pocketrec::read_file(runs + "/teacher/refit/model.prarr"),
              pocketrec::read_file(t.path() + "/" + name + "/model.prarr"));
  };
  expect_refit_as_direct(page["rows"][1], "direct");
  EXPECT_EQ(read_json(runs + "/student/results.json")["teacher"], runs + "/teacher/refit");
  // Again: nothing is redone.
  CliRun again = run(cmd);
  ASSERT_EQ(again.code, 0) << again.out;
  for (const char* id : {"itemcf", "teacher", "student"})
    EXPECT_NE(again.out.find(std::string("repro: ") + id + " is up to date"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("resumed"), std::string::npos) << again.out;
  EXPECT_EQ(read_json(out + "/results.json")["rows"], page["rows"]);
  // Another grid: whichever combination wins now, its refit is redone from its own checkpoints.
  const std::string grid = "\"grid\": {\"train.lr\": [0.01, 0.003]}";
  std::string text = pocketrec::read_file(suite);
  text.replace(text.rfind(grid), grid.size(), "\"grid\": {\"train.lr\": [0.03, 0.001]}");
  t.file("cfg/refits.json", text);
  CliRun changed = run(cmd);
  ASSERT_EQ(changed.code, 0) << changed.out;
  EXPECT_EQ(changed.out.find("repro: teacher is up to date"), std::string::npos) << changed.out;
  EXPECT_NE(changed.out.find("resumed from " + runs + "/teacher/grid-"), std::string::npos) << changed.out;
  expect_refit_as_direct(read_json(out + "/results.json")["rows"][1], "direct-2");
}

// A repro killed in the middle of a training continues from that training's last checkpoint and
// ends with the metrics of an uninterrupted run.
TEST(Cli, ReproKilledMidTrainingResumesFromItsCheckpoint) {
  TempDir t;
  tiny_suite(t, "1");
  const std::string suite = t.file("cfg/long.json", R"({
  "name": "long",
  "runs": [{"id": "teacher", "role": "teacher", "config": "base.json",
            "set": ["--train.epochs=20", "--train.seed=3"]}]
})");
  const std::string whole = t.path() + "/whole";
  // SIGKILL once the training has written a checkpoint (run_killed_when); a new folder for each
  // attempt in case the run finished first, which only a very loaded machine allows.
  std::string killed;
  for (int attempt = 0; attempt < 3 && killed.empty(); ++attempt) {
    const std::string dir = t.path() + "/killed" + std::to_string(attempt);
    if (run_killed_when("repro " + suite + " --runs " + dir + " --out " + dir + "/out",
                        dir + "/teacher/checkpoint_last.ckpt"))
      killed = dir;
  }
  ASSERT_FALSE(killed.empty()) << "the suite finished every time before it could be killed";
  ASSERT_FALSE(fs::exists(killed + "/teacher/results.json"));

  CliRun resumed = run("repro " + suite + " --runs " + killed + " --out " + killed + "/out");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find(", resumed)"), std::string::npos) << resumed.out;
  // The killed invocation's time up to its checkpoint is part of the stage's wall time.
  const nlohmann::json stamp = read_json(killed + "/teacher/repro_stage.json");
  EXPECT_GT(stamp["earlier_s"].get<double>(), 0.0) << stamp.dump();
  EXPECT_GT(stamp["wall_s"].get<double>(), stamp["earlier_s"].get<double>()) << stamp.dump();
  CliRun uninterrupted = run("repro " + suite + " --runs " + whole + " --out " + whole + "/out");
  ASSERT_EQ(uninterrupted.code, 0) << uninterrupted.out;
  const nlohmann::json a = read_json(killed + "/out/results.json"), b = read_json(whole + "/out/results.json");
  EXPECT_EQ(a["rows"][0]["valid"], b["rows"][0]["valid"]);
  EXPECT_EQ(a["rows"][0]["test"], b["rows"][0]["test"]);
  EXPECT_EQ(a["rows"][0]["best_epoch"], b["rows"][0]["best_epoch"]);
}
