// Trained models as .pocket files for the on-device runtime (docs/format.md). An exporter is
// registered per model name; each writes what the model describes of itself (models/exportable.h:
// its runtime architecture, hyper-parameters, integer tensors and weights) plus what every file
// holds: the catalogue size, the id maps (original integer ids), the weight type and provenance.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/registry.h"
#include "data/dataset.h"
#include "export/pocket_writer.h"
#include "models/recommender.h"

namespace pocketrec::exporter {

// How weight matrices are stored. Vectors (biases, LayerNorm) and matrices with rows shorter than
// 8 values always stay f32; kI8 stores one f32 scale per row.
enum class WeightType { kF32, kF16, kI8 };
WeightType parse_weight_type(const std::string& name);  // "fp32", "fp16", "int8"; throws otherwise
const char* weight_type_name(WeightType t);

struct ExporterInfo {
  std::string name;  // the model name it exports
  std::string description;
  std::function<PocketWriter(const models::ModelInstance& model, const data::Dataset& data,
                             const nlohmann::json& provenance, WeightType weights)>
      write;
};

using ExporterRegistry = Registry<ExporterInfo>;

// sasrec (both variants; dense or 2-core canonical STT table), caser and fossil.
ExporterRegistry default_exporters();

// The .pocket file of an exportable model (its ExportableModel capability); what a registered
// exporter writes. Error(kInvalidArgument) for a model without the capability, non-integer ids, or
// a model the runtime cannot run.
PocketWriter pocket_of(const models::ModelInstance& model, const data::Dataset& data, const nlohmann::json& provenance,
                       WeightType weights);

}  // namespace pocketrec::exporter
