// Errors inside the runtime: no exceptions; every fallible step returns a Status carrying a C API
// code and a message that says where the fault is, then what was expected and what was found.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

#include "pocketrec/pocketrec.h"

namespace pocketrec::runtime {

struct [[nodiscard]] Status {
  pocketrec_status code = POCKETREC_STATUS_OK;
  std::string message;
  bool ok() const { return code == POCKETREC_STATUS_OK; }
  static Status Ok() { return {}; }
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
inline Status
make_status(pocketrec_status code, const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return {code, buf};
}

}  // namespace pocketrec::runtime

// Returns a Status with the formatted message from the enclosing function unless cond holds.
#define RT_CHECK(cond, code, ...)                                               \
  do {                                                                          \
    if (!(cond)) return ::pocketrec::runtime::make_status((code), __VA_ARGS__); \
  } while (0)
#define RT_TRY(expr)                           \
  do {                                         \
    ::pocketrec::runtime::Status st_ = (expr); \
    if (!st_.ok()) return st_;                 \
  } while (0)
