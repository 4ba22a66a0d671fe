#include "simd/kernel_table.h"

#include <cstdlib>
#include <cstring>

namespace pocketrec::runtime {
namespace isa {
namespace baseline {
extern const KernelTable kTable;
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
namespace avx2 {
extern const KernelTable kTable;
}
namespace avx512 {
extern const KernelTable kTable;
}
#endif
}  // namespace isa

namespace {

// The tables in order of preference, each with whether this CPU can run it.
struct Candidate {
  const KernelTable* table;
  bool supported;
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The AVX-512 table as this CPU may use it: without VBMI, no pq_scan_u8.
const KernelTable* avx512_table() {
  static const KernelTable table = [] {
    KernelTable t = isa::avx512::kTable;
    if (!__builtin_cpu_supports("avx512vbmi")) t.pq_scan_u8 = nullptr;
    return t;
  }();
  return &table;
}
#endif

int candidates(Candidate* out) {
  int n = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  out[n++] = {avx512_table(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")};
  out[n++] = {&isa::avx2::kTable, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")};
#endif
  out[n++] = {&isa::baseline::kTable, true};
  return n;
}

const KernelTable& choose() {
  Candidate c[3];
  const int n = candidates(c);
  const char* cap = std::getenv("POCKETREC_RUNTIME_ISA");
  bool allowed = !cap || !*cap;  // below the cap (or no cap): take the first supported one
  for (int i = 0; i < n; ++i) {
    allowed = allowed || std::strcmp(c[i].table->isa, cap) == 0;
    if (allowed && c[i].supported) return *c[i].table;
  }
  return isa::baseline::kTable;  // an unknown name caps at the baseline
}

}  // namespace

const KernelTable& kernels() {
  static const KernelTable& table = choose();
  return table;
}

const KernelTable* kernel_table(const char* isa) {
  Candidate c[3];
  const int n = candidates(c);
  for (int i = 0; i < n; ++i)
    if (c[i].supported && std::strcmp(c[i].table->isa, isa) == 0) return c[i].table;
  return nullptr;
}

}  // namespace pocketrec::runtime
