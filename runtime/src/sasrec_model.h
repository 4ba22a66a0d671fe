// SASRec inference without LibTorch: both variants of src/models/sasrec.cpp (the standard pre-LN
// model read at the last position, and the OD-Rec post-LN model with its soft-attention readout),
// with a dense, a 2-core canonical semi-tensor-train or a product-quantised item table. The weights are views into the
// loaded file (or decoded copies of f16/i8 weights); the forward pass writes only into the caller's
// scratch (scratch_floats()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "next_item_model.h"
#include "weight_views.h"

namespace pocketrec::runtime {

struct BlockView {
  LinearView q, k, v, o, ff1, ff2;
  LayerNormView ln_attn, ln_ffn;
};

class SasRecModel : public NextItemModel {
 public:
  Status load(const PocketFile& file, pocketrec_scoring scoring) override;
  // The session vector (no user: the argument is ignored).
  void query_vector(const int32_t* history, size_t n, int32_t user, float* scratch, float* q) const override;

 private:
  void item_row(int32_t item, float* out) const;  // E[item] (dense row or STT reconstruction)
  // q_pad: the query rows of the padded positions, precomputed (null: computed from xq).
  void attention(const BlockView& b, const float* xq, const float* xkv, size_t L, size_t n_real, const float* q_pad,
                 float* scratch, float* out) const;

  bool odrec_ = false, stt_ = false, pq_table_ = false;
  int64_t heads_ = 1, inner_ = 0;
  float eps_ = 1e-8f;
  const float* item_ = nullptr;  // dense [n_items + 1, d]
  SttCores cores_;
  PqTable pq_;
  const float* pos_ = nullptr;  // [max_len, d]
  LayerNormView ln_in_;
  std::vector<BlockView> blocks_;
  LinearView glu1_, glu2_, w2_;  // OD-Rec readout
  std::vector<float> table_;     // a rebuilt fp32 table when scoring a compressed table as one
  // OD-Rec: a padded position's input to the first block is the same for every session (padding row +
  // position, LayerNorm), so its rows of x and of the first block's Q are computed once at load.
  std::vector<float> pad_x_, pad_q_;  // [max_len, d]
};

}  // namespace pocketrec::runtime
