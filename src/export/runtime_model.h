// A .pocket model loaded by the on-device runtime, with one context, freed together: how export
// verification and `pocketrec recommend` call the runtime's C API. Runtime failures become Error
// with the runtime's own message.
#pragma once

#include <string>

#include "core/error.h"
#include "pocketrec/pocketrec.h"

namespace pocketrec::exporter {

inline ErrorCode error_code_of(pocketrec_status s) {
  switch (s) {
    case POCKETREC_STATUS_INVALID_ARGUMENT: return ErrorCode::kInvalidArgument;
    case POCKETREC_STATUS_NOT_FOUND: return ErrorCode::kNotFound;
    case POCKETREC_STATUS_IO: return ErrorCode::kIo;
    case POCKETREC_STATUS_BAD_FORMAT: return ErrorCode::kBadFormat;
    case POCKETREC_STATUS_UNSUPPORTED_VERSION: return ErrorCode::kUnsupportedVersion;
    case POCKETREC_STATUS_CHECKSUM_MISMATCH: return ErrorCode::kChecksumMismatch;
    default: return ErrorCode::kInternal;
  }
}

// Throws Error(error_code_of(s), pocketrec_last_error()) unless s is OK.
inline void check_runtime(pocketrec_status s) {
  PR_CHECK(s == POCKETREC_STATUS_OK, error_code_of(s), "{}", pocketrec_last_error());
}

struct RuntimeModel {
  pocketrec_model* model = nullptr;
  pocketrec_context* ctx = nullptr;

  RuntimeModel(const std::string& path, pocketrec_scoring scoring) {
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = scoring;
    check_runtime(pocketrec_model_load_file(path.c_str(), &p, &model));
    const pocketrec_status s = pocketrec_context_init(model, &ctx);
    if (s != POCKETREC_STATUS_OK) {
      const std::string message = pocketrec_last_error();
      pocketrec_model_free(model);
      PR_FAIL(error_code_of(s), "{}", message);
    }
  }
  ~RuntimeModel() {
    pocketrec_context_free(ctx);
    pocketrec_model_free(model);
  }
  RuntimeModel(const RuntimeModel&) = delete;
  RuntimeModel& operator=(const RuntimeModel&) = delete;
};

}  // namespace pocketrec::exporter
