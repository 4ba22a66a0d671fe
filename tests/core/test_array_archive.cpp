// Round trip, and every kind of damage refused with a clear error (never a crash).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/array_archive.h"
#include "core/atomic_file.h"
#include "core/text.h"
#include "test_util.h"

using namespace pocketrec;
using pocketrec::testing::TempDir;

namespace {
ArrayArchive sample() {
  ArrayArchive ar;
  ar.meta["model"] = "demo";
  std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f};
  ar.add("w", w.data(), {2, 3});
  ar.add("ids", std::vector<int64_t>{5, 6, 7});
  return ar;
}
}  // namespace

TEST(ArrayArchive, RoundTripIsExact) {
  TempDir t;
  std::string p = t.path() + "/a.prarr";
  sample().save(p);
  ArrayArchive back = ArrayArchive::load(p);
  EXPECT_EQ(back.meta["model"], "demo");
  EXPECT_EQ(back.get_vector<float>("w", {2, 3}), (std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f}));
  EXPECT_EQ(back.get_vector<int64_t>("ids"), (std::vector<int64_t>{5, 6, 7}));
  EXPECT_THROW(back.get_vector<float>("w", {3, 2}), Error);  // wrong shape
  EXPECT_THROW(back.get_vector<int32_t>("ids"), Error);      // wrong dtype
  EXPECT_THROW(back.get("missing"), Error);
  // No temp file is left behind.
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(t.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(ArrayArchive, EveryTruncationAndEveryFlippedByteIsRefused) {
  TempDir t;
  std::string p = t.path() + "/a.prarr";
  sample().save(p);
  const std::string good = read_file(p);
  for (size_t n = 0; n < good.size(); ++n) {
    try {
      ArrayArchive::parse(good.substr(0, n), "cut");
      ADD_FAILURE() << "truncation to " << n << " bytes accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("cut: ", 0), 0u);
    }
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x10;
    EXPECT_THROW(ArrayArchive::parse(bad, "flip"), Error) << "byte " << i;
  }
}

TEST(ArrayArchive, NewerVersionIsReportedAsSuch) {
  std::string bytes;
  {
    TempDir t;
    sample().save(t.path() + "/a");
    bytes = read_file(t.path() + "/a");
  }
  bytes[8] = 9;  // version field
  try {
    ArrayArchive::parse(bytes, "v9");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupportedVersion);
    EXPECT_NE(std::string(e.what()).find("version 9 is newer"), std::string::npos);
  }
}

TEST(AtomicFile, UncommittedWriterLeavesNothing) {
  TempDir t;
  std::string p = t.path() + "/out.json";
  write_file_atomic(p, "old");
  {
    AtomicFileWriter w(p);
    w.write("partial new content");
    // destroyed without commit (as on an exception)
  }
  EXPECT_EQ(read_file(p), "old");
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(t.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}
