// A .pocket model loaded from bytes through the C API, with its context, for the runtime tests;
// reseal() recomputes the trailing CRC after a deliberate header edit.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pocket_format.h"
#include "pocketrec/pocketrec.h"

namespace pocketrec::testing {
struct Loaded {
  pocketrec_model* model = nullptr;
  pocketrec_context* ctx = nullptr;
  pocketrec_status status;
  std::string error;
  Loaded(const std::string& bytes, pocketrec_scoring scoring = POCKETREC_SCORING_AUTO) {
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = scoring;
    status = pocketrec_model_load_buffer(bytes.data(), bytes.size(), &p, &model);
    if (status == POCKETREC_STATUS_OK) status = pocketrec_context_init(model, &ctx);
    if (status != POCKETREC_STATUS_OK) error = pocketrec_last_error();
  }
  ~Loaded() {
    pocketrec_context_free(ctx);
    pocketrec_model_free(model);
  }
  std::vector<float> scores(const std::vector<int64_t>& history) {
    std::vector<float> s(pocketrec_model_n_items(model));
    EXPECT_EQ(pocketrec_score_all(ctx, history.data(), history.size(), s.data()), POCKETREC_STATUS_OK)
        << pocketrec_last_error();
    return s;
  }
};

inline void reseal(std::string& bytes) {  // recompute the trailing CRC after a deliberate header edit
  uint32_t crc = format::crc32_update(0, bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
}

}  // namespace pocketrec::testing
