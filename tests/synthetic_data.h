// Small data sets with known structure for model tests (LibTorch-free).
#pragma once

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/readers.h"

namespace pocketrec::testing {

// 120 users in 10 communities of 10 items; each user visits 8 items of its own community in a
// random order; temporal 70/10/20 split. Any model that learns user taste beats POP by far.
inline data::Dataset community_users() {
  std::mt19937 rng(1);
  data::UserSequences us;
  for (int i = 0; i < 100; ++i) us.items.get_or_add(std::to_string(i));
  for (int u = 0; u < 120; ++u) {
    us.users.get_or_add(std::to_string(u));
    std::vector<int32_t> s(10);
    std::iota(s.begin(), s.end(), (u % 10) * 10);
    std::shuffle(s.begin(), s.end(), rng);
    s.resize(8);
    us.seqs.append(s);
  }
  return data::split_temporal_ratio(us, 0.7, 0.1, 0.2);
}

// The community of user u in community_users() and noisy_community_users().
inline int64_t community_of_user(int64_t u) {
  return u % 10;
}

// 120 users in 10 communities of 10 items, like community_users, but the labels are noisy: each
// user's first 7 items (the training part of the 70/10/20 split) are 3 of the user's community in
// random order among 4 random items of other communities; the validation item and the 2 test items
// are 3 more of the community. What the training labels say about the community is weak.
inline data::Dataset noisy_community_users() {
  std::mt19937 rng(2);
  data::UserSequences us;
  for (int i = 0; i < 100; ++i) us.items.get_or_add(std::to_string(i));
  std::uniform_int_distribution<int> other(0, 89);
  for (int u = 0; u < 120; ++u) {
    us.users.get_or_add(std::to_string(u));
    const int c = static_cast<int>(community_of_user(u));
    std::vector<int32_t> own(10);
    std::iota(own.begin(), own.end(), c * 10);
    std::shuffle(own.begin(), own.end(), rng);
    std::vector<int32_t> train(own.begin(), own.begin() + 3);
    for (int k = 0; k < 4; ++k) {
      const int x = other(rng);  // 90 items outside community c
      train.push_back(static_cast<int32_t>(x < c * 10 ? x : x + 10));
    }
    std::shuffle(train.begin(), train.end(), rng);
    train.insert(train.end(), own.begin() + 3, own.begin() + 6);
    us.seqs.append(train);
  }
  return data::split_temporal_ratio(us, 0.7, 0.1, 0.2);
}

// Sessions walk a cycle of 30 items (i is followed by i+1 mod 30): the next item is predictable
// from the last one. Test prefixes have two items. With noise > 0, each training session item after
// the first is replaced by a random item with that probability (the test sessions stay clean).
inline data::Dataset cycle_sessions(double noise = 0.0) {
  data::SessionData s;
  for (int i = 0; i < 30; ++i) s.items.get_or_add(std::to_string(i));
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> start(0, 29);
  std::mt19937 noise_rng(5);
  std::bernoulli_distribution replace(noise);
  for (int n = 0; n < 400; ++n) {
    int a = start(rng);
    std::vector<int32_t> session{a, (a + 1) % 30, (a + 2) % 30, (a + 3) % 30};
    if (noise > 0)
      for (size_t i = 1; i < session.size(); ++i)
        if (replace(noise_rng)) session[i] = start(noise_rng);
    s.train.append(session);
  }
  for (int n = 0; n < 60; ++n) {
    int a = start(rng);
    s.test_prefixes.append(std::vector<int32_t>{a, (a + 1) % 30});
    s.test_targets.push_back((a + 2) % 30);
  }
  return data::split_sessions(s, "last", 0.1, 1);
}

}  // namespace pocketrec::testing
