// A suite stage's stamp (src/app/repro_stage.h): the wall time of a stage continued over several
// invocations counts each interrupted invocation up to its last checkpoint.
#include "app/repro_stage.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "test_util.h"

using pocketrec::app::StageStamp;
using pocketrec::testing::TempDir;

namespace {

const nlohmann::json kIdentity = {{"config", {{"train", {{"epochs", 10}}}}}, {"epochs", 10}};

double started_at(const std::string& stamp_path) {
  return nlohmann::json::parse(pocketrec::read_file(stamp_path))["started_at"].get<double>();
}

// Sets the file's modification time to `at` seconds since the Unix epoch (whole milliseconds).
void set_mtime(const std::string& path, double at) {
  const double whole = std::floor(at);
  const long ms = std::lround((at - whole) * 1000.0);
  timespec times[2];
  for (timespec& t : times) {
    t.tv_sec = static_cast<time_t>(whole);
    t.tv_nsec = ms * 1000000L;
  }
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

TEST(ReproStage, AStageStartedOverCountsOnlyItsOwnInvocation) {
  TempDir dir;
  const std::string stamp_path = dir.path() + "/repro_stage.json";
  StageStamp stamp(stamp_path);
  stamp.start(kIdentity);
  EXPECT_FALSE(stamp.done(kIdentity));
  stamp.finish(kIdentity, 3.5);
  EXPECT_TRUE(StageStamp(stamp_path).done(kIdentity));
  EXPECT_DOUBLE_EQ(StageStamp(stamp_path).wall_s(), 3.5);
}

TEST(ReproStage, AResumedStageCountsEachInterruptedInvocationUpToItsLastCheckpoint) {
  TempDir dir;
  const std::string stamp_path = dir.path() + "/repro_stage.json";
  const std::string checkpoint = dir.file("checkpoint_last.ckpt", "weights");

  // First invocation: its last checkpoint 40 s after it started, then it is killed.
  StageStamp(stamp_path).start(kIdentity);
  set_mtime(checkpoint, started_at(stamp_path) + 40.0);

  // Second invocation: continues, checkpoints 25.5 s after its start, is killed again.
  StageStamp(stamp_path).resume(kIdentity, checkpoint);
  set_mtime(checkpoint, started_at(stamp_path) + 25.5);

  // Third invocation: killed before any new checkpoint (the file is older than its start), so it
  // adds nothing; the fourth finishes after 2 s of its own.
  StageStamp(stamp_path).resume(kIdentity, checkpoint);
  set_mtime(checkpoint, started_at(stamp_path) - 100.0);
  StageStamp last(stamp_path);
  last.resume(kIdentity, checkpoint);
  last.finish(kIdentity, 2.0);

  const StageStamp done(stamp_path);
  EXPECT_TRUE(done.done(kIdentity));
  EXPECT_NEAR(done.wall_s(), 40.0 + 25.5 + 0.0 + 2.0, 1e-3);
}

TEST(ReproStage, AResumeWithOtherSettingsOrAfterAFinishedRunCountsNothingEarlier) {
  TempDir dir;
  const std::string stamp_path = dir.path() + "/repro_stage.json";
  const std::string checkpoint = dir.file("checkpoint_last.ckpt", "weights");
  StageStamp(stamp_path).start(kIdentity);
  set_mtime(checkpoint, started_at(stamp_path) + 40.0);

  nlohmann::json other = kIdentity;
  other["epochs"] = 20;
  StageStamp changed(stamp_path);
  changed.resume(other, checkpoint);
  changed.finish(other, 1.0);
  EXPECT_DOUBLE_EQ(StageStamp(stamp_path).wall_s(), 1.0);

  // A finished stamp is no interruption: resuming after it counts the new invocation only, however
  // recent the checkpoint.
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  set_mtime(checkpoint, now + 40.0);
  StageStamp again(stamp_path);
  again.resume(other, checkpoint);
  again.finish(other, 4.0);
  EXPECT_DOUBLE_EQ(StageStamp(stamp_path).wall_s(), 4.0);
}

}  // namespace
