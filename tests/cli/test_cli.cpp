// The pocketrec binary end to end: a run on a tiny data set, `eval` reproducing `train`'s test
// metrics from the saved model, and bad input giving a clear message, the right exit code and no
// output files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "test_util.h"

using pocketrec::testing::TempDir;
namespace fs = std::filesystem;

namespace {
struct CliRun {
  int code;
  std::string out;
};

CliRun run(const std::string& args) {
  std::string cmd = std::string(POCKETREC_BINARY_DIR) + "/pocketrec " + args + " 2>&1";
  CliRun r{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Starts `pocketrec args` and sends it SIGKILL as soon as `watch` exists (polled every millisecond),
// the way a machine dies under a run. Returns true if the process was killed before it finished;
// false if it finished first (then nothing was interrupted and the caller retries with a new run).
bool run_killed_when(const std::string& args, const std::string& watch) {
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
void expect_killed_run_resumes_exactly(const std::string& args, const std::string& dir_prefix,
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
std::vector<double> epoch_losses(const std::string& path) {
  std::vector<double> v;
  for (const auto& line : pocketrec::split(pocketrec::read_file(path), '\n'))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line)["loss"].get<double>());
  return v;
}

// 40 users with 10 check-ins each over 30 items, timestamps increasing.
std::string checkins() {
  std::string s;
  for (int u = 0; u < 40; ++u)
    for (int k = 0; k < 10; ++k)
      s += std::to_string(u) + "\t" + std::to_string((u * 7 + k * 3) % 30) + "\t" + std::to_string(1000 + k) + ".0\n";
  return s;
}

// The check-ins written to DIR/d and the flags of a tiny OD-Rec SASRec on them (d = 8, max_len 5,
// selected on validation nDCG@5).
std::string tiny_odrec_sasrec(TempDir& t) {
  t.file("d/x_checkins.txt", checkins());
  return " --data.path=" + t.path() +
         "/d --model.name=sasrec --model.sasrec_variant=odrec --model.dim=8 --model.max_len=5 --eval.ks=5 "
         "--eval.valid_metric=ndcg@5 --output.progress=false";
}
}  // namespace

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
  EXPECT_NE(cfg.out.find("pocketrec: error: " + t.path() + "/none.json: cannot open the config file"),
            std::string::npos)
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

TEST(Cli, DistillRefusesAMismatchedOrNonSasRecTeacher) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string data = " --data.path=" + t.path() + "/d --eval.ks=5 --output.progress=false";
  CliRun r = run("train --model.name=itemcf --output.dir=" + t.path() + "/teacher" + data);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string student =
      "distill --method odrec --model.name=sasrec --model.sasrec_variant=odrec "
      "--model.item_table=stt --distill.teacher=" +
      t.path() + "/teacher --output.dir=" + t.path() + "/student" + data;
  CliRun other_split = run(student + " --split.ratios=0.6,0.2,0.2");
  EXPECT_EQ(other_split.code, 2) << other_split.out;
  EXPECT_NE(other_split.out.find("was trained with other split.* settings"), std::string::npos) << other_split.out;
  CliRun not_sasrec = run(student);
  EXPECT_EQ(not_sasrec.code, 2) << not_sasrec.out;
  EXPECT_NE(not_sasrec.out.find("holds a itemcf model"), std::string::npos) << not_sasrec.out;
  EXPECT_FALSE(fs::exists(t.path() + "/student/results.json"));
}

// train a Caser teacher -> distill --method rd (the top-K cache is built in the teacher's directory)
// -> a killed RD run resumes to the uninterrupted result (the discrepancy weights switch on in
// epoch 2, after the resume point) -> a retrained teacher's stale cache is refused -> the report.
TEST(Cli, RankDistillationResumesExactlyAndRefusesAStaleCache) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string data = " --data.path=" + t.path() +
                           "/d --model.name=caser --model.window=3 --model.caser_nh=4 "
                           "--train.batch_size=16 --train.neg_samples=2 --train.patience=0 --eval.ks=5 "
                           "--eval.metrics=prec,ndcg_rd,map --eval.valid_metric=map --output.progress=false";
  const std::string teacher = t.path() + "/teacher";
  ASSERT_EQ(run("train --model.dim=12 --train.epochs=3 --output.dir=" + teacher + data).code, 0);
  const std::string student = "distill --method rd --model.dim=4 --train.epochs=8 --distill.teacher=" + teacher +
                              " --distill.rd_k=4 --distill.rd_samples=10 --distill.rd_start_epoch=1" + data;
  CliRun full = run(student + " --output.dir=" + t.path() + "/full");
  ASSERT_EQ(full.code, 0) << full.out;
  EXPECT_NE(full.out.find("built the teacher top-4 cache"), std::string::npos) << full.out;
  EXPECT_TRUE(fs::exists(teacher + "/topk_K4_history.prarr"));
  // Killed by a signal after its first checkpoint and resumed: the same result, the cache reused.
  std::string killed;
  expect_killed_run_resumes_exactly(student, t.path() + "/killed", t.path() + "/full", &killed);
  ASSERT_FALSE(killed.empty());
  auto a = nlohmann::json::parse(pocketrec::read_file(t.path() + "/full/results.json"));
  auto b = nlohmann::json::parse(pocketrec::read_file(killed + "/results.json"));
  EXPECT_EQ(a["test"]["metrics"], b["test"]["metrics"]);
  EXPECT_EQ(a["method"], "rd");
  EXPECT_GT(a["size"]["model_compression"].get<double>(), 2.0);

