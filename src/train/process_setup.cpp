#include "train/process_setup.h"

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <torch/torch.h>

#include "core/log.h"

namespace pocketrec {

void apply_malloc_settings() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, -1);
}

std::string blas_description() {
  std::string where;
  if (void* sym = dlsym(RTLD_DEFAULT, "sgemm_")) {
    Dl_info info;
    if (dladdr(sym, &info) != 0 && info.dli_fname != nullptr) where = info.dli_fname;
  }
  if (auto get_config = reinterpret_cast<char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config")))
    return fmt::format("OpenBLAS ({}) from {}", get_config(), where.empty() ? "?" : where);
  if (where.empty()) return "no BLAS symbols found";
  return fmt::format("reference BLAS from {} (slow: install libopenblas-dev)", where);
}

void set_compute_threads(int torch_threads, int blas_threads) {
  int cores = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  int t = torch_threads > 0 ? torch_threads : std::max(1, cores);
  torch::set_num_threads(t);
  int b = std::max(1, blas_threads);
  if (auto set_blas = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set_blas(b);
  log_info("process: torch threads {}, BLAS threads {}, {}", t, b, blas_description());
}

}  // namespace pocketrec
