// The pocketrec binary end to end: a run on a tiny data set, `eval` reproducing `train`'s test
// metrics from the saved model, and bad input giving a clear message, the right exit code and no
// output files.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "core/text.h"
#include "test_util.h"

using pocketrec::testing::TempDir;
using namespace pocketrec::testing::cli;
namespace fs = std::filesystem;

TEST(Cli, TrainWritesARunDirectoryAndEvalReproducesIt) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  std::string out = t.path() + "/run";
  CliRun r = run("train --data.path=" + t.path() +
                 "/d --model.name=itemcf --eval.ks=5 --output.progress=false "
                 "--output.dir=" +
                 out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("| test |"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "items.tsv", "users.tsv", "model.prarr", "results.json"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  auto res = nlohmann::json::parse(pocketrec::read_file(out + "/results.json"));
  EXPECT_EQ(res["test"]["protocol"], "full_ranking");
  CliRun e = run("eval " + out + " --eval.batch_size=3 --eval.threads=1");
  ASSERT_EQ(e.code, 0) << e.out;
  auto ev = nlohmann::json::parse(pocketrec::read_file(out + "/eval_test.json"));
  EXPECT_EQ(ev["test"]["metrics"], res["test"]["metrics"]);
  // The hot/cold breakdown (the group arithmetic is checked by hand in test_evaluator): a query is in
  // a group when all its test items are; these users have 2 test items each, so some are in neither.
  CliRun g = run("eval " + out + " --eval.popularity_split=0.2");
  ASSERT_EQ(g.code, 0) << g.out;
  EXPECT_NE(g.out.find("| test, hot targets ("), std::string::npos) << g.out;
  auto gj = nlohmann::json::parse(pocketrec::read_file(out + "/eval_test.json"))["test"];
  EXPECT_EQ(gj["metrics"], res["test"]["metrics"]);
  const int64_t n_hot = gj["groups"]["hot"]["n_queries"], n_cold = gj["groups"]["cold"]["n_queries"];
  EXPECT_GT(n_hot, 0);
  EXPECT_GT(n_cold, 0);
  EXPECT_LE(n_hot + n_cold, gj["n_queries"].get<int64_t>());
  EXPECT_EQ(run("eval " + out + " --eval.popularity_split=1.5").code, 2);
  // The repeat / new split: the RD protocol masks the history, so no test item repeats one.
  CliRun rp = run("eval " + out + " --eval.repeat_split=true");
  ASSERT_EQ(rp.code, 0) << rp.out;
  EXPECT_NE(rp.out.find("| test, new targets ("), std::string::npos) << rp.out;
  auto rj = nlohmann::json::parse(pocketrec::read_file(out + "/eval_test.json"))["test"];
  EXPECT_EQ(rj["groups"]["repeat"]["n_queries"], 0);
  EXPECT_EQ(rj["groups"]["new"]["n_queries"], rj["n_queries"]);
  // The report's row holds the run's test metrics, each to 4 decimals, in the configured order.
  CliRun rep = run("report " + out + " " + out + " --metrics ndcg@5,map");
  ASSERT_EQ(rep.code, 0) << rep.out;
  const std::string row = fmt::format("| itemcf | {:.4f} | {:.4f} |\n", res["test"]["metrics"]["ndcg@5"].get<double>(),
                                      res["test"]["metrics"]["map"].get<double>());
  EXPECT_NE(rep.out.find("| | ndcg@5 | map |\n"), std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find(row + row), std::string::npos) << rep.out << "\nexpected twice: " << row;
}

TEST(Cli, BadInputGivesMessageExitCodeAndNoOutput) {
  TempDir t;
  t.file("bad/x_checkins.txt", "0\t1\t5.0\n0\tseven\n");
  std::string out = t.path() + "/run";
  CliRun r = run("train --data.path=" + t.path() + "/bad --output.dir=" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("pocketrec: error: " + t.path() + "/bad/x_checkins.txt:2: expected 3 fields"), std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out));

  CliRun key = run("train --train.lrr=0.1");
  EXPECT_EQ(key.code, 2);
  EXPECT_NE(key.out.find("unknown key 'train.lrr' (did you mean 'train.lr'?)"), std::string::npos) << key.out;

  t.file("good/x_checkins.txt", checkins());
  CliRun model = run("train --data.path=" + t.path() + "/good --model.name=bprr --output.dir=" + out);
  EXPECT_EQ(model.code, 2);
  EXPECT_NE(model.out.find("unknown model 'bprr' (did you mean 'bpr'?)"), std::string::npos) << model.out;
  EXPECT_FALSE(fs::exists(out));

  CliRun missing = run("data stats " + t.path() + "/nothing");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("nothing: no such file or folder"), std::string::npos);

  CliRun cfg = run("train -c " + t.path() + "/none.json");
  EXPECT_EQ(cfg.code, 2);  // a usage error: the config file named on the command line is missing
  EXPECT_NE(cfg.out.find("pocketrec: error: " + t.path() + "/none.json: cannot open the file"), std::string::npos)
      << cfg.out;

  CliRun usage = run("frobnicate");
  EXPECT_EQ(usage.code, 2);

  std::string version = pocketrec::read_file(std::string(POCKETREC_SOURCE_DIR) + "/VERSION");
  version = version.substr(0, version.find('\n'));
  CliRun v = run("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out, version + "\n");
}

