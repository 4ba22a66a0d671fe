// SASRec inference without LibTorch: both variants of src/models/sasrec.cpp (the standard pre-LN
// model read at the last position, and the OD-Rec post-LN model with its soft-attention readout),
// with a dense or a 2-core canonical semi-tensor-train item table. The weights are views into the
// loaded file; the forward pass writes only into caller-provided scratch (scratch_floats()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "item_scorer.h"
#include "pocket_file.h"

namespace pocketrec::runtime {

struct LinearView {
  const float* w = nullptr;  // W^T [in x out] (a transposed copy owned by the model)
  const float* b = nullptr;  // [out] or null
  size_t in = 0, out = 0;
};
struct LayerNormView {
  const float* gamma = nullptr;
  const float* beta = nullptr;
};
struct BlockView {
  LinearView q, k, v, o, ff1, ff2;
  LayerNormView ln_attn, ln_ffn;
};

class SasRecModel {
 public:
  // Reads the architecture and every weight from `file`, checking each shape.
  Status load(const PocketFile& file, pocketrec_scoring scoring);

  const std::string& architecture() const { return architecture_; }
  int64_t n_items() const { return n_items_; }
  int64_t dim() const { return d_; }
  int64_t max_len() const { return max_len_; }
  const ItemScorer& scorer() const { return scorer_; }
  size_t weight_bytes() const { return weight_bytes_; }

  size_t scratch_floats() const;
  // history: item indices (0 <= i < n_items), the last min(n, max_len) are read; n >= 1.
  // Writes the session vector q[d].
  void session_vector(const int32_t* history, size_t n, float* scratch, float* q) const;

 private:
  void item_row(int32_t item, float* out) const;  // E[item] (dense row or STT reconstruction)
  void attention(const BlockView& b, const float* xq, const float* xkv, size_t L, size_t n_real, float* scratch,
                 float* out) const;

  std::string architecture_;
  bool odrec_ = false, stt_ = false;
  int64_t n_items_ = 0, d_ = 0, max_len_ = 0, heads_ = 1, inner_ = 0;
  float eps_ = 1e-8f;
  const float* item_ = nullptr;  // dense [n_items + 1, d]
  SttCores cores_;
  const float* pos_ = nullptr;   // [max_len, d]
  LayerNormView ln_in_;
  std::vector<BlockView> blocks_;
  LinearView glu1_, glu2_, w2_;  // OD-Rec readout
  std::vector<float> table_;     // a rebuilt fp32 table when scoring a compressed table as one
  std::vector<std::vector<float>> transposed_;  // W^T of every linear layer (the views point into the
                                                // inner buffers, which growing the outer vector moves intact)
  ItemScorer scorer_;
  size_t weight_bytes_ = 0;
};

}  // namespace pocketrec::runtime
