// Cross-target parity: the runtime's top-20 on the bundled models (tests/testdata/runtime) against
// the lists and scores recorded on x86-64 (tools/record_runtime_parity.py). Run by the native build
// with each kernel ISA and by the aarch64 build under QEMU (tests/runtime/standalone): the lists must
// be identical and every score within 1e-5 of the recorded one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "pocketrec/pocketrec.h"

namespace {

const std::string kDataDir = std::string(POCKETREC_SOURCE_DIR) + "/tests/testdata/runtime/";

template <typename T>
std::vector<T> parse_list(const std::string& field) {
  std::vector<T> out;
  std::istringstream in(field);
  T v;
  while (in >> v) out.push_back(v);
  return out;
}

struct Query {
  std::string model;
  std::vector<int64_t> history, items;
  std::vector<float> scores;
  int line = 0;
};

std::vector<Query> read_expected() {
  std::ifstream in(kDataDir + "expected_top20.tsv");
  EXPECT_TRUE(in) << kDataDir << "expected_top20.tsv is missing";
  std::vector<Query> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string s; std::getline(fields, s, '\t');) f.push_back(s);
    EXPECT_EQ(f.size(), 4u) << "expected_top20.tsv:" << n;
    if (f.size() != 4) continue;
    out.push_back({f[0], parse_list<int64_t>(f[1]), parse_list<int64_t>(f[2]), parse_list<float>(f[3]), n});
  }
  return out;
}

TEST(RuntimeParity, BundledModelsReproduceTheRecordedTop20) {
  const std::vector<Query> queries = read_expected();
  ASSERT_EQ(queries.size(), 100u);
  std::map<std::string, std::pair<pocketrec_model*, pocketrec_context*>> loaded;
  size_t identical = 0;
  double max_diff = 0;
  for (const Query& q : queries) {
    auto& slot = loaded[q.model];
    if (!slot.first) {
      ASSERT_EQ(pocketrec_model_load_file((kDataDir + q.model).c_str(), nullptr, &slot.first), POCKETREC_STATUS_OK)
          << pocketrec_last_error();
      ASSERT_EQ(pocketrec_context_init(slot.first, &slot.second), POCKETREC_STATUS_OK);
    }
    const size_t k = q.items.size();
    ASSERT_EQ(k, 20u) << "line " << q.line;
    std::vector<int64_t> items(k);
    std::vector<float> scores(k);
    size_t n = 0;
    ASSERT_EQ(
        pocketrec_recommend(slot.second, q.history.data(), q.history.size(), k, 1, items.data(), scores.data(), &n),
        POCKETREC_STATUS_OK)
        << pocketrec_last_error();
    ASSERT_EQ(n, k);
    EXPECT_EQ(items, q.items) << q.model << ", expected_top20.tsv:" << q.line;
    identical += items == q.items;
    for (size_t i = 0; i < k; ++i) {
      EXPECT_NEAR(scores[i], q.scores[i], 1e-5) << q.model << ", expected_top20.tsv:" << q.line << ", rank " << i;
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(scores[i] - q.scores[i])));
    }
  }
  for (auto& [name, m] : loaded) {
    pocketrec_context_free(m.second);
    pocketrec_model_free(m.first);
  }
  // The line bench/README.md ("Portable builds") quotes for each target.
  std::printf("parity (kernels %s): %zu/%zu identical top-20 lists, max |score diff| %.3g\n", pocketrec_kernel_isa(),
              identical, queries.size(), max_diff);
}

}  // namespace