TEST(Cli, CorruptModelFileIsRefused) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  std::string out = t.path() + "/run";
  ASSERT_EQ(
      run("train --data.path=" + t.path() + "/d --model.name=pop --output.progress=false --output.dir=" + out).code, 0);
  std::string bytes = pocketrec::read_file(out + "/model.prarr");
  t.file("run/model.prarr", bytes.substr(0, bytes.size() / 2));
  CliRun e = run("eval " + out);
  EXPECT_EQ(e.code, 1);
  EXPECT_NE(e.out.find("model.prarr: checksum mismatch"), std::string::npos) << e.out;
}

TEST(Cli, DataStatsOfTheBundledData) {
  CliRun r = run(std::string("data stats ") + POCKETREC_SOURCE_DIR + "/data/foursquare-nyc-2k");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("| users | 1989 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| items | 8000 |"), std::string::npos);
  EXPECT_NE(r.out.find("| interactions | 89419 |"), std::string::npos);
}

TEST(Cli, KilledRunResumesToExactlyTheUninterruptedResult) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string common = "train --data.path=" + t.path() +
                             "/d --model.name=caser --model.dim=8 --model.window=3 --model.caser_nh=4 "
                             "--train.batch_size=16 --train.neg_samples=2 --train.patience=0 "
                             "--eval.ks=5 --eval.valid_metric=ndcg@5 --output.progress=false ";
  const std::string full = t.path() + "/full";
  ASSERT_EQ(run(common + "--train.epochs=12 --output.dir=" + full).code, 0);
  // Killed by a signal right after its first checkpoint, resumed: the same result.
  expect_killed_run_resumes_exactly(common + "--train.epochs=12", t.path() + "/killed", full);
  EXPECT_EQ(epoch_losses(full + "/train_log.jsonl").size(), 12u);

  // The closing path: resuming a finished run (train.epochs equal to or below the epochs it ran)
  // trains nothing and ends with the same result.
  for (const char* epochs : {"--train.epochs=12", "--train.epochs=5"}) {
    CliRun again = run(common + epochs + " --output.dir=" + full + " --resume");
    ASSERT_EQ(again.code, 0) << again.out;
    EXPECT_EQ(again.out.find("epoch 13"), std::string::npos) << again.out;
    auto a = nlohmann::json::parse(pocketrec::read_file(full + "/results.json"));
    EXPECT_EQ(a["fit"]["epochs_run"], 12) << epochs;
    EXPECT_EQ(epoch_losses(full + "/train_log.jsonl").size(), 12u) << epochs;
  }

  // A truncated or bit-flipped checkpoint is refused with a clear error.
  const std::string killed = t.path() + "/broken";
  ASSERT_EQ(run(common + "--train.epochs=2 --output.dir=" + killed).code, 0);
  const std::string good_ckpt = pocketrec::read_file(killed + "/checkpoint_last.ckpt");
  t.file("broken/checkpoint_last.ckpt", good_ckpt.substr(0, good_ckpt.size() / 2));
  CliRun cut = run(common + "--train.epochs=4 --output.dir=" + killed + " --resume");
  EXPECT_EQ(cut.code, 1);
  EXPECT_NE(cut.out.find("checkpoint_last.ckpt: not a PocketRec checkpoint, or truncated"), std::string::npos)
      << cut.out;
  std::string flipped = good_ckpt;
  flipped[flipped.size() / 3] ^= 0x40;
  t.file("broken/checkpoint_last.ckpt", flipped);
  CliRun flip = run(common + "--train.epochs=4 --output.dir=" + killed + " --resume");
  EXPECT_EQ(flip.code, 1);
  EXPECT_NE(flip.out.find("checksum mismatch: corrupt checkpoint"), std::string::npos) << flip.out;
  // A different config is refused too.
  t.file("broken/checkpoint_last.ckpt", good_ckpt);
  CliRun other = run(common + "--train.epochs=4 --output.dir=" + killed + " --resume --train.lr=0.5");
  EXPECT_EQ(other.code, 2);
  EXPECT_NE(other.out.find("different config (first difference at '/train/lr')"), std::string::npos) << other.out;

  // A run that ended at its epoch count continues when train.epochs is raised, to the same result.
  const std::string four = t.path() + "/four", two = t.path() + "/two";
  ASSERT_EQ(run(common + "--train.epochs=4 --output.dir=" + four).code, 0);
  ASSERT_EQ(run(common + "--train.epochs=2 --output.dir=" + two).code, 0);
  CliRun more = run(common + "--train.epochs=4 --output.dir=" + two + " --resume");
  ASSERT_EQ(more.code, 0) << more.out;
  auto a = nlohmann::json::parse(pocketrec::read_file(four + "/results.json"));
  auto c = nlohmann::json::parse(pocketrec::read_file(two + "/results.json"));
  EXPECT_EQ(a["test"]["metrics"], c["test"]["metrics"]);
  EXPECT_EQ(a["fit"]["best_valid"], c["fit"]["best_valid"]);  // the restored best value, not a reinterpreted one
  EXPECT_LT(c["fit"]["best_valid"].get<double>(), 1.0);
  EXPECT_EQ(epoch_losses(four + "/train_log.jsonl"), epoch_losses(two + "/train_log.jsonl"));
  EXPECT_EQ(epoch_losses(four + "/train_log.jsonl").size(), 4u);
}