  CliRun rep = run("distill-report --teacher " + teacher + " --rd " + t.path() + "/full " + killed + " --student " +
                   teacher + " --metrics prec@5,map");
  ASSERT_EQ(rep.code, 0) << rep.out;
  EXPECT_NE(rep.out.find("| Caser-RD | 2 |"), std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find("| Caser-T | 1 |"), std::string::npos) << rep.out;

  // The teacher retrained with another seed: its old cache no longer matches and is refused.
  ASSERT_EQ(run("train --model.dim=12 --train.epochs=3 --train.seed=7 --output.dir=" + teacher + data).code, 0);
  CliRun stale = run(student + " --output.dir=" + t.path() + "/stale");
  EXPECT_EQ(stale.code, 2) << stale.out;
  EXPECT_NE(stale.out.find("topk_K4_history.prarr: this teacher top-K cache was built for another teacher"),
            std::string::npos)
      << stale.out;
  EXPECT_FALSE(fs::exists(t.path() + "/stale/results.json"));
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

// An OD-Rec student whose STT rows follow the teacher's item order: `train` refuses the order (no
// teacher); the order is computed and logged by `distill`, saved with the weights (re-evaluating the
// model file and the best checkpoint reproduces the run's test metrics) and exported (the runtime's
// top-20 lists equal LibTorch's).
TEST(Cli, TeacherGuidedItemOrderIsSavedReloadedAndExported) {
  TempDir t;
  const std::string data = tiny_odrec_sasrec(t) + " --train.epochs=1";
  const std::string teacher = t.path() + "/teacher", student = t.path() + "/student";
  ASSERT_EQ(run("train --output.dir=" + teacher + data).code, 0);
  const std::string stt = " --model.item_table=stt --model.stt_rank=4 --model.stt_item_order=teacher";
  CliRun refused = run("train --output.dir=" + t.path() + "/alone" + data + stt);
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_NE(refused.out.find("model.item_table: this table is derived from a teacher's"), std::string::npos)
      << refused.out;
  CliRun r = run("distill --method odrec --distill.teacher=" + teacher + " --output.dir=" + student + data + stt);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("STT item order from the teacher's table"), std::string::npos) << r.out;
  const auto res = nlohmann::json::parse(pocketrec::read_file(student + "/results.json"));
  for (const std::string& weights : std::vector<std::string>{"", " --weights " + student + "/checkpoint_best.ckpt"}) {
    CliRun e = run("eval " + student + " --split test" + weights);
    ASSERT_EQ(e.code, 0) << e.out;
    const std::string file = weights.empty() ? "/eval_test.json" : "/eval_test_checkpoint_best.json";
    const auto ev = nlohmann::json::parse(pocketrec::read_file(student + file));
    EXPECT_EQ(ev["test"]["metrics"], res["test"]["metrics"]) << weights;
  }
  CliRun x = run("export " + student + " -o " + t.path() + "/student.pocket --verify 10");
  ASSERT_EQ(x.code, 0) << x.out;
  const auto json = nlohmann::json::parse(x.out.substr(x.out.find('{')));
  EXPECT_EQ(json["verify"]["top20_overlap"].get<double>(), 1.0) << x.out;
}

