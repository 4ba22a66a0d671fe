// Typed settings of every model, built once from the config table by the application layer
// (src/app/options.cpp) and read by the models as fields. LibTorch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compress/stt_shape.h"

namespace pocketrec::models {

// How training negatives are drawn (data/negative_sampler.h).
struct SamplingOptions {
  int64_t neg_samples = 1;      // negatives per positive of a sampled loss
  bool exclude_history = true;  // drawn outside the user's training items (else: any item but the positive)
};

enum class ItemTableKind { kDense, kStt, kPq };

// A semi-tensor-train item table (docs/design/odrec.md §2).
struct SttTableOptions {
  std::vector<int64_t> items, dims;  // factors; empty: chosen from the sizes
  int64_t n_cores = 2, rank = 60, t = 2;
  compress::SttLayout layout = compress::SttLayout::kCanonical;
  bool teacher_order = false;  // slots ordered by the teacher's table (compress/item_order.h)
};

// How a product-quantised table's codes are assigned (docs/design/pq.md §2).
enum class PqCodeSource { kTeacher, kSvd, kRandom };

// A product-quantised item table (docs/design/pq.md §1).
struct PqTableOptions {
  int64_t subspaces = 16;   // M (divides d)
  int64_t codewords = 256;  // K <= 256: one byte per code
  PqCodeSource codes = PqCodeSource::kTeacher;
  bool rotation = false;  // OPQ: an orthogonal rotation learned with the teacher codes
  int64_t kmeans_iterations = 25;
};

struct ItemTableOptions {
  ItemTableKind kind = ItemTableKind::kDense;
  SttTableOptions stt;
  PqTableOptions pq;
};

struct SasRecOptions {
  bool odrec = false;  // the OD-Rec teacher variant (post-LN, soft-attention readout)
  int64_t max_len = 50, layers = 2, heads = 1, inner = 0;  // inner 0 = dim
  ItemTableOptions table;
};

struct CaserOptions {
  int64_t window = 5, nv = 2, nh = 16, targets = 1;
  std::string ac_conv = "iden", ac_fc = "sigm";
};

struct FossilOptions {
  int64_t window = 5;
  double alpha = 0.2;
};

struct BprOptions {
  std::string query = "auto";  // auto | user | mean_items
};

struct ItemCfOptions {
  int64_t neighbors = 0;
  double shrink = 0.0;
};

enum class LossChoice { kAuto, kCrossEntropy, kBce };

struct ModelOptions {
  std::string name = "pop";
  int64_t dim = 64;
  double init_std = 0.1, dropout = 0.5;
  uint64_t seed = 2024;  // initialisation
  LossChoice loss = LossChoice::kAuto;
  SamplingOptions sampling;
  SasRecOptions sasrec;
  CaserOptions caser;
  FossilOptions fossil;
  BprOptions bpr;
  ItemCfOptions itemcf;
};

}  // namespace pocketrec::models