// A run that stopped early is finished: resuming it (even with more epochs allowed) trains nothing
// more and gives the same result.
TEST(Cli, ResumingAnEarlyStoppedRunTrainsNothingMore) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string args = "train --data.path=" + t.path() +
                           "/d --model.name=bpr --model.dim=4 --train.lr=0.2 --train.batch_size=8 --train.patience=1 "
                           "--eval.ks=5 --eval.valid_metric=ndcg@5 --output.progress=false --output.dir=" +
                           t.path() + "/run";
  ASSERT_EQ(run(args + " --train.epochs=40").code, 0);
  const auto first = nlohmann::json::parse(pocketrec::read_file(t.path() + "/run/results.json"));
  ASSERT_TRUE(first["fit"]["stopped_early"].get<bool>()) << first["fit"].dump();
  const int64_t epochs_run = first["fit"]["epochs_run"];
  ASSERT_LT(epochs_run, 40);
  CliRun again = run(args + " --train.epochs=60 --resume");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(again.out.find("epoch " + std::to_string(epochs_run + 1) + ":"), std::string::npos) << again.out;
  const auto second = nlohmann::json::parse(pocketrec::read_file(t.path() + "/run/results.json"));
  EXPECT_EQ(second["fit"]["epochs_run"], epochs_run);
  EXPECT_EQ(second["test"]["metrics"], first["test"]["metrics"]);
  EXPECT_EQ(second["fit"]["best_epoch"], first["fit"]["best_epoch"]);
}