// RD settings the method refuses, each with its message and the usage exit code, and the reference's
// top-K exclusion (only the sample's own target) end to end: its own cache file, other rows.
TEST(Cli, RankDistillationRefusalsAndTheReferenceExclusion) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string data = " --data.path=" + t.path() +
                           "/d --model.name=caser --model.window=3 --model.caser_nh=4 "
                           "--train.batch_size=16 --train.neg_samples=2 --eval.ks=5 --eval.metrics=prec,map "
                           "--eval.valid_metric=map --output.progress=false";
  const std::string teacher = t.path() + "/teacher";
  ASSERT_EQ(run("train --model.dim=12 --train.epochs=2 --output.dir=" + teacher + data).code, 0);
  const std::string student = "distill --method rd --model.dim=4 --train.epochs=1 --distill.teacher=" + teacher +
                              " --distill.rd_k=4 --distill.rd_samples=10" + data;
  CliRun alpha = run(student + " --distill.rd_loss_form=paper --distill.rd_alpha=2 --output.dir=" + t.path() + "/a");
  EXPECT_EQ(alpha.code, 2) << alpha.out;
  EXPECT_NE(alpha.out.find("distill.rd_alpha: the paper's loss form (1 - alpha) L_R + alpha L_D needs alpha <= 1, "
                           "got 2"),
            std::string::npos)
      << alpha.out;
  CliRun window = run(student + " --model.window=4 --output.dir=" + t.path() + "/w");
  EXPECT_EQ(window.code, 2) << window.out;
  EXPECT_NE(window.out.find("trains on other samples than the student (caser): the models' sample windows differ"),
            std::string::npos)
      << window.out;
  for (const char* d : {"/a", "/w"}) EXPECT_FALSE(fs::exists(t.path() + d + "/results.json")) << d;

  CliRun ours = run(student + " --output.dir=" + t.path() + "/ours");
  ASSERT_EQ(ours.code, 0) << ours.out;
  CliRun retired = run(student + " --distill.as_published=true --output.dir=" + t.path() + "/ref");
  EXPECT_EQ(retired.code, 2) << retired.out;
  EXPECT_NE(retired.out.find("key 'distill.as_published' was retired: it meant two unrelated things; use "
                             "distill.rd_topk_exclusion=target"),
            std::string::npos)
      << retired.out;
  CliRun ref = run(student + " --distill.rd_topk_exclusion=target --output.dir=" + t.path() + "/ref");
  ASSERT_EQ(ref.code, 0) << ref.out;
  EXPECT_NE(ref.out.find("built the teacher top-4 cache " + teacher + "/topk_K4_target.prarr"), std::string::npos)
      << ref.out;
  // The two caches hold the same samples; the reference's may name the user's own training items,
  // so some rows differ, and the runs differ.
  const std::string hist = pocketrec::read_file(teacher + "/topk_K4_history.prarr");
  const std::string targ = pocketrec::read_file(teacher + "/topk_K4_target.prarr");
  EXPECT_NE(hist, targ);
  auto a = nlohmann::json::parse(pocketrec::read_file(t.path() + "/ours/results.json"));
  auto b = nlohmann::json::parse(pocketrec::read_file(t.path() + "/ref/results.json"));
  EXPECT_NE(a["valid"]["metrics"], b["valid"]["metrics"]);
}

