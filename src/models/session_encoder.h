// What OD-Rec distillation needs from a session model (SASRec) without seeing its layers: the item
// table, row gathers, the session encoder, and the table's teacher-derived structure.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace pocketrec::models {

// The stored size of an item table: float parameters, other stored bytes (codes), and their total
// in bytes as fp32 (what the compression ratios compare).
struct ItemTableSize {
  int64_t parameters = 0;
  int64_t code_bytes = 0;
  std::string description;  // "dense 40729 x 128", "stt [[169,241],[16,8]] R=60 t=2 canonical"
  int64_t bytes() const { return 4 * parameters + code_bytes; }
};

class SessionEncoder {
 public:
  virtual ~SessionEncoder() = default;
  virtual torch::Tensor item_table() = 0;  // [n_items, d], what scores use
  // ids of any shape -> their item rows [..., d], the padding id (= n_items) reading a zero row.
  // table: this step's item_table(), which a compressed table gathers the rows from (rebuilding a
  // batch's rows from STT cores costs more than the whole table: bench_stt Lookup/* and Reconstruct*).
  virtual torch::Tensor item_rows(const torch::Tensor& ids, const torch::Tensor& table) = 0;
  // seq [B,L] right-padded with the padding id, lengths [B], rows = item_rows(seq, table) [B,L,d] ->
  // session vectors [B,d], in the network's current train/eval mode. The rows are an argument so
  // that one gather can serve several readers (OD-Rec KD also reads sub-session rows).
  virtual torch::Tensor session_vectors(const torch::Tensor& seq, const torch::Tensor& lengths,
                                        const torch::Tensor& rows) = 0;
  virtual int64_t dim() const = 0;
  virtual ItemTableSize item_table_size() const = 0;
  virtual torch::nn::Module& encoder_module() = 0;  // the whole network
  // Whether the item table's structure is derived from a trained teacher's table (an STT slot order
  // built from it); such a model must be initialised with init_item_table_from() before training.
  virtual bool item_table_needs_teacher() const = 0;
  // Derives that structure from the teacher's table, once; a no-op for tables without one.
  virtual void init_item_table_from(SessionEncoder& teacher, uint64_t seed) = 0;
};

}  // namespace pocketrec::models
