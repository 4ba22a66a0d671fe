// What distillation needs from a SASRec model (OD-Rec KD, odrec.md §3) without seeing its layers.
#pragma once

#include <optional>

#include <torch/torch.h>

#include "compress/stt_shape.h"

namespace pocketrec::models {

class SessionEncoder {
 public:
  virtual ~SessionEncoder() = default;
  // seq [B,L] right-padded with the padding id (= n_items), lengths [B] -> session vectors [B,d],
  // in the network's current train/eval mode.
  virtual torch::Tensor session_vectors(const torch::Tensor& seq, const torch::Tensor& lengths) = 0;
  virtual torch::Tensor item_table() = 0;                        // [n_items, d], what scores use
  virtual int64_t dim() const = 0;
  virtual int64_t item_table_parameters() const = 0;  // the stored item table (dense rows or STT cores)
  virtual torch::nn::Module& encoder_module() = 0;     // the whole network
  virtual std::optional<compress::SttShape> stt_shape() const = 0;  // the STT item table's shape, if any
};

}  // namespace pocketrec::models