// train -> export (int8 weights, verified against LibTorch) -> recommend for a user, and the errors
// a user meets: a model the runtime cannot run, a Caser without --user, an unknown user.
TEST(Cli, ExportAndRecommendWithTheRuntime) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string out = t.path() + "/caser", model = t.path() + "/caser.pocket";
  CliRun r = run("train --data.path=" + t.path() +
                 "/d --model.name=caser --model.dim=8 --model.window=3 "
                 "--train.epochs=1 --eval.ks=5 --eval.valid_metric=ndcg@5 --output.progress=false --output.dir=" +
                 out);
  ASSERT_EQ(r.code, 0) << r.out;
  CliRun e = run("export " + out + " -o " + model + " --dtype int8 --verify 10");
  ASSERT_EQ(e.code, 0) << e.out;
  const auto json = nlohmann::json::parse(e.out.substr(e.out.find('{')));
  EXPECT_EQ(json["weight_type"], "int8");
  EXPECT_EQ(json["verify"]["queries"], 10);
  EXPECT_GE(json["verify"]["top20_overlap"].get<double>(), 0.9);
  EXPECT_EQ(json["bytes"].get<size_t>(), fs::file_size(model));
  CliRun rec = run("recommend -m " + model + " --history \"3 6 9\" -k 4 --user 5");
  ASSERT_EQ(rec.code, 0) << rec.out;
  EXPECT_NE(rec.out.find("| 4 |"), std::string::npos) << rec.out;
  EXPECT_EQ(rec.out.find("| 5 |"), std::string::npos) << rec.out;
  CliRun no_user = run("recommend -m " + model + " --history \"3 6 9\"");
  EXPECT_NE(no_user.code, 0);
  EXPECT_NE(no_user.out.find("pass --user ID"), std::string::npos) << no_user.out;
  CliRun bad_user = run("recommend -m " + model + " --history \"3\" --user 999");
  EXPECT_NE(bad_user.code, 0);
  EXPECT_NE(bad_user.out.find("unknown user id 999"), std::string::npos) << bad_user.out;

  const std::string itemcf = t.path() + "/itemcf";
  ASSERT_EQ(run("train --data.path=" + t.path() +
                "/d --model.name=itemcf --eval.ks=5 --output.progress=false "
                "--output.dir=" +
                itemcf)
                .code,
            0);
  CliRun refused = run("export " + itemcf + " -o " + t.path() + "/itemcf.pocket");
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.out.find("itemcf models are not supported by the runtime (sasrec, caser, fossil)"),
            std::string::npos)
      << refused.out;
  EXPECT_FALSE(fs::exists(t.path() + "/itemcf.pocket"));
}

// Bad command lines: each gives its message naming the option, key or file, exit code 2 (usage or
// configuration error) and no output.
TEST(Cli, BadCommandLinesNameTheProblemAndExitWithTwo) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string run_dir = t.path() + "/run";
  ASSERT_EQ(run("train --data.path=" + t.path() +
                "/d --model.name=pop --eval.ks=5 --output.progress=false "
                "--output.dir=" +
                run_dir)
                .code,
            0);
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"eval " + run_dir + " --model.dim=4",
       "command line: 'model.dim': only eval.* and threads.* keys can change "
       "when re-evaluating a run"},
      {"eval " + run_dir + " --split train", "--split: expected test or valid, got 'train'"},
      {"distill --method rd --data.path=" + t.path() + "/d --output.dir=" + t.path() + "/s",
       "distill.teacher: the teacher's run directory is required"},
      {"train --data.path=" + t.path() + "/d --model.name=bpr --output.dir=" + t.path() + "/empty --resume",
       "train.resume: no checkpoint to resume: " + t.path() + "/empty/checkpoint_last.ckpt"},
      {"report " + run_dir + " --best-by hr@7", "--best-by: " + run_dir +
                                                    "/results.json has no validation metric "
                                                    "'hr@7'"},
      {"export " + run_dir + " -o " + t.path() + "/x.pocket --dtype int4", "--dtype: int4 not in {fp32,fp16,int8}"},
      {"recommend -m " + t.path() + "/x.pocket --history \"12 x 7\"", "--history: 'x' is not an integer item id"},
      {"recommend -m " + t.path() + "/x.pocket --history 3 --user 5x", "--user: '5x' is not an integer user id"},
      {"recommend -m " + t.path() + "/x.pocket --history 3 --user \"5 6\"", "--user: '5 6' is not one user id"},
  };
  for (const Case& c : cases) {
    CliRun r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.args << "\n" << r.out;
  }
  EXPECT_FALSE(fs::exists(t.path() + "/s"));
  EXPECT_FALSE(fs::exists(t.path() + "/x.pocket"));
  EXPECT_FALSE(fs::exists(t.path() + "/empty/results.json"));
}

