#include <gtest/gtest.h>

#include "core/config.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/popularity.h"
#include "data/readers.h"
#include "data/samples.h"
#include "test_util.h"

using namespace pocketrec;
using namespace pocketrec::data;
using pocketrec::testing::TempDir;

namespace {
std::vector<int32_t> vec(ItemSpan s) {
  return {s.begin(), s.end()};
}

UserSequences make_users(const std::vector<std::vector<int32_t>>& seqs, int32_t n_items) {
  UserSequences u;
  for (size_t i = 0; i < seqs.size(); ++i) u.users.get_or_add(std::to_string(i));
  for (int32_t i = 0; i < n_items; ++i) u.items.get_or_add(std::to_string(i));
  for (const auto& s : seqs) u.seqs.append(s);
  return u;
}
}  // namespace

TEST(Group, OrdersByTimestampStablyWithinUser) {
  TempDir t;
  auto p = t.file("c_checkins.txt", "a\tx\t30\nb\ty\t5\na\ty\t10\na\tz\t10\na\tw\t1\n");
  InteractionTable tab = read_checkins(p);
  UserSequences us = group_by_user(tab);
  // user a: w(1), y(10), z(10, file order after y), x(30)
  std::vector<std::string> a;
  for (int32_t i : us.seqs[0]) a.push_back(us.items.token(i));
  EXPECT_EQ(a, (std::vector<std::string>{"w", "y", "z", "x"}));
  EXPECT_EQ(us.seqs.length(1), 1u);
}

TEST(Filters, DedupAndKCore) {
  // items 0..4; item 4 appears once; user 2 has 2 items.
  auto us = make_users({{0, 1, 0, 2, 3}, {0, 1, 2, 3, 4}, {0, 1}}, 5);
  EXPECT_EQ(dedup_first(us), 1);
  EXPECT_EQ(vec(us.seqs[0]), (std::vector<int32_t>{0, 1, 2, 3}));
  // 3-core: user 2 (2 items) goes, then items 2,3 keep 2 users (< 3) and go, ... until stable.
  auto removed = k_core(us, 3, 2);
  EXPECT_EQ(us.seqs.size(), 2u);  // users 0 and 1 survive
  EXPECT_EQ(us.items.size(), 4);  // item 4 (1 user) dropped, ids renumbered densely
  EXPECT_EQ(removed, 3);          // user 2's two interactions + item 4
  EXPECT_EQ(us.users.token(1), "1");
}

TEST(Splits, TemporalRatio) {
  auto us = make_users({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2}}, 10);
  Dataset d = split_temporal_ratio(us, 0.7, 0.1, 0.2);
  EXPECT_EQ(vec(d.train[0]), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(vec(d.train[1]), (std::vector<int32_t>{1, 2}));  // too short: train only
  ASSERT_EQ(d.valid.size(), 1u);
  EXPECT_EQ(vec(d.valid.targets[0]), (std::vector<int32_t>{7}));
  EXPECT_EQ(vec(d.valid.history[0]).size(), 7u);
  EXPECT_EQ(vec(d.test.targets[0]), (std::vector<int32_t>{8, 9}));
  EXPECT_EQ(vec(d.test.history[0]).size(), 8u);  // train + valid
  EXPECT_THROW(split_temporal_ratio(make_users({{1}}, 2), 0.5, 0.1, 0.2), Error);
}