// An OD-Rec distillation (SASRec teacher -> STT student with the self-supervised KD) killed by a
// signal after its first checkpoint resumes to exactly the uninterrupted result.
TEST(Cli, OdRecDistillationKilledAndResumedEndsLikeTheUninterruptedRun) {
  TempDir t;
  const std::string data = tiny_odrec_sasrec(t) + " --train.batch_size=16 --train.patience=0";
  const std::string teacher = t.path() + "/teacher";
  ASSERT_EQ(run("train --train.epochs=2 --output.dir=" + teacher + data).code, 0);
  const std::string student =
      "distill --method odrec --model.item_table=stt --model.stt_rank=4 --train.epochs=10 "
      "--distill.hot_fraction=0.5 --distill.teacher=" +
      teacher + data;
  ASSERT_EQ(run(student + " --output.dir=" + t.path() + "/full").code, 0);
  expect_killed_run_resumes_exactly(student, t.path() + "/killed", t.path() + "/full");
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

// pq-probe on the teacher; an OD-Rec student with a product-quantised table (codes by k-means on the teacher's table, the
// non-table weights from the teacher): killed and resumed to the uninterrupted result; re-evaluated
// from its model file and from its best checkpoint to the run's test metrics; exported (codes as
// bytes) and answered by the runtime exactly as LibTorch (identical top-20 lists); `train` refuses
// teacher codes without a teacher.
TEST(Cli, PqStudentResumesReloadsAndExportsExactly) {
  TempDir t;
  const std::string data = tiny_odrec_sasrec(t) + " --train.batch_size=16 --train.patience=0";
  const std::string teacher = t.path() + "/teacher", full = t.path() + "/full";
  ASSERT_EQ(run("train --train.epochs=2 --output.dir=" + teacher + data).code, 0);
  // pq-probe: with one codeword per item (K = 30 items) k-means codes the teacher's table without
  // loss, so that row's metrics are the dense teacher's; K = 2 is a smaller table.
  CliRun probe = run("pq-probe " + teacher + " --subspaces 2 --codewords 30 --rotation no");
  ASSERT_EQ(probe.code, 0) << probe.out;
  const auto rows = nlohmann::json::parse(pocketrec::read_file(teacher + "/pq_probe.json"))["rows"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["valid"], rows[0]["valid"]);
  EXPECT_EQ(rows[1]["test"], rows[0]["test"]);
  EXPECT_GT(rows[0]["test"]["hr@20"].get<double>(), 0.0);
  ASSERT_EQ(run("pq-probe " + teacher + " --subspaces 2 --codewords 2 --rotation no").code, 0);
  const auto small = nlohmann::json::parse(pocketrec::read_file(teacher + "/pq_probe.json"))["rows"][1];
  EXPECT_EQ(small["table_bytes"], (2 * 2 * 4) * 4 + 30 * 2);  // codebook floats + one byte per code
  EXPECT_EQ(run("pq-probe " + teacher + " --subspaces 3 --codewords 2").code, 2);  // 3 does not divide 8
  const std::string pq = " --model.item_table=pq --model.pq_subspaces=4 --model.pq_codewords=4";
  CliRun alone = run("train --train.epochs=1 --output.dir=" + t.path() + "/alone" + data + pq);
  EXPECT_EQ(alone.code, 2) << alone.out;
  const std::string student =
      "distill --method odrec --train.epochs=8 --distill.init_from_teacher=true "
      "--distill.teacher=" +
      teacher + data + pq;
  CliRun r = run(student + " --output.dir=" + full);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("PQ codes from the teacher's table (pq M=4 K=4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("of the student's weights start as the teacher's"), std::string::npos) << r.out;
  const auto res = nlohmann::json::parse(pocketrec::read_file(full + "/results.json"));
  EXPECT_EQ(res["size"]["student"]["item_table_parameters"], 4 * 4 * 2);  // M K s codebook floats
  EXPECT_EQ(res["size"]["student"]["item_table_code_bytes"], 30 * 4);     // one byte per item and sub-space
  expect_killed_run_resumes_exactly(student, t.path() + "/killed", full);
  for (const std::string& weights : std::vector<std::string>{"", " --weights " + full + "/checkpoint_best.ckpt"}) {
    CliRun e = run("eval " + full + " --split test" + weights);
    ASSERT_EQ(e.code, 0) << e.out;
    const std::string file = weights.empty() ? "/eval_test.json" : "/eval_test_checkpoint_best.json";
    EXPECT_EQ(nlohmann::json::parse(pocketrec::read_file(full + file))["test"]["metrics"], res["test"]["metrics"]);
  }
  CliRun x = run("export " + full + " -o " + t.path() + "/pq.pocket --verify 40");
  ASSERT_EQ(x.code, 0) << x.out;
  const auto json = nlohmann::json::parse(x.out.substr(x.out.find('{')));
  EXPECT_EQ(json["verify"]["top20_identical"].get<double>(), 1.0) << x.out;
  EXPECT_LT(json["verify"]["max_abs_score_diff"].get<double>(), 1e-4) << x.out;
}