namespace {

// A run directory holding only what the reports read: results.json with the given metrics and a
// model file of the given size.
void fake_run(const TempDir& t, const std::string& name, const std::string& model, int64_t n_parameters,
              size_t model_bytes, const nlohmann::json& valid, const nlohmann::json& test) {
  nlohmann::json r = {{"model", model},
                      {"dataset", "toy"},
                      {"n_parameters", n_parameters},
                      {"valid", {{"metrics", valid}}},
                      {"test", {{"metrics", test}}},
                      {"config", nlohmann::json::object()}};
  t.file(name + "/results.json", r.dump());
  t.file(name + "/model.prarr", std::string(model_bytes, 'x'));
}

}  // namespace

// `report --best-by` picks the run with the best validation value, never the best test value;
// `distill-report` gives mean ± sample standard deviation per group and the size ratios.
TEST(Cli, ReportsOnHandMadeResults) {
  TempDir t;
  // b validates best; c tests best.
  fake_run(t, "a", "caser", 100, 400, {{"map", 0.10}}, {{"map", 0.20}, {"prec@5", 0.30}});
  fake_run(t, "b", "caser", 100, 400, {{"map", 0.30}}, {{"map", 0.10}, {"prec@5", 0.20}});
  fake_run(t, "c", "caser", 100, 400, {{"map", 0.20}}, {{"map", 0.40}, {"prec@5", 0.10}});
  const std::string a = t.path() + "/a", b = t.path() + "/b", c = t.path() + "/c";
  CliRun best = run("report " + a + " " + b + " " + c + " --best-by map --metrics map");
  ASSERT_EQ(best.code, 0) << best.out;
  EXPECT_NE(best.out.find("selected on validation map: " + b + " (0.3000)"), std::string::npos) << best.out;
  EXPECT_NE(best.out.find("| " + b + " | 0.3000 | 0.1000 |"), std::string::npos) << best.out;  // valid, then test

  // Teacher 1000 parameters / 4000 bytes; two RD runs of 500 / 2000; one plain student.
  fake_run(t, "T", "caser", 1000, 4000, {{"map", 0.5}}, {{"map", 0.30}, {"prec@5", 0.50}});
  fake_run(t, "R1", "caser", 500, 2000, {{"map", 0.5}}, {{"map", 0.28}, {"prec@5", 0.40}});
  fake_run(t, "R2", "caser", 500, 2000, {{"map", 0.5}}, {{"map", 0.32}, {"prec@5", 0.46}});
  fake_run(t, "S", "caser", 500, 2000, {{"map", 0.5}}, {{"map", 0.25}, {"prec@5", 0.35}});
  CliRun dr = run("distill-report --teacher " + t.path() + "/T --rd " + t.path() + "/R1 " + t.path() +
                  "/R2 --student " + t.path() + "/S --metrics map,prec@5");
  ASSERT_EQ(dr.code, 0) << dr.out;
  // R: map mean 0.30, sample std sqrt(((0.02)^2 + (0.02)^2) / 1) = 0.0283; prec@5 0.43 ± 0.0424.
  EXPECT_NE(dr.out.find("| Caser-T | 1 | 0.3000 | 0.5000 | 1000 | 100.0% | 100.0% |"), std::string::npos) << dr.out;
  EXPECT_NE(dr.out.find("| Caser-RD | 2 | 0.3000 ± 0.0283 | 0.4300 ± 0.0424 | 500 | 50.0% | 50.0% |"),
            std::string::npos)
      << dr.out;
  EXPECT_NE(dr.out.find("| Caser-S | 1 | 0.2500 | 0.3500 | 500 | 50.0% | 50.0% |"), std::string::npos) << dr.out;
}

