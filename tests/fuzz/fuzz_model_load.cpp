// libFuzzer target over the runtime's model loader and one query: any byte string must give a
// status, never a crash or an out-of-bounds read (run under ASan + UBSan by tools/runtime_sanitize.sh;
// its saved finds and seeds are replayed by tests/fuzz/test_fuzz_corpus.cpp in every build).
// With POCKETREC_FUZZ_WRITE_SEEDS defined it is instead a program writing valid seed files.
#include <cstddef>
#include <cstdint>

#include "pocketrec/pocketrec.h"

#ifndef POCKETREC_FUZZ_WRITE_SEEDS
#include <cstring>
#include <vector>

#include "pocket_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Odd inputs go in as they are; even ones get a consistent file_size field and trailing CRC, so
  // mutations reach the header and tensor checks instead of stopping at the checksum.
  std::vector<uint8_t> bytes(data, data + size);
  if (size >= 48 && size % 2 == 0) {
    const uint64_t file_size = size;
    std::memcpy(bytes.data() + 16, &file_size, 8);
    const uint32_t crc = pocketrec::format::crc32_update(0, bytes.data(), size - 4);
    std::memcpy(bytes.data() + size - 4, &crc, 4);
  }
  pocketrec_model* model = nullptr;
  if (pocketrec_model_load_buffer(bytes.data(), bytes.size(), nullptr, &model) != POCKETREC_STATUS_OK) return 0;
  pocketrec_context* ctx = nullptr;
  if (pocketrec_context_init(model, &ctx) == POCKETREC_STATUS_OK) {
    if (pocketrec_model_n_users(model) > 0) pocketrec_context_set_user(ctx, 0);
    const int64_t history[3] = {pocketrec_model_item_id(model, 0), pocketrec_model_item_id(model, 1), 12345};
    int64_t items[8];
    float scores[8];
    size_t n = 0;
    pocketrec_recommend(ctx, history, 2, 8, 1, items, scores, &n);
    pocketrec_recommend(ctx, history, 3, 8, 0, items, scores, &n);  // 12345 is usually unknown
  }
  pocketrec_context_free(ctx);
  pocketrec_model_free(model);
  return 0;
}
#else
#include "fuzz/fuzz_seeds.h"

int main(int argc, char** argv) {
  pocketrec::testing::write_fuzz_seeds(argc > 1 ? argv[1] : ".");
  return 0;
}
#endif
