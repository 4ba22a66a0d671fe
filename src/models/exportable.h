// What the .pocket exporter needs from a model, written by the model from its own fields: the
// runtime architecture, the hyper-parameters the runtime reads (docs/format.md), integer tensors
// beside the weights, and the network whose parameters are the weights.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "data/dataset.h"

namespace pocketrec::models {

struct ExportSpec {
  std::string architecture;  // pocketrec.architecture
  // Flat object of metadata keys: integers, floats, strings and integer arrays.
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::pair<std::string, std::vector<int64_t>>> int64_tensors;  // 1-D, by name
  // Byte tensors (PQ codes) and float tensors that are not parameters (a fixed rotation), with shapes.
  struct U8Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    std::vector<uint8_t> values;
  };
  struct F32Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    std::vector<float> values;
  };
  std::vector<U8Tensor> u8_tensors;
  std::vector<F32Tensor> f32_tensors;
  torch::nn::Module* weights = nullptr;  // every parameter is exported under its name
  bool with_users = false;               // the model scores for a user: export the user id map
};

class ExportableModel {
 public:
  virtual ~ExportableModel() = default;
  // Error(kInvalidArgument) for what the runtime cannot run (e.g. an STT layout it does not read).
  virtual ExportSpec export_spec(const data::Dataset& data) const = 0;
};

}  // namespace pocketrec::models