// train.refit: selection exactly as without it, then the selected epochs again on training +
// validation data (its own log, no validation), the test metrics from that model, which `eval`
// reproduces; its selected model stays in checkpoint_best.ckpt.
TEST(Cli, RefitTrainsTheSelectedEpochsOnTrainingPlusValidation) {
  TempDir t;
  const std::string data =
      tiny_odrec_sasrec(t) + " --train.epochs=5 --train.patience=0 --train.batch_size=16 --train.lr=0.003";
  ASSERT_EQ(run("train" + data + " --output.dir=" + t.path() + "/plain").code, 0);
  CliRun r = run("train" + data + " --train.refit=true --output.dir=" + t.path() + "/refit");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("refit: sasrec on training + validation data"), std::string::npos) << r.out;
  const auto a = nlohmann::json::parse(pocketrec::read_file(t.path() + "/plain/results.json"));
  const auto b = nlohmann::json::parse(pocketrec::read_file(t.path() + "/refit/results.json"));
  EXPECT_EQ(b["valid"]["metrics"], a["valid"]["metrics"]);  // the selection is the plain run's
  EXPECT_EQ(b["fit"]["best_epoch"], a["fit"]["best_epoch"]);
  const int64_t epochs = a["fit"]["best_epoch"];
  EXPECT_EQ(b["refit"]["epochs"], epochs);
  EXPECT_EQ(b["refit"]["epochs_run"], epochs);
  EXPECT_NE(b["test"]["metrics"], a["test"]["metrics"]);  // another model: more data, same seed
  const std::string log = pocketrec::read_file(t.path() + "/refit/refit/train_log.jsonl");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), epochs);
  EXPECT_EQ(log.find("\"valid\""), std::string::npos) << log;
  CliRun e = run("eval " + t.path() + "/refit");
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_EQ(nlohmann::json::parse(pocketrec::read_file(t.path() + "/refit/eval_test.json"))["test"]["metrics"],
            b["test"]["metrics"]);
  // A refit is one process's: data-parallel training and distillation refuse it before anything runs.
  for (const char* command : {"train", "distill --method odrec"}) {
    CliRun parallel =
        run(std::string(command) + data + " --train.refit=true --dist.world_size=2 --distill.teacher=" + t.path() +
            "/plain --output.dir=" + t.path() + "/parallel");
    EXPECT_EQ(parallel.code, 2) << command << "\n" << parallel.out;
    EXPECT_NE(parallel.out.find("train.refit: not supported with dist.world_size > 1"), std::string::npos)
        << parallel.out;
  }
  EXPECT_FALSE(fs::exists(t.path() + "/parallel"));
  CliRun valid = run("eval " + t.path() + "/refit --split valid");
  EXPECT_EQ(valid.code, 2) << valid.out;
  CliRun selected =
      run("eval " + t.path() + "/refit --split valid --weights " + t.path() + "/refit/checkpoint_best.ckpt");
  ASSERT_EQ(selected.code, 0) << selected.out;
  EXPECT_EQ(nlohmann::json::parse(
                pocketrec::read_file(t.path() + "/refit/eval_valid_checkpoint_best.json"))["valid"]["metrics"],
            b["valid"]["metrics"]);
}

