// A suite stage's stamp (src/app/repro_stage.h): the wall time of a stage continued over several
// invocations counts each interrupted invocation up to its last checkpoint.
#include "app/repro_stage.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "test_util.h"

using pocketrec::app::StageStamp;
using pocketrec::testing::TempDir;

namespace {

const nlohmann::json kIdentity = {{"config", {{"train", {{"epochs", 10}}}}}, {"epochs", 10}};

// Moves the start of the stamp's invocation `seconds` into the past (as if that much time had gone
// by since) and returns the new start.
double age_stamp(const std::string& stamp_path, double seconds) {
  nlohmann::json stamp = nlohmann::json::parse(pocketrec::read_file(stamp_path));
  const double started = stamp["started_at"].get<double>() - seconds;
  stamp["started_at"] = started;
  std::ofstream(stamp_path) << stamp.dump();
  return started;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Sets the file's modification time to `at` seconds since the Unix epoch.
void set_mtime(const std::string& path, double at) {
  long long ns = std::llround(at * 1e9);
  timespec times[2];
  for (timespec& t : times) {
    t.tv_sec = static_cast<time_t>(ns / 1000000000LL);
    t.tv_nsec = static_cast<long>(ns % 1000000000LL);
  }
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

void write_stamp(const std::string& path, const nlohmann::json& stamp) {
  std::ofstream(path) << stamp.dump();
}

// A stage folder: its stamp and the checkpoint an invocation saved last.
class ReproStage : public ::testing::Test {
 protected:
  TempDir dir;
  const std::string stamp_path = dir.path() + "/repro_stage.json";
  const std::string checkpoint = dir.file("checkpoint_last.ckpt", "weights");
};

TEST_F(ReproStage, AStageStartedOverCountsOnlyItsOwnInvocation) {
  // An interrupted invocation carried 40 s over; starting over (other settings) drops them.
  write_stamp(stamp_path,
              {{"identity", kIdentity}, {"finished", false}, {"started_at", unix_now() - 100}, {"earlier_s", 40.0}});
  StageStamp stamp(stamp_path);
  stamp.start(kIdentity);
  EXPECT_FALSE(stamp.done(kIdentity));
  stamp.finish(kIdentity, 3.5);
  EXPECT_TRUE(StageStamp(stamp_path).done(kIdentity));
  EXPECT_DOUBLE_EQ(StageStamp(stamp_path).wall_s(), 3.5);
}

TEST_F(ReproStage, AResumedStageCountsEachInterruptedInvocationUpToItsLastCheckpoint) {
  // First invocation: started 1000 s ago, its last checkpoint 40 s after its start, then killed.
  StageStamp(stamp_path).start(kIdentity);
  set_mtime(checkpoint, age_stamp(stamp_path, 1000.0) + 40.0);

  // Second invocation: continues, checkpoints 25.5 s after its start, is killed again.
  StageStamp(stamp_path).resume(kIdentity, checkpoint);
  set_mtime(checkpoint, age_stamp(stamp_path, 1000.0) + 25.5);

  // Third invocation: killed before any new checkpoint (the file is older than its start), so it
  // adds nothing; the fourth finishes after 2 s of its own.
  StageStamp(stamp_path).resume(kIdentity, checkpoint);
  age_stamp(stamp_path, 10.0);
  StageStamp last(stamp_path);
  last.resume(kIdentity, checkpoint);
  last.finish(kIdentity, 2.0);

  const StageStamp done(stamp_path);
  EXPECT_TRUE(done.done(kIdentity));
  EXPECT_NEAR(done.wall_s(), 40.0 + 25.5 + 0.0 + 2.0, 1e-2);
}

TEST_F(ReproStage, AModificationTimeAheadOfTheClockCountsUpToNow) {
  StageStamp(stamp_path).start(kIdentity);
  const double started = age_stamp(stamp_path, 30.0);
  set_mtime(checkpoint, unix_now() + 3600.0);
  StageStamp resumed(stamp_path);
  resumed.resume(kIdentity, checkpoint);
  const double carried = nlohmann::json::parse(pocketrec::read_file(stamp_path))["earlier_s"].get<double>();
  EXPECT_GE(carried, 30.0);
  EXPECT_LT(carried, unix_now() - started + 1.0);
}

TEST_F(ReproStage, AResumeOfOtherSettingsAFinishedStageOrAnOldStampCountsNothingEarlier) {
  StageStamp(stamp_path).start(kIdentity);
  set_mtime(checkpoint, age_stamp(stamp_path, 1000.0) + 40.0);

  nlohmann::json other = kIdentity;
  other["epochs"] = 20;
  StageStamp changed(stamp_path);
  changed.resume(other, checkpoint);
  changed.finish(other, 1.0);
  EXPECT_DOUBLE_EQ(StageStamp(stamp_path).wall_s(), 1.0);

  // A finished stamp is no interruption, even one that says when it started: resuming after it
  // counts the new invocation only.
  const double started = unix_now() - 100;
  write_stamp(stamp_path, {{"identity", other}, {"finished", true}, {"started_at", started}, {"wall_s", 9.0}});
  set_mtime(checkpoint, started + 40.0);
  StageStamp again(stamp_path);
  again.resume(other, checkpoint);
  again.finish(other, 4.0);
  EXPECT_DOUBLE_EQ(StageStamp(stamp_path).wall_s(), 4.0);

  // A stamp that does not say when its invocation started (or says it in a field that is not a
  // number) carries nothing over.
  for (const nlohmann::json& when : {nlohmann::json(), nlohmann::json("yesterday")}) {
    nlohmann::json stamp = {{"identity", kIdentity}, {"finished", false}, {"earlier_s", "lots"}};
    if (!when.is_null()) stamp["started_at"] = when;
    write_stamp(stamp_path, stamp);
    StageStamp old(stamp_path);
    old.resume(kIdentity, checkpoint);
    old.finish(kIdentity, 5.0);
    EXPECT_DOUBLE_EQ(StageStamp(stamp_path).wall_s(), 5.0) << stamp.dump();
  }
}

// A stamp whose fields have other types than the tool writes (edited by hand, or by another tool)
// never throws: a "finished" that is not the boolean true reads as unfinished (the stage is redone),
// a "wall_s" or "git_rev" of another type as 0 or "".
TEST_F(ReproStage, FieldsOfTheWrongTypeReadAsAbsent) {
  write_stamp(stamp_path, {{"identity", kIdentity}, {"finished", "yes"}, {"wall_s", "long"}, {"git_rev", 42}});
  const StageStamp odd(stamp_path);
  EXPECT_TRUE(odd.matches(kIdentity));
  EXPECT_FALSE(odd.done(kIdentity));
  EXPECT_EQ(odd.wall_s(), 0.0);
  EXPECT_EQ(odd.git_rev(), "");
  write_stamp(stamp_path, {{"identity", kIdentity}, {"finished", 1}, {"wall_s", 7.5}});
  EXPECT_FALSE(StageStamp(stamp_path).done(kIdentity));  // 1 is not the boolean the tool writes
  // A finished stamp keeps its state when only its time or revision has another type.
  write_stamp(stamp_path, {{"identity", kIdentity}, {"finished", true}, {"wall_s", "x"}, {"git_rev", "abc"}});
  const StageStamp finished(stamp_path);
  EXPECT_TRUE(finished.done(kIdentity));
  EXPECT_EQ(finished.wall_s(), 0.0);
  EXPECT_EQ(finished.git_rev(), "abc");
  write_stamp(stamp_path, {{"identity", kIdentity}, {"finished", true}, {"wall_s", 7.5}, {"git_rev", "abc"}});
  const StageStamp good(stamp_path);
  EXPECT_TRUE(good.done(kIdentity));
  EXPECT_EQ(good.wall_s(), 7.5);
  EXPECT_EQ(good.git_rev(), "abc");
}

}  // namespace
