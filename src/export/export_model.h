// A trained model as a .pocket file for the on-device runtime (docs/format.md): the network's
// parameters under their module names, the hyper-parameters the runtime needs, the id maps
// (original integer ids) and the run's provenance. Supported: SASRec (standard or OD-Rec variant;
// dense or 2-core canonical semi-tensor-train item table), Caser and Fossil.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "export/pocket_writer.h"

namespace pocketrec {
class Config;
namespace data {
struct Dataset;
}
namespace models {
class Recommender;
}
}  // namespace pocketrec

namespace pocketrec::exporter {

// How weight matrices are stored. Vectors (biases, LayerNorm) and matrices with rows shorter than
// 8 values always stay f32; kI8 stores one f32 scale per row.
enum class WeightType { kF32, kF16, kI8 };
WeightType parse_weight_type(const std::string& name);  // "fp32", "fp16", "int8"; throws otherwise
const char* weight_type_name(WeightType t);

// Throws Error(kInvalidArgument) for what the runtime cannot read: another model, non-integer ids,
// an STT table with 3 cores or the flat layout.
PocketWriter model_pocket(models::Recommender& model, const Config& run_config, const data::Dataset& data,
                          const nlohmann::json& provenance, WeightType weights = WeightType::kF32);

}  // namespace pocketrec::exporter
