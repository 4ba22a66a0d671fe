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

// Sessions walk a cycle of 30 items (i is followed by i+1 mod 30): the next item is predictable
// from the last one. Test prefixes have two items.
inline data::Dataset cycle_sessions() {
  data::SessionData s;
  for (int i = 0; i < 30; ++i) s.items.get_or_add(std::to_string(i));
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> start(0, 29);
  for (int n = 0; n < 400; ++n) {
    int a = start(rng);
    s.train.append(std::vector<int32_t>{a, (a + 1) % 30, (a + 2) % 30, (a + 3) % 30});
  }
  for (int n = 0; n < 60; ++n) {
    int a = start(rng);
    s.test_prefixes.append(std::vector<int32_t>{a, (a + 1) % 30});
    s.test_targets.push_back((a + 2) % 30);
  }
  return data::split_sessions(s, "last", 0.1, 1);
}

}  // namespace pocketrec::testing
