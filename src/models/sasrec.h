// What distillation needs from a SASRec model (OD-Rec KD, odrec.md §3) without seeing its layers.
#pragma once

#include <optional>
#include <vector>

#include <torch/torch.h>

#include "compress/stt_shape.h"

namespace pocketrec::models {

class SessionEncoder {
 public:
  virtual ~SessionEncoder() = default;
  virtual torch::Tensor item_table() = 0;  // [n_items, d], what scores use
  // ids of any shape -> their item rows [..., d], the padding id (= n_items) reading a zero row.
  // table: this step's item_table(), which an STT model gathers the rows from (rebuilding a batch's
  // rows from the cores costs more than the whole table: bench_stt Lookup/* and Reconstruct*).
  virtual torch::Tensor item_rows(const torch::Tensor& ids, const torch::Tensor& table) = 0;
  // seq [B,L] right-padded with the padding id, lengths [B], rows = item_rows(seq, table) [B,L,d] ->
  // session vectors [B,d], in the network's current train/eval mode. The rows are an argument so
  // that one gather can serve several readers (OD-Rec KD also reads sub-session rows).
  virtual torch::Tensor session_vectors(const torch::Tensor& seq, const torch::Tensor& lengths,
                                        const torch::Tensor& rows) = 0;
  virtual int64_t dim() const = 0;
  virtual int64_t item_table_parameters() const = 0;  // the stored item table (dense rows or STT cores)
  virtual torch::nn::Module& encoder_module() = 0;     // the whole network
  virtual std::optional<compress::SttShape> stt_shape() const = 0;  // the STT item table's shape, if any
  // The STT table's item order (compress/item_order.h), if it has one (model.stt_item_order = teacher).
  virtual std::optional<std::vector<int64_t>> stt_item_order() const = 0;
  virtual void set_stt_item_order(const std::vector<int64_t>& slot_of_item) = 0;
};

}  // namespace pocketrec::models
