// Data-parallel training on loopback (c10d / Gloo): `pocketrec launch -n 2` against one process with
// the same global batch and seed, parameters bitwise equal on both ranks, a killed rank ending the
// other within dist.timeout_s, a resumed 2-rank run ending where an uninterrupted one ends, and the
// refusals (another world size on resume, an unreachable master, a failing rank).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "core/text.h"
#include "test_util.h"

using pocketrec::testing::TempDir;
using namespace pocketrec::testing::cli;
namespace fs = std::filesystem;

namespace {

nlohmann::json results(const std::string& dir) {
  return nlohmann::json::parse(pocketrec::read_file(dir + "/results.json"));
}

// The parameter checksum each rank logs at the end of training, by rank.
std::map<int, std::string> checksums(const std::string& out) {
  std::map<int, std::string> by_rank;
  const std::regex line(R"(\[rank (\d)\].*rank \d of 2: parameter checksum ([0-9a-f]{16}))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it)
    by_rank[std::stoi((*it)[1])] = (*it)[2];
  return by_rank;
}

// One process and `launch -n 2` on the same flags: both ranks end with the same parameters, rank 0
// alone writes, and the validation metric is within 1% of the single process's (they differ only in
// the order the two halves' gradients are summed, and, where the model samples, in the samples).
void expect_two_ranks_match_one(const std::string& flags, const std::string& metric, TempDir& t) {
  CliRun one = run("train" + flags + " --output.dir=" + t.path() + "/one");
  ASSERT_EQ(one.code, 0) << one.out;
  CliRun two = run("launch -n 2 -- train" + flags + " --output.dir=" + t.path() + "/two");
  ASSERT_EQ(two.code, 0) << two.out;
  const auto sums = checksums(two.out);
  ASSERT_EQ(sums.size(), 2u) << two.out;
  EXPECT_EQ(sums.at(0), sums.at(1)) << "the ranks' parameters differ";
  EXPECT_NE(two.out.find("[rank 1] rank 1 of 2: trained"), std::string::npos) << two.out;
  const nlohmann::json a = results(t.path() + "/one"), b = results(t.path() + "/two");
  EXPECT_EQ(b["fit"]["world_size"], 2);
  EXPECT_GT(b["fit"]["allreduce_bytes_per_step"].get<int64_t>(), 0);
  EXPECT_EQ(b["fit"]["parameter_checksum"], sums.at(0));
  const double va = a["valid"]["metrics"][metric].get<double>(), vb = b["valid"]["metrics"][metric].get<double>();
  std::printf("valid %s: 1 process %.6f, 2 ranks %.6f (relative difference %.4f%%)\n", metric.c_str(), va, vb,
              100 * std::fabs(va - vb) / va);
  EXPECT_GT(va, 0);
  EXPECT_LE(std::fabs(va - vb), 0.01 * va) << metric << ": 1 process " << va << ", 2 ranks " << vb;
}

}  // namespace

// A tiny OD-Rec SASRec (no sampling: full softmax), dropout off, 12 epochs of batches of 16. The
// initial scale and learning rate keep the run off the uniform-softmax plateau (loss ln 30), where
// the summation order alone decides the epoch a run leaves it and the metrics of equal runs differ.
TEST(Distributed, TwoRanksTrainSasRecLikeOneProcess) {
  TempDir t;
  const std::string flags = tiny_odrec_sasrec(t) +
                            " --model.dropout=0 --train.batch_size=16 --train.epochs=12 --train.patience=0 "
                            "--train.lr=0.003 --model.init_std=0.1";
  expect_two_ranks_match_one(flags, "ndcg@5", t);
}

// A tiny Caser (two sampled negatives per target), dropout off, 12 epochs of batches of 16.
TEST(Distributed, TwoRanksTrainCaserLikeOneProcess) {
  TempDir t;
  t.file("d/x_checkins.txt", checkins());
  const std::string flags = " --data.path=" + t.path() +
                            "/d --model.name=caser --model.dim=12 --model.window=3 --model.caser_nh=4 "
                            "--model.dropout=0 --train.batch_size=16 --train.neg_samples=2 --train.epochs=12 "
                            "--train.patience=0 --eval.ks=5 --eval.metrics=prec,ndcg,map --eval.valid_metric=map "
                            "--output.progress=false";
  expect_two_ranks_match_one(flags, "map", t);
}

// Rank 1 killed after the first checkpoint: rank 0 exits non-zero within dist.timeout_s; the last
// checkpoint stays valid, and resuming with 2 ranks ends exactly where an uninterrupted 2-rank run
// ends. Resuming with 1 process is refused.
TEST(Distributed, AKilledRankEndsTheOtherAndTheRunResumesExactly) {
  TempDir t;
  const std::string flags = tiny_odrec_sasrec(t) + " --train.batch_size=16 --train.epochs=6 --train.patience=0";
  CliRun full = run("launch -n 2 -- train" + flags + " --output.dir=" + t.path() + "/full");
  ASSERT_EQ(full.code, 0) << full.out;

  const std::string dir = t.path() + "/killed", port = "29731";
  const std::string rank_args = "train" + flags + " --output.dir=" + dir +
                                " --dist.world_size=2 --dist.master=127.0.0.1:" + port +
                                " --dist.timeout_s=20 --threads.torch=1";
  const pid_t r0 = fork();
  if (r0 == 0) {
    const std::string cmd = "exec " + std::string(POCKETREC_BINARY_DIR) + "/pocketrec " + rank_args +
                            " --dist.rank=0 > " + t.path() + "/rank0.log 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Rank 1 is killed as soon as rank 0 has written the first checkpoint.
  const bool killed = run_killed_when(rank_args + " --dist.rank=1", dir + "/checkpoint_last.ckpt");
  const auto t_kill = std::chrono::steady_clock::now();
  int status = 0;
  waitpid(r0, &status, 0);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_kill).count();
  ASSERT_TRUE(killed) << "rank 1 finished before it could be killed";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << pocketrec::read_file(t.path() + "/rank0.log");
  EXPECT_LT(waited, 20.0 + 10.0) << "rank 0 outlived dist.timeout_s";
  EXPECT_NE(pocketrec::read_file(t.path() + "/rank0.log").find("distributed training:"), std::string::npos)
      << pocketrec::read_file(t.path() + "/rank0.log");
  std::printf("rank 0 exited %.1f s after rank 1 was killed (dist.timeout_s = 20)\n", waited);
  ASSERT_FALSE(fs::exists(dir + "/results.json"));

  CliRun one = run("train" + flags + " --output.dir=" + dir + " --resume");
  EXPECT_EQ(one.code, 2) << one.out;
  EXPECT_NE(one.out.find("was written by a run of 2 process(es)"), std::string::npos) << one.out;

  CliRun resumed = run("launch -n 2 -- train" + flags + " --output.dir=" + dir + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  const nlohmann::json a = results(t.path() + "/full"), b = results(dir);
  EXPECT_TRUE(b["fit"]["resumed"].get<bool>());
  EXPECT_EQ(a["valid"]["metrics"], b["valid"]["metrics"]);
  EXPECT_EQ(a["test"]["metrics"], b["test"]["metrics"]);
  EXPECT_EQ(a["fit"]["parameter_checksum"], b["fit"]["parameter_checksum"]);
}

TEST(Distributed, AnUnreachableMasterOrAFailingRankEndsWithAnError) {
  TempDir t;
  const auto t0 = std::chrono::steady_clock::now();
  CliRun alone = run("train" + tiny_odrec_sasrec(t) + " --output.dir=" + t.path() +
                     "/x --dist.world_size=2 --dist.rank=1 --dist.master=127.0.0.1:29733 --dist.timeout_s=3");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(alone.code, 1) << alone.out;
  EXPECT_NE(alone.out.find("could not join the group at dist.master = 127.0.0.1:29733"), std::string::npos)
      << alone.out;
  EXPECT_LT(secs, 30.0);
  EXPECT_FALSE(fs::exists(t.path() + "/x"));

  CliRun bad = run("launch -n 2 -- train" + tiny_odrec_sasrec(t) + " --train.epochs=two");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("[rank 0]"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("train.epochs"), std::string::npos) << bad.out;
  CliRun not_a_run = run("launch -n 2 -- eval x");
  EXPECT_EQ(not_a_run.code, 2) << not_a_run.out;
}
