// SemiTensorTrainEmbedding: an item table stored as semi-tensor-train cores (shapes and layouts:
// stt_shape.h; OD-Rec, Xia et al. SIGIR'22, §4.2). Trained with LibTorch autograd.
//   forward(ids)   rows for a batch of ids, reconstructing only those rows (canonical layout: each
//                  row contracts the item's own core slices; flat layout: the rows of the chain
//                  product the ids straddle, then the ids' elements)
//   full_table()   every row at once (for full-softmax logits and for export), one chained product
// With an item order (item_order.h) item v reads slot slot_of_item[v] (a buffer, saved with the
// parameters); without one, slot v.
#pragma once

#include <torch/torch.h>

#include "compress/stt_shape.h"

namespace pocketrec::compress {

// The semi-tensor product A ⋉ B = A · (B ⊗ I_t), batched over leading dimensions:
// A [..., h, P*t], B [..., P, Q] -> [..., h, Q*t], with C[h, q*t + s] = sum_p A[h, p*t + s] * B[p, q].
torch::Tensor semi_tensor_product(const torch::Tensor& A, const torch::Tensor& B, int64_t t);

class SemiTensorTrainEmbeddingImpl : public torch::nn::Module {
 public:
  // Cores initialised U(-init_bound, init_bound) (the OD-Rec reference uses 0.1).
  // ordered: item ids go through the slot_of_item buffer (identity until set_item_order).
  SemiTensorTrainEmbeddingImpl(SttShape shape, double init_bound, bool ordered = false);

  torch::Tensor forward(const torch::Tensor& ids);  // ids of any shape -> [..., d]
  torch::Tensor full_table();                       // [n_rows, d], row v = item v's
  // A permutation of [0, n_rows) (ItemOrder::slot_of_item); only for a table built `ordered`.
  void set_item_order(const std::vector<int64_t>& slot_of_item);
  bool ordered() const { return slot_of_item_.defined(); }
  const torch::Tensor& slot_of_item() const { return slot_of_item_; }  // [n_rows] int64, if ordered()

  const SttShape& shape() const { return shape_; }
  std::vector<torch::Tensor> cores() const { return cores_; }

 private:
  torch::Tensor chain_product();  // the rows of M over (i_1, j_1, ..., i_K, j_K), as [n_rows * d]
  torch::Tensor canonical_rows(const torch::Tensor& ids);  // ids [n] -> [n, d]
  torch::Tensor flat_rows(const torch::Tensor& ids);       // ids [n] -> [n, d]

  SttShape shape_;
  std::vector<torch::Tensor> cores_;
  torch::Tensor slot_of_item_;  // [n_rows] int64, or undefined (identity)
};
TORCH_MODULE(SemiTensorTrainEmbedding);

}  // namespace pocketrec::compress
