#include "core/error.h"

namespace pocketrec {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kBadFormat: return "bad format";
    case ErrorCode::kUnsupportedVersion: return "unsupported version";
    case ErrorCode::kChecksumMismatch: return "checksum mismatch";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown";
}

void throw_internal(const char* file, int line, const char* condition, const std::string& detail) {
  std::string msg = fmt::format("{}:{}: check failed: {}", file, line, condition);
  if (!detail.empty()) msg += " (" + detail + ")";
  throw Error(ErrorCode::kInternal, msg);
}

}  // namespace pocketrec
