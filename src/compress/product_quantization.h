// Product-quantised item tables (docs/design/pq.md): the d = M s dimensions split into M sub-spaces,
// sub-space m with a codebook of K codewords (K x s floats), item i a code c_i in {0..K-1}^M (one
// byte per sub-space when K <= 256), and its row the concatenation of its codewords,
//   e_i = [C_1[c_i1], ..., C_M[c_iM]] R      (R an optional orthogonal d x d rotation, OPQ)
// Codes are assigned once (from a trained teacher's table by k-means per sub-space, from the
// training data's co-occurrence by truncated SVD, or at random as a control) and stay fixed; the
// codebooks train (the JPQ recipe, Zhan et al., CIKM'21; RecJPQ, Petrov & Macdonald, WSDM'24).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/sequences.h"

namespace pocketrec::compress {

struct PqShape {
  int64_t n_rows = 0, dim = 0;
  int64_t subspaces = 16;   // M (divides dim)
  int64_t codewords = 256;  // K (<= 256: one byte per code)
  bool rotation = false;

  int64_t sub_dim() const { return dim / subspaces; }
  int64_t codebook_floats() const { return subspaces * codewords * sub_dim(); }
  int64_t n_parameters() const { return codebook_floats() + (rotation ? dim * dim : 0); }  // stored floats
  int64_t code_bytes() const { return n_rows * subspaces; }
  // Error(kInvalidArgument) naming `what` unless M divides d and 1 < K <= 256.
  void validate(const std::string& what) const;
  std::string to_string() const;  // "pq M=16 K=256 (8-dim sub-spaces)", "+ rotation"
};

// Lloyd's k-means with k-means++ seeding on the rows of x [n, s] (double internally): k centroids
// [k, s] (float) and each row's nearest centroid. Deterministic for a seed. An emptied cluster takes
// the row farthest from its centroid. Requires n >= k.
struct KMeans {
  torch::Tensor centroids;          // [k, s]
  std::vector<int64_t> assignment;  // [n]
  double inertia = 0;               // sum of squared distances to the assigned centroids
};
KMeans kmeans(const torch::Tensor& x, int64_t k, int iterations, uint64_t seed);

// Codes, codebooks and (optionally) the rotation of a table.
struct PqCodes {
  torch::Tensor codes;      // [n, M] int64
  torch::Tensor codebooks;  // [M, K, s] float
  torch::Tensor rotation;   // [d, d] float, or undefined
  double distortion = 0;    // |X - reconstruction|^2 / |X|^2 (0 when codes were not fitted to a table)
};

// k-means per sub-space of `table` [n, d] (teacher codes). With shape.rotation, OPQ (Ge et al.,
// CVPR'13): `rounds` alternations of PQ of X R^T and the orthogonal Procrustes step R = U V^T for
// the SVD U S V^T of C^T X, then a final PQ; table ~ C R.
PqCodes pq_from_table(const torch::Tensor& table, const PqShape& shape, int iterations, uint64_t seed, int rounds = 6);

// Codes from the training sequences alone (RecJPQ): a truncated SVD (randomised, two power
// iterations) of the sequence x item incidence matrix gives M item loadings; each is cut into K
// equal-frequency bins. The codebooks start random (normal, std init_std).
PqCodes pq_from_svd(const data::Sequences& train, const PqShape& shape, double init_std, uint64_t seed);

// Uniform random codes and normal(0, init_std) codebooks: the control that shows what an
// assignment is worth.
PqCodes pq_random(const PqShape& shape, double init_std, uint64_t seed);

// The product-quantised table as a LibTorch module: parameter "codebooks" [M, K, s], buffers
// "codes" [n_rows, M] (int64; frozen) and, with a rotation, "rotation" [d, d] (frozen).
class ProductQuantizedEmbeddingImpl : public torch::nn::Module {
 public:
  explicit ProductQuantizedEmbeddingImpl(PqShape shape);
  torch::Tensor forward(const torch::Tensor& ids);  // ids of any shape (< n_rows) -> [..., d]
  torch::Tensor full_table();                       // [n_rows, d]
  // Installs codes, codebooks and rotation (shapes checked against the table's).
  void assign(const PqCodes& codes);
  const PqShape& shape() const { return shape_; }
  const torch::Tensor& codes() const { return codes_; }
  const torch::Tensor& codebooks() const { return codebooks_; }
  const torch::Tensor& rotation() const { return rotation_; }
  // A dtype change reaches the codebooks and the rotation; the codes stay int64 (the default would
  // convert every buffer, and index_select needs integer indices).
  using torch::nn::Module::to;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;

 private:
  torch::Tensor rows_of(const torch::Tensor& flat_ids);  // [n] -> [n, d]
  PqShape shape_;
  torch::Tensor codebooks_, codes_, rotation_, offsets_;  // offsets_: m * K, to index the flat codebooks
};
TORCH_MODULE(ProductQuantizedEmbedding);

}  // namespace pocketrec::compress
