// Every reader on tiny files, and every kind of bad input: the error names the file and line.
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/format_detect.h"
#include "data/readers.h"
#include "data/stats.h"
#include "test_util.h"

using namespace pocketrec;
using namespace pocketrec::data;
using pocketrec::testing::TempDir;

using pocketrec::testing::error_of;

TEST(Readers, TripletsWithRatingAndTimestamp) {
  TempDir t;
  auto p = t.file("x.txt", "u1 i1 5 100\nu1 i2 3 50\r\nu2 i1 4 70\n\nu3 i3 1 1");
  InteractionTable tab = read_triplets(p, "user item rating timestamp");
  ASSERT_EQ(tab.size(), 4u);
  EXPECT_EQ(tab.users.size(), 3);
  EXPECT_EQ(tab.items.size(), 3);
  EXPECT_EQ(tab.user, (std::vector<int32_t>{0, 0, 1, 2}));
  EXPECT_EQ(tab.item, (std::vector<int32_t>{0, 1, 0, 2}));
  EXPECT_EQ(tab.rating, (std::vector<float>{5, 3, 4, 1}));
  EXPECT_EQ(tab.time, (std::vector<double>{100, 50, 70, 1}));
  EXPECT_EQ(tab.items.token(2), "i3");
  EXPECT_EQ(tab.compact_bytes(), 4u * 20);
}

TEST(Readers, TripletsWithOnlyUserItemAndIntegerIdsKeepFirstAppearanceOrder) {
  TempDir t;
  auto p = t.file("x.txt", "7 30\n7 10\n3 30\n");
  InteractionTable tab = read_triplets(p, "user item rating timestamp");
  EXPECT_TRUE(tab.rating.empty());
  EXPECT_TRUE(tab.time.empty());
  EXPECT_EQ(tab.users.token(0), "7");
  EXPECT_EQ(tab.items.token(1), "10");
  EXPECT_EQ(tab.items.find("30"), 0);
  EXPECT_FALSE(tab.items.find("030").has_value());
}

TEST(Readers, CheckinsAndInterAndSequences) {
  TempDir t;
  auto c = t.file("g_checkins.txt", "0\t2049\t1287503727.0\n0\t0\t1287411463.0\n1\t0\t5.0\n");
  InteractionTable ck = read_checkins(c);
  EXPECT_EQ(ck.size(), 3u);
  EXPECT_DOUBLE_EQ(ck.time[1], 1287411463.0);

  auto i = t.file("m.inter",
                  "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n"
                  "186\t302\t3\t891717742\n");
  InteractionTable it = read_inter(i);
  EXPECT_EQ(it.size(), 2u);
  EXPECT_EQ(it.users.token(1), "186");
  EXPECT_EQ(it.rating[0], 3.0f);

  auto s = t.file("seq.txt", "1 1 2 3\n2 4 1\n");
  InteractionTable sq = read_user_sequences(s);
  EXPECT_EQ(sq.user, (std::vector<int32_t>{0, 0, 0, 1, 1}));
  EXPECT_EQ(sq.item, (std::vector<int32_t>{0, 1, 2, 3, 0}));
}