// distill with train.refit: the student is selected while the teacher's selected model teaches it
// (a refitted teacher's checkpoint_best.ckpt, which is exactly the plain teacher), then its refit
// on training + validation data is taught by the teacher's refitted model.prarr; `eval` reproduces
// the refitted student's test metrics. RD keeps the refit's top-K cache apart.
TEST(Cli, DistillRefitsTheStudentFromTheRefittedTeacher) {
  TempDir t;
  const std::string data =
      tiny_odrec_sasrec(t) + " --train.epochs=4 --train.patience=0 --train.batch_size=16 --train.lr=0.003";
  const std::string plain = t.path() + "/plain", refit = t.path() + "/refit";
  ASSERT_EQ(run("train" + data + " --output.dir=" + plain).code, 0);
  ASSERT_EQ(run("train" + data + " --train.refit=true --output.dir=" + refit).code, 0);
  const std::string student = "distill --method odrec" + data + " --train.seed=3";
  CliRun from_plain = run(student + " --distill.teacher=" + plain + " --output.dir=" + t.path() + "/s-plain");
  ASSERT_EQ(from_plain.code, 0) << from_plain.out;
  CliRun from_refit = run(student + " --distill.teacher=" + refit + " --output.dir=" + t.path() + "/s-refit");
  ASSERT_EQ(from_refit.code, 0) << from_refit.out;
  const auto a = nlohmann::json::parse(pocketrec::read_file(t.path() + "/s-plain/results.json"));
  const auto b = nlohmann::json::parse(pocketrec::read_file(t.path() + "/s-refit/results.json"));
  EXPECT_EQ(b["valid"]["metrics"], a["valid"]["metrics"]);  // taught by the same (selected) model
  EXPECT_EQ(b["test"]["metrics"], a["test"]["metrics"]);
  EXPECT_FALSE(b.contains("refit"));

  CliRun both =
      run(student + " --train.refit=true --distill.teacher=" + refit + " --output.dir=" + t.path() + "/s-both");
  ASSERT_EQ(both.code, 0) << both.out;
  const auto c = nlohmann::json::parse(pocketrec::read_file(t.path() + "/s-both/results.json"));
  EXPECT_EQ(c["valid"]["metrics"], a["valid"]["metrics"]);  // the selection is unchanged
  EXPECT_EQ(c["fit"]["best_epoch"], a["fit"]["best_epoch"]);
  EXPECT_EQ(c["refit"]["epochs"], a["fit"]["best_epoch"]);
  EXPECT_EQ(c["refit"]["epochs_run"], a["fit"]["best_epoch"]);
  EXPECT_NE(c["test"]["metrics"], a["test"]["metrics"]);  // another student, on more data
  // The refit is taught by the refitted teacher: the same student refitted under the plain teacher
  // (whose model.prarr is the refitted teacher's checkpoint_best.ckpt) is selected identically but
  // ends elsewhere.
  CliRun plain_refit =
      run(student + " --train.refit=true --distill.teacher=" + plain + " --output.dir=" + t.path() + "/s-plain-refit");
  ASSERT_EQ(plain_refit.code, 0) << plain_refit.out;
  const auto p = nlohmann::json::parse(pocketrec::read_file(t.path() + "/s-plain-refit/results.json"));
  EXPECT_EQ(p["valid"]["metrics"], c["valid"]["metrics"]);
  EXPECT_EQ(p["refit"]["epochs"], c["refit"]["epochs"]);
  EXPECT_NE(p["test"]["metrics"], c["test"]["metrics"]);
  CliRun e = run("eval " + t.path() + "/s-both");
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_EQ(nlohmann::json::parse(pocketrec::read_file(t.path() + "/s-both/eval_test.json"))["test"]["metrics"],
            c["test"]["metrics"]);

  // RD: the selection's top-K cache from the selected teacher, the refit's from the refitted one.
  CliRun rd = run("distill --method rd" + data + " --model.dim=4 --distill.rd_k=3 --distill.rd_samples=5 " +
                  "--train.refit=true --distill.teacher=" + refit + " --output.dir=" + t.path() + "/s-rd");
  ASSERT_EQ(rd.code, 0) << rd.out;
  EXPECT_TRUE(fs::exists(refit + "/topk_K3_history.prarr"));
  EXPECT_TRUE(fs::exists(refit + "/topk_K3_history_refit.prarr"));
  EXPECT_EQ(
      nlohmann::json::parse(pocketrec::read_file(t.path() + "/s-rd/results.json"))["refit_distillation"]["topk_cache"],
      refit + "/topk_K3_history_refit.prarr");
}
