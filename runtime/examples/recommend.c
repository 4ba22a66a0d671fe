/* The smallest use of the runtime, in C: load a .pocket model and print the top-k after a history.
 *   pocketrec_example_recommend student.pocket 10 12 55 7      (k = 10, history 12 55 7)
 */
#include <stdio.h>
#include <stdlib.h>

#include "pocketrec/pocketrec.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL.pocket K ITEM [ITEM...]\n", argv[0]);
    return 2;
  }
  const size_t k = (size_t)strtoul(argv[2], NULL, 10);
  const size_t n = (size_t)(argc - 3);
  int64_t* history = malloc(n * sizeof *history);
  int64_t* items = malloc((k ? k : 1) * sizeof *items);
  float* scores = malloc((k ? k : 1) * sizeof *scores);
  for (size_t i = 0; i < n; ++i) history[i] = strtoll(argv[3 + i], NULL, 10);

  pocketrec_model* model = NULL;
  pocketrec_context* ctx = NULL;
  pocketrec_model_params params = pocketrec_model_default_params();
  size_t n_out = 0;
  int rc = 1;
  if (pocketrec_model_load_file(argv[1], &params, &model) != POCKETREC_STATUS_OK ||
      pocketrec_context_init(model, &ctx) != POCKETREC_STATUS_OK ||
      pocketrec_recommend(ctx, history, n, k, 1, items, scores, &n_out) != POCKETREC_STATUS_OK) {
    fprintf(stderr, "error: %s\n", pocketrec_last_error());
  } else {
    for (size_t i = 0; i < n_out; ++i) printf("%lld\t%.6f\n", (long long)items[i], scores[i]);
    rc = 0;
  }
  pocketrec_context_free(ctx);
  pocketrec_model_free(model);
  free(history);
  free(items);
  free(scores);
  return rc;
}