TEST(Readers, SessionsAndTestSamples) {
  TempDir t;
  auto tr = t.file("train_sessions.derived.txt", "1 2\n3 4 3\n");
  auto te = t.file("test_samples.derived.tsv", "2\t1 3\n9\t4\n");
  SessionData d = read_sessions(tr, te);
  EXPECT_EQ(d.train.size(), 2u);
  EXPECT_EQ(d.test_targets, (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(d.test_only_items, 1);  // item "9"
  EXPECT_EQ(d.test_prefixes[0].size(), 2u);
}

TEST(Readers, BadInputNamesFileAndLine) {
  TempDir t;
  auto short_line = t.file("a.txt", "u1 i1 5\nu2\n");
  EXPECT_NE(error_of([&] { read_triplets(short_line, "user item rating"); }).find("a.txt:2: expected 3 fields"),
            std::string::npos);
  auto bad_rating = t.file("b.txt", "u1 i1 5\nu2 i2 five\n");
  EXPECT_NE(error_of([&] { read_triplets(bad_rating, "user item rating"); }).find("b.txt:2: expected a numeric rating"),
            std::string::npos);
  auto bad_time = t.file("c_checkins.txt", "0\t1\t12.5\n0\t2\tyesterday\n");
  EXPECT_NE(error_of([&] { read_checkins(bad_time); }).find("c_checkins.txt:2: expected a numeric timestamp"),
            std::string::npos);
  auto empty = t.file("d.txt", "");
  EXPECT_NE(error_of([&] { read_triplets(empty, "user item"); }).find("d.txt: file has no interactions"),
            std::string::npos);
  auto bad_header = t.file("e.inter", "user_id\titem_id:token\n1\t2\n");
  EXPECT_NE(error_of([&] { read_inter(bad_header); }).find("e.inter:1: header field 'user_id'"), std::string::npos);
  auto empty_seq = t.file("f.txt", "1 1 2\n2\n");
  EXPECT_NE(error_of([&] { read_user_sequences(empty_seq); })
                .find("f.txt:2: expected 'user item item ...', found an "
                      "empty sequence"),
            std::string::npos);
  auto dup_user = t.file("g.txt", "1 1 2\n1 3\n");
  EXPECT_NE(error_of([&] { read_user_sequences(dup_user); }).find("g.txt:2: user '1' already has a sequence (line 1)"),
            std::string::npos);
  auto tr = t.file("s/train_sessions.txt", "1 2\n");
  auto te = t.file("s/test_samples.tsv", "2\t1\n5 6\n");
  EXPECT_NE(error_of([&] { read_sessions(tr, te); }).find("test_samples.tsv:2: expected 'target<TAB>prefix items'"),
            std::string::npos);
  auto te2 = t.file("s/test2.tsv", "2\t\n");
  EXPECT_NE(error_of([&] { read_sessions(tr, te2); }).find("test2.tsv:1: empty prefix"), std::string::npos);
  EXPECT_NE(error_of([&] { read_triplets(t.path() + "/missing.txt", "user item"); }).find("missing.txt: no such file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_triplets(short_line, "user item ratin"); }).find("unknown column 'ratin'"),
            std::string::npos);
}

TEST(Readers, PresplitTestUserWithoutTrainingIsAnError) {
  TempDir t;
  auto train = t.file("train.txt", "1 10 1\n1 11 1\n");
  auto test = t.file("test.txt", "1 12 1\n2 10 1\n");
  InteractionTable tab = read_triplets(train, "user item rating");
  InteractionTable te;
  te.users = tab.users;
  te.items = tab.items;
  std::string msg = error_of([&] { append_triplets(te, test, "user item rating", false); });
  EXPECT_NE(msg.find("test.txt:2: user '2' has no training interactions"), std::string::npos) << msg;
}

TEST(FormatDetect, FolderLayouts) {
  TempDir t;
  t.file("ses/train_sessions.derived.txt", "1 2\n");
  t.file("ses/test_samples.derived.tsv", "2\t1\n");
  t.file("ses/all_train_seq.txt", "\x80\x04pickle");
  EXPECT_EQ(resolve_data_source(t.path() + "/ses", "auto").format, "session");
  t.file("ck/X_checkins.txt", "0\t1\t2.0\n");
  t.file("ck/X_train.txt", "0\t1\t2\n");
  EXPECT_EQ(resolve_data_source(t.path() + "/ck", "auto").format, "checkin");
  t.file("rd/train.txt", "1 2 1\n");
  t.file("rd/test.txt", "1 3 1\n");
  EXPECT_EQ(resolve_data_source(t.path() + "/rd", "auto").format, "presplit");
  t.file("sq/Beauty.txt", "1 1 2 3 4 5\n2 6 7 8 9 10 4 11\n");
  t.file("sq/README.md", "x");
  EXPECT_EQ(resolve_data_source(t.path() + "/sq", "auto").format, "sequence");
  t.file("pairs/Video.txt", "1 6393\n1 13504\n");
  EXPECT_EQ(resolve_data_source(t.path() + "/pairs", "auto").format, "triplet");
  EXPECT_THROW(resolve_data_source(t.path() + "/nope", "auto"), Error);
}

TEST(Stats, CountsOfASmallFolder) {
  TempDir t;
  t.file("ck/a_checkins.txt", "0\t5\t3.0\n0\t6\t1.0\n1\t5\t2.0\n");
  DataStats s = compute_stats(t.path() + "/ck", "auto", "user item rating timestamp");
  EXPECT_EQ(s.users, 2);
  EXPECT_EQ(s.items, 2);
  EXPECT_EQ(s.interactions, 3);
  EXPECT_DOUBLE_EQ(s.avg_length, 1.5);
  EXPECT_NE(s.to_markdown().find("| interactions | 3 |"), std::string::npos);
}
