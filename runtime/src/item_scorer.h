// Scores a query vector q [d] against every item (score[v] = q . E[v], plus b[v] when the model has an
// item bias): one of four stored forms of the item table.
//   kFp32Table  n_items x d fp32 rows (the dense model's table, or an STT table rebuilt at load):
//               one streaming pass over n_items * d * 4 bytes.
//   kInt8Table  the same rows as int8 with one fp32 scale per row: a quarter of the bytes.
//   kSttCores   straight from two canonical semi-tensor-train cores (docs/design/odrec.md §2; t | R, t | J2),
//               never decompressed. With v = i1 * I2 + i2 and the table's column (j1, j2a, c2)
//               (j2 = j2a t + c2),
//                 E[v, j1 J2 + j2a t + c2] = sum_p core0[i1 J1 + j1, p t + c2] * core1[p, i2 J2/t + j2a],
//               so score[v] = q . E[v] = sum_{p, j2a} G[i1, p, j2a] * core1[p, i2 J2/t + j2a] with
//                 G[i1, p, j2a] = sum_{j1, c2} core0[i1 J1 + j1, p t + c2] * q[j1 J2 + j2a t + c2].
//               Two small products (G^T: J2/t x J1 t x I1 R/t, then I1 x R J2/t^2 x I2: about 5.5M
//               multiply-adds on Tmall) over 0.8 MB of cores that stay in cache.
//   kPqCodes    from product-quantised codes with a lookup table (PqTable below).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "simd/kernel_table.h"
#include "status.h"
#include "topk.h"

namespace pocketrec::runtime {

struct SttCores {
  int64_t I1 = 0, I2 = 0, J1 = 0, J2 = 0, R = 0, t = 1;
  const float* core0 = nullptr;  // (I1 J1) x R
  const float* core1 = nullptr;  // (R/t) x (I2 J2 / t)
  // Item v's row is slot slot_of_item[v] (v above, with the slot in place of v), a permutation of
  // [0, I1 I2) (a teacher-guided item order, compress/item_order.h); null: slot v.
  const int64_t* slot_of_item = nullptr;
  // BAD_FORMAT naming `source` unless the factors are bounded (checked before any product: the fuzzer
  // found an overflow), t divides R and J2, I1 I2 >= n_items and J1 J2 = d, and slot_of_item (if
  // any) is a permutation of [0, I1 I2).
  Status check(const char* source, int64_t n_items, int64_t d) const;
  // E[item] (d = J1 J2 floats) from the formula above; the table modes and the history lookups use it.
  void row(int64_t item, float* out) const;
};

// A product-quantised table (docs/design/pq.md): M sub-spaces of s = d / M dimensions, K codewords
// each, item v's row [codebook[m][codes[v M + m]] for m = 0..M-1] (times the rotation R when given).
// Scored from codes with a lookup table, the table itself never rebuilt:
//   q' = R q,  LUT[m][k] = q'_m . codebook[m][k]   (K d multiply-adds)
//   score[v] = sum_m LUT[m][codes[v M + m]]         (M byte-indexed loads and adds per item)
// With K <= 16, on a CPU with AVX2 or AVX-512, the scorer packs the codes to 4 bits in blocks of 32
// items at init, and each sub-space's 16 LUT entries sit in registers: one permute looks up 16 items
// with AVX-512, two permutes and a blend 8 items with AVX2 (kernel_table.h: pq_scan16).
struct PqTable {
  int64_t M = 0, K = 0, s = 0;
  const float* codebooks = nullptr;  // [M, K, s]
  const uint8_t* codes = nullptr;    // [n_items, M]
  const float* rotation = nullptr;   // [d, d] or null: row = c R
  // BAD_FORMAT naming `source` unless the sizes are bounded and fit d, and every code is < K.
  Status check(const char* source, int64_t n_items, int64_t d) const;
  void row(int64_t item, float* out) const;  // E[item] (d floats; scratch-free)
};

// What one query of ItemScorer::top_k's pruned PQ scan writes, sized once by ItemScorer::prepare
// (empty for a scorer without that scan): the LUT as bytes, the items' 16-bit approximate scores, the
// blocks' maxima and the best k of them, and the candidates' indices. A buffer prepared for another
// scorer is not used (the query scores every item).
struct TopKBuffers {
  std::vector<uint8_t> lut8;
  std::vector<uint16_t> sums, block_max, best_max;  // best_max: a heap of the k best block maxima
  std::vector<int32_t> candidates;
  size_t scored = 0;  // the items the last query scored exactly: all of them unless it pruned
};

class ItemScorer {
 public:
  enum class Kind { kFp32Table, kInt8Table, kSttCores, kPqCodes };

  // Borrows `rows` (n_items x d) and `bias` (n_items, or null) until the scorer is destroyed.
  void init_fp32(const float* rows, int64_t n_items, int64_t d, const float* bias = nullptr);
  // Quantises rows (n_items x d) per row (format::quantize_row_i8); borrows `bias`.
  void init_int8(const float* rows, int64_t n_items, int64_t d, const float* bias = nullptr);
  // Copies the cores into the scoring layout; stt must describe 2 canonical cores with n_items <= I1 I2.
  Status init_stt(const SttCores& stt, int64_t n_items, int64_t d);
  // Borrows the codebooks, codes and rotation until the scorer is destroyed.
  Status init_pq(const PqTable& pq, int64_t n_items, int64_t d);
  // Rebuilds the n_items x d fp32 table from STT cores (for the table modes and for tests).
  static std::vector<float> rebuild_table(const SttCores& stt, int64_t n_items);
  static std::vector<float> rebuild_table(const PqTable& pq, int64_t n_items, int64_t d);

