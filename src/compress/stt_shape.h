// Shapes of a semi-tensor-train (STT) item table (OD-Rec, Xia et al. SIGIR'22; docs/design/odrec.md §2).
// LibTorch-free: the training module, size reports, export and the on-device runtime share it.
//
// The n_rows x d table is factorised into K cores joined by the semi-tensor product
//   A ⋉ B = A · (B ⊗ I_t)          (docs/design/odrec.md §2.1; t = 1 is the ordinary matrix product, i.e. plain TT)
// with item factors I_1..I_K (n_rows = prod I_k >= n_items), dimension factors J_1..J_K (d = prod J_k),
// TT rank R, and core shapes
//   core 0          (I_1 J_1) x R
//   core k, middle  (R/t) x (I_k J_k R / t)
//   core K-1, last  (R/t) x (I_K J_K / t)
// The chain M_1 = core0 ⋉ core1, M_k = reshape(M_{k-1}, -1, R) ⋉ core_k gives a matrix whose rows
// run over (i_1, j_1, ..., i_K, j_K) in mixed radix. Two ways to read the item table out of it:
//   canonical  E[v, (j_1..j_K)] = M[(i_1, j_1, ..., i_K, j_K)] with v = (i_1..i_K) in mixed radix
//              (the TT-matrix layout; OD-Rec's mobile.py): one item's row needs only its own slices
//              of the cores;
//   flat       E = reshape(M, n_rows, d) (OD-Rec's training code): item rows straddle rows of M.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pocketrec::compress {

enum class SttLayout { kCanonical, kFlat };

struct SttShape {
  std::vector<int64_t> items;  // I_1..I_K
  std::vector<int64_t> dims;   // J_1..J_K
  int64_t rank = 0;            // R
  int64_t t = 1;               // semi-tensor-product factor; 1 = plain tensor train
  SttLayout layout = SttLayout::kCanonical;

  size_t n_cores() const { return items.size(); }
  int64_t n_rows() const;  // prod I_k (the padded item count)
  int64_t dim() const;     // prod J_k
  std::pair<int64_t, int64_t> core_shape(size_t k) const;
  int64_t n_parameters() const;  // sum of the core sizes
  // Throws Error(kInvalidArgument) naming `what` when the factors do not fit (K in {2, 3}, t | R,
  // t | J_K, n_rows >= n_items, prod J = d).
  void validate(int64_t n_items, int64_t d, const std::string& what) const;
  std::string to_string() const;  // "[[169,241],[16,8]] R=60 t=2 canonical"

  // Factors chosen from the sizes: I_k close to n_items^(1/K) with the last one rounded up so
  // that prod I_k >= n_items (the padding rows are never ranked), J_k the most balanced
  // factorisation of d whose last factor is divisible by t.
  static SttShape choose(int64_t n_items, int64_t d, int64_t rank, int64_t t, size_t n_cores, SttLayout layout);
};

SttLayout parse_stt_layout(const std::string& name);  // "canonical" | "flat"

}  // namespace pocketrec::compress
