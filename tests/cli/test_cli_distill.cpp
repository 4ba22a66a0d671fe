// The distillation commands end to end: a teacher trained by `train`, then OD-Rec (STT, teacher-
// guided item order, PQ) and Ranking Distillation students: refusals with their messages, killed and
// resumed runs ending like uninterrupted ones, reloads and exports that reproduce the run exactly.
#include <gtest/gtest.h>

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
