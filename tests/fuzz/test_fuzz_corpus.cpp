// The fuzz target's inputs replayed in every build (the way sqlite replays its fuzzers' finds): the
// saved crashers in tests/testdata/fuzz, the seed files (each must load and answer a query), and
// every seed with bytes flipped at fixed positions. A crash here is a crash the fuzzer found again.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "core/text.h"
#include "fuzz/fuzz_seeds.h"
#include "pocketrec/pocketrec.h"
#include "test_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

namespace {

void replay(const std::string& bytes) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST(FuzzCorpus, SavedFindsReplayWithoutACrash) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(POCKETREC_SOURCE_DIR) + "/tests/testdata/fuzz")) {
    replay(pocketrec::read_file(e.path().string()));
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(FuzzCorpus, SeedsLoadAndAnswerAndTheirMutationsAreRefusedCleanly) {
  pocketrec::testing::TempDir dir;
  const int n_seeds = pocketrec::testing::write_fuzz_seeds(dir.path());
  EXPECT_EQ(n_seeds, 16);
  std::mt19937 rng(1);
  for (int i = 0; i < n_seeds; ++i) {
    const std::string path = dir.path() + "/seed" + std::to_string(i) + ".pocket";
    const std::string bytes = pocketrec::read_file(path);
    pocketrec_model* m = nullptr;
    ASSERT_EQ(pocketrec_model_load_file(path.c_str(), nullptr, &m), POCKETREC_STATUS_OK)
        << path << ": " << pocketrec_last_error();
    pocketrec_model_free(m);
    replay(bytes);
    // Flipped bytes (the target reseals even-sized inputs, so the header and tensor checks see them).
    std::uniform_int_distribution<size_t> at(0, bytes.size() - 1);
    for (int k = 0; k < 200; ++k) {
      std::string mutated = bytes;
      mutated[at(rng)] ^= static_cast<char>(1 << (k % 8));
      replay(mutated);
    }
  }
}
