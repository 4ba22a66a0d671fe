// Resident memory of the on-device runtime alone (this binary links nothing but the runtime):
// loads a .pocket with a scoring mode, answers 1,000 random top-20 queries and prints
//   <peak RSS bytes> <RSS before loading> <model weight bytes>
// bench_runtime runs it once per mode.
//   runtime_rss MODEL.pocket cores|fp32|int8
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "pocketrec/pocketrec.h"

static long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  pocketrec_model_params p = pocketrec_model_default_params();
  p.scoring = !std::strcmp(argv[2], "cores")  ? POCKETREC_SCORING_CORES
              : !std::strcmp(argv[2], "int8") ? POCKETREC_SCORING_INT8_TABLE
                                              : POCKETREC_SCORING_FP32_TABLE;
  const long before = peak_rss_kb();
  pocketrec_model* m = nullptr;
  pocketrec_context* ctx = nullptr;
  if (pocketrec_model_load_file(argv[1], &p, &m) != POCKETREC_STATUS_OK ||
      pocketrec_context_init(m, &ctx) != POCKETREC_STATUS_OK) {
    std::fprintf(stderr, "%s\n", pocketrec_last_error());
    return 1;
  }
  std::mt19937 rng(1);
  std::uniform_int_distribution<int64_t> item(0, static_cast<int64_t>(pocketrec_model_n_items(m)) - 1);
  int64_t items[20];
  float scores[20];
  size_t n = 0;
  for (int q = 0; q < 1000; ++q) {
    int64_t h[5];
    for (auto& x : h) x = pocketrec_model_item_id(m, static_cast<size_t>(item(rng)));
    pocketrec_recommend(ctx, h, 5, 20, 0, items, scores, &n);
  }
  std::printf("%ld %ld %zu\n", peak_rss_kb() * 1024, before * 1024, pocketrec_model_weight_bytes(m));
  pocketrec_context_free(ctx);
  pocketrec_model_free(m);
  return 0;
}
