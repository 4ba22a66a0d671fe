// Process-wide set-up that every binary linking LibTorch runs (docs/design/platform.md §3 measured 5-18x
// slow-downs without it). LibTorch-free header.
#pragma once

#include <string>

namespace pocketrec {

// First line of main(): glibc malloc keeps freed memory instead of returning it with munmap, so
// per-step temporaries of LibTorch do not page-fault on every step.
void apply_malloc_settings();

// Torch intra-op threads (0 = available cores) and OpenBLAS threads (default 1, so OpenBLAS does
// not oversubscribe the cores torch's OpenMP already uses). Logs one line naming the BLAS in use.
void set_compute_threads(int torch_threads, int blas_threads);

// "OpenBLAS 0.3.21 ... (/usr/lib/.../libblas.so.3)" or a warning that the reference BLAS is in use.
std::string blas_description();

}  // namespace pocketrec
