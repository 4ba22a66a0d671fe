// The smallest use of the runtime from C++: the C API with its handles owned by unique_ptr.
//   recommend_cpp student.pocket 10 12 55 7      (k = 10, history 12 55 7)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "pocketrec/pocketrec.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.pocket K ITEM [ITEM...]\n", argv[0]);
    return 2;
  }
  const size_t k = std::strtoul(argv[2], nullptr, 10);
  std::vector<int64_t> history;
  for (int i = 3; i < argc; ++i) history.push_back(std::strtoll(argv[i], nullptr, 10));

  pocketrec_model* raw_model = nullptr;
  if (pocketrec_model_load_file(argv[1], nullptr, &raw_model) != POCKETREC_STATUS_OK) {
    std::fprintf(stderr, "error: %s\n", pocketrec_last_error());
    return 1;
  }
  std::unique_ptr<pocketrec_model, decltype(&pocketrec_model_free)> model(raw_model, pocketrec_model_free);
  pocketrec_context* raw_ctx = nullptr;
  if (pocketrec_context_init(model.get(), &raw_ctx) != POCKETREC_STATUS_OK) {
    std::fprintf(stderr, "error: %s\n", pocketrec_last_error());
    return 1;
  }
  std::unique_ptr<pocketrec_context, decltype(&pocketrec_context_free)> ctx(raw_ctx, pocketrec_context_free);

  std::vector<int64_t> items(k);
  std::vector<float> scores(k);
  size_t n = 0;
  if (pocketrec_recommend(ctx.get(), history.data(), history.size(), k, 1, items.data(), scores.data(), &n) !=
      POCKETREC_STATUS_OK) {
    std::fprintf(stderr, "error: %s\n", pocketrec_last_error());
    return 1;
  }
  for (size_t i = 0; i < n; ++i) std::printf("%lld\t%.6f\n", static_cast<long long>(items[i]), scores[i]);
  return 0;
}