  Kind kind() const { return kind_; }
  size_t scratch_floats() const;  // what score() needs in `scratch`
  // The length of `out`: >= n_items, as STT writes its padding rows and the 4-bit PQ scan whole
  // blocks of kPqBlock items too.
  size_t output_floats() const;
  size_t bytes() const;  // the bytes this scorer reads per query (its table or cores)
  // The bytes of its own copies (the int8 table, the re-laid-out STT cores, the PQ codebooks
  // transposed and the codes re-laid out for a block scan); what it borrows (an fp32 table, the
  // PQ codes and codebooks as stored) is the model's.
  size_t owned_bytes() const;
  // out[v] = q . E[v] (+ b[v]) for every item v < n_items.
  void score(const float* q, float* scratch, float* out) const;

  // Sizes `buf` for top_k (no allocation during a query).
  void prepare(TopKBuffers& buf) const;
  // The k best items for q, best first with ties to the smaller index, none of the items that
  // `excluded(f)` passes to f (item indices): exactly what runtime::top_k over score() with the
  // excluded items at -inf returns, indices and scores. `scores` has output_floats(), `scratch`
  // scratch_floats(). A PQ table with K > 16 on a CPU with pq_scan_u8 prunes first: a pass over
  // 16-bit sums of a byte-quantised LUT bounds every item's score, and only the items that the
  // bound cannot rule out are scored exactly (score_candidates); any other scorer scores every item.
  // The pass exists with M <= 256 on x86-64 CPUs with AVX-512 F/VL/BW/DQ and VBMI, unless
  // POCKETREC_RUNTIME_ISA caps the kernels below AVX-512. The exact scores are the byte scan's
  // in-order sums (tested equal to the bit; the runtime is built with -fassociative-math, so that
  // equality is a property of the build, checked by tests/runtime/test_runtime_pq.cpp).
  template <typename Excluded>
  size_t top_k(const float* q, size_t k, const Excluded& excluded, float* scratch, float* scores, TopKBuffers& buf,
               int64_t* idx, float* val) const;

 private:
  void add_bias(float* out) const;
  float* pq_lut(const float* q, float* scratch) const;  // the fp32 LUT of q, in scratch
  void score_pq(const float* q, float* scratch, float* out) const;
  // The pruned scan's first pass: the byte LUT, the 16-bit sums and the block maxima in buf, and in
  // *slack_units how far below the k-th best sum an item of the exact top k can lie. False when it
  // cannot prune (no such scan, k above a quarter of the blocks, buffers of another scorer, a LUT
  // that is not finite, constant or too narrow for a float step, a margin as wide as the sums).
  bool approximate_scan(const float* q, size_t k, float* scratch, TopKBuffers& buf, size_t* slack_units) const;
  // buf.block_max[block] from the block's sums, after some of them changed.
  static void update_block_max(TopKBuffers& buf, size_t block);
  // The items whose sums the bound keeps, in increasing order in buf.candidates, and their exact
  // scores (the byte scan's sums, to the bit) in scores; returns how many.
  size_t score_candidates(size_t k, size_t slack_units, const float* lut, TopKBuffers& buf, float* scores) const;
  Kind kind_ = Kind::kFp32Table;
  int64_t n_items_ = 0, d_ = 0;
  const float* rows_ = nullptr;
  const float* bias_ = nullptr;
  std::vector<int8_t> q8_;
  std::vector<float> scale_;
  SttCores stt_;
  PqTable pq_;
  std::vector<float> a_;          // core0 as [(j1, c2)][(i1, p)]: A^T, (J1 t) x (I1 R/t)
  std::vector<float> b_;          // core1 as [(j2a, p)][i2]: (J2/t R/t) x I2
  std::vector<uint8_t> packed_;   // K <= 16: the codes in pq_scan16's 4-bit block layout
  std::vector<uint8_t> blocked_;  // K > 16 with pq_scan_u8: the codes in its 64-item block layout
  std::vector<float> books_t_;    // the codebooks as [M][s][K], for the LUT's product
  int64_t lut_stride() const { return packed_.empty() ? pq_.K : int64_t{kPqLutRow}; }
};

template <typename Excluded>
size_t ItemScorer::top_k(const float* q, size_t k, const Excluded& excluded, float* scratch, float* scores,
                         TopKBuffers& buf, int64_t* idx, float* val) const {
  size_t slack = 0;
  if (!approximate_scan(q, k, scratch, buf, &slack)) {
    score(q, scratch, scores);
    excluded([&](int64_t v) { scores[v] = -INFINITY; });
    buf.scored = static_cast<size_t>(n_items_);
    return runtime::top_k(scores, buf.scored, k, idx, val);
  }
  // An excluded item's sum is 0, the lowest: the k-th best sum is then one of the other items'
  // (or 0, which keeps every item), as the bound needs.
  excluded([&](int64_t v) { buf.sums[static_cast<size_t>(v)] = 0; });
  excluded([&](int64_t v) { update_block_max(buf, static_cast<size_t>(v) / kPqU8Block); });
  const float* lut = scratch + d_;  // pq_lut's, left by approximate_scan
  const size_t n = score_candidates(k, slack, lut, buf, scores);
  buf.scored = n;
  const int32_t* cand = buf.candidates.data();
  excluded([&](int64_t v) {
    const int32_t* at = std::lower_bound(cand, cand + n, static_cast<int32_t>(v));
    if (at != cand + n && *at == v) scores[at - cand] = -INFINITY;
  });
  const size_t got = runtime::top_k(scores, n, k, idx, val);  // candidates in item order: the same ties
  for (size_t i = 0; i < got; ++i) idx[i] = cand[idx[i]];
  return got;
}

}  // namespace pocketrec::runtime
