// Error type and check macros shared by the whole library (no LibTorch).
//
// Library code throws pocketrec::Error and never exits; the CLI maps the code to an exit status.
// Messages say where the fault is, then what was expected and what was found, start lowercase
// and have no trailing period ("data/x.txt:12: expected 3 fields, found 2").
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace pocketrec {

enum class ErrorCode {
  kInvalidArgument,     // bad config value, unknown key, bad CLI usage
  kNotFound,            // missing file, unknown model or id
  kIo,                  // read/write failure
  kBadFormat,           // malformed input line or file
  kUnsupportedVersion,  // file written by a newer format version
  kChecksumMismatch,    // corrupt file
  kInternal,            // violated invariant (a bug)
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] void throw_internal(const char* file, int line, const char* condition, const std::string& detail);

}  // namespace pocketrec

// Throws Error(code, formatted message) unless cond holds.
#define PR_CHECK(cond, code, ...)                                              \
  do {                                                                         \
    if (!(cond)) throw ::pocketrec::Error((code), ::fmt::format(__VA_ARGS__)); \
  } while (0)

#define PR_FAIL(code, ...) throw ::pocketrec::Error((code), ::fmt::format(__VA_ARGS__))

// Internal invariant: the message carries the source location and the failed condition, plus an
// optional formatted detail: PR_ASSERT(k <= n, "k={}, n={}", k, n).
#define PR_ASSERT(...) PR_ASSERT_IMPL_(__VA_ARGS__, "")
#define PR_ASSERT_IMPL_(cond, ...)                                                                   \
  do {                                                                                               \
    if (!(cond)) ::pocketrec::throw_internal(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
  } while (0)