TEST(Splits, LeaveOneOutAndDistinctTargets) {
  auto us = make_users({{0, 1, 2, 3}, {4, 5}}, 6);
  Dataset d = split_leave_one_out(us);
  EXPECT_EQ(vec(d.train[0]), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(vec(d.valid.targets[0]), (std::vector<int32_t>{2}));
  EXPECT_EQ(vec(d.test.targets[0]), (std::vector<int32_t>{3}));
  EXPECT_EQ(vec(d.test.history[0]), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(d.test.size(), 1u);
  auto rep = split_temporal_ratio(make_users({{0, 1, 2, 3, 3, 3}}, 4), 0.5, 0.0, 0.5);
  EXPECT_EQ(vec(rep.test.targets[0]), (std::vector<int32_t>{3}));  // 3 3 3 -> one target
}

TEST(Splits, SessionsCarveValidationAndPrefixExpand) {
  SessionData s;
  for (int i = 0; i < 5; ++i) s.items.get_or_add(std::to_string(i));
  s.train.append(std::vector<int32_t>{0, 1});
  s.train.append(std::vector<int32_t>{1, 2});
  s.train.append(std::vector<int32_t>{2, 3, 4});
  s.test_prefixes.append(std::vector<int32_t>{0});
  s.test_targets = {1};
  Dataset d = split_sessions(s, "last", 0.34, 1);
  EXPECT_FALSE(d.has_users);
  EXPECT_EQ(d.train.size(), 2u);
  ASSERT_EQ(d.valid.size(), 2u);  // session {2,3,4}: [2]->3, [2,3]->4
  EXPECT_EQ(vec(d.valid.history[1]), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(vec(d.valid.targets[1]), (std::vector<int32_t>{4}));
  EXPECT_EQ(d.valid.users[0], -1);
  Dataset r1 = split_sessions(s, "random", 0.34, 9), r2 = split_sessions(s, "random", 0.34, 9);
  EXPECT_EQ(r1.train, r2.train);
}

// train.refit's data: the validation part back in training, no validation queries, the same test.
TEST(Splits, FoldedValidationStaysInTrainingAndTestIsUnchanged) {
  auto us = make_users({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2}}, 10);
  const Dataset d = split_temporal_ratio(us, 0.7, 0.1, 0.2), f = split_temporal_ratio(us, 0.7, 0.1, 0.2, true);
  EXPECT_EQ(vec(f.train[0]), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(vec(f.train[1]), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(f.valid.size(), 0u);
  EXPECT_EQ(f.test.history, d.test.history);
  EXPECT_EQ(f.test.targets, d.test.targets);
  EXPECT_EQ(f.test.users, d.test.users);
  auto loo = make_users({{0, 1, 2, 3}, {4, 5}}, 6);
  const Dataset l = split_leave_one_out(loo), lf = split_leave_one_out(loo, true);
  EXPECT_EQ(vec(lf.train[0]), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(lf.valid.size(), 0u);
  EXPECT_EQ(lf.test.history, l.test.history);
  EXPECT_EQ(lf.test.targets, l.test.targets);
  // Session data folds by carving nothing: every training session trains.
  SessionData s;
  for (int i = 0; i < 5; ++i) s.items.get_or_add(std::to_string(i));
  s.train.append(std::vector<int32_t>{0, 1});
  s.train.append(std::vector<int32_t>{2, 3, 4});
  s.test_prefixes.append(std::vector<int32_t>{0});
  s.test_targets = {1};
  const Dataset sf = split_sessions(s, "last", 0.0, 1);
  EXPECT_EQ(sf.train.size(), 2u);
  EXPECT_EQ(sf.valid.size(), 0u);
  EXPECT_EQ(vec(sf.test.targets[0]), (std::vector<int32_t>{1}));
}

TEST(Samples, WindowsAndPrefixesIndexIntoOneArray) {
  Sequences s;
  s.append(std::vector<int32_t>{10, 11, 12, 13, 14, 15, 16});  // c = 7
  s.append(std::vector<int32_t>{20, 21, 22});                  // c = 3 < L+T
  s.append(std::vector<int32_t>{30});                          // c = 1 <= T: nothing
  SampleIndex w = make_window_samples(s, /*L=*/5, /*T=*/1);
  ASSERT_EQ(w.size(), 3u);  // c-L-T+1 = 2, plus one padded window
  int64_t win[5];
  gather_window(s, w, 0, 5, -1, win);
  EXPECT_EQ(std::vector<int64_t>(win, win + 5), (std::vector<int64_t>{10, 11, 12, 13, 14}));
  EXPECT_EQ(s.items[w.pos[0]], 15);
  gather_window(s, w, 2, 5, -1, win);
  EXPECT_EQ(std::vector<int64_t>(win, win + 5), (std::vector<int64_t>{-1, -1, -1, 20, 21}));
  EXPECT_EQ(s.items[w.pos[2]], 22);

  SampleIndex p = make_next_item_samples(s, 1);
  EXPECT_EQ(p.size(), 6u + 2u);
  EXPECT_EQ(make_next_item_samples(s, 0).size(), s.total());
}

TEST(BuildDataset, RejectsFiltersOnPresplitDataAndReportsEmptySplits) {
  TempDir t;
  t.file("rd/train.txt", "1 10 1\n1 11 1\n");
  t.file("rd/test.txt", "1 12 1\n");
  DataOptions data;
  data.path = t.path() + "/rd";
  data.item_core = 5;
  SplitOptions split;
  split.method = "given";
  EXPECT_THROW(build_dataset(data, split), Error);
  data.item_core = 0;
  Dataset d = build_dataset(data, split);
  EXPECT_EQ(d.n_items, 3);
  EXPECT_EQ(vec(d.test.targets[0]), (std::vector<int32_t>{2}));
  EXPECT_EQ(vec(d.test.history[0]), (std::vector<int32_t>{0, 1}));
}

TEST(Popularity, HotItemsCountTheInputPrefixes) {
  // Prefix counts: item 0 -> 2 + 2, item 1 -> 1 + 1 + 1, item 3 -> 3; items 2 and 4 are only ever
  // targets. Three distinct input items, fraction 0.67 -> the top 2, the 1-vs-3 tie in first-seen order.
  Sequences train;
  train.append(std::vector<int32_t>{0, 1, 2});
  train.append(std::vector<int32_t>{1, 2});
  train.append(std::vector<int32_t>{3, 0, 1, 4});
  EXPECT_EQ(hot_items(train, 5, 0.67), (std::vector<uint8_t>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(hot_items(train, 5, 0.2), (std::vector<uint8_t>{0, 0, 0, 0, 0, 0}));
}
