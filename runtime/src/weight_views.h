// Views of the weights of common layers, read from a PocketFile in whatever dtype they were stored
// (PocketFile::get_weight): the building blocks every architecture's load() uses.
#pragma once

#include <cstddef>
#include <string>

#include "pocket_file.h"

namespace pocketrec::runtime {

struct LinearView {
  const float* w = nullptr;  // W^T [in x out] (a transposed copy in the model's WeightStore)
  const float* b = nullptr;  // [out] or null
  size_t in = 0, out = 0;
};
struct LayerNormView {
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

// A torch::nn::Linear "<name>.weight" [out x in] (+ "<name>.bias" [out]); W^T is kept in `store`.
Status read_linear(const PocketFile& f, const std::string& name, size_t in, size_t out, bool bias, WeightStore* store,
                   LinearView* v);
// A torch::nn::LayerNorm "<name>.weight" / "<name>.bias" [d].
Status read_layer_norm(const PocketFile& f, const std::string& name, size_t d, WeightStore* store, LayerNormView* v);

}  // namespace pocketrec::runtime
