#include "export/exporter.h"

#include <charconv>

#include "core/error.h"
#include "models/exportable.h"

namespace pocketrec::exporter {
namespace {

// Every parameter of `module` under its name, matrices in `type` (see WeightType).
void add_parameters(PocketWriter& w, const torch::nn::Module& module, WeightType type) {
  torch::NoGradGuard g;
  for (const auto& p : module.named_parameters()) {
    torch::Tensor t = p.value().detach().to(torch::kFloat32).contiguous();
    const std::vector<uint64_t> dims(t.sizes().begin(), t.sizes().end());
    const bool matrix = t.dim() >= 2 && t.size(0) > 0 && t.numel() / t.size(0) >= 8;
    if (!matrix || type == WeightType::kF32) {
      w.add_f32(p.key(), t.data_ptr<float>(), dims);
    } else if (type == WeightType::kF16) {
      torch::Tensor h = t.to(torch::kHalf).contiguous();  // round to nearest even
      w.add_f16(p.key(), reinterpret_cast<const uint16_t*>(h.data_ptr<at::Half>()), dims);
    } else {
      w.add_i8_rows(p.key(), t.data_ptr<float>(), dims);
    }
  }
}

// The id map as "<name>.base" when the ids are base, base + 1, ... in model order (a remapped
// dataset), else as the i64 tensor "<name>".
void add_id_map(PocketWriter& w, const std::string& name, const data::IdMap& map) {
  std::vector<int64_t> ids(static_cast<size_t>(map.size()));
  for (int32_t i = 0; i < map.size(); ++i) {
    const std::string tok = map.token(i);
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), ids[static_cast<size_t>(i)]);
    PR_CHECK(ec == std::errc() && p == tok.data() + tok.size(), ErrorCode::kInvalidArgument,
             "export: id '{}' is not an integer; the runtime's id maps hold integer ids", tok);
  }
  bool contiguous = !ids.empty() && ids[0] >= 0;
  for (size_t i = 1; i < ids.size() && contiguous; ++i) contiguous = ids[i] == ids[0] + static_cast<int64_t>(i);
  if (contiguous)
    w.set_i64(name + ".base", ids[0]);
  else
    w.add_i64(name, ids.data(), {ids.size()});
}

// A model's metadata object as typed .pocket metadata.
void add_metadata(PocketWriter& w, const nlohmann::json& metadata) {
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    const nlohmann::json& v = it.value();
    if (v.is_number_integer())
      w.set_i64(it.key(), v.get<int64_t>());
    else if (v.is_number_float())
      w.set_f64(it.key(), v.get<double>());
    else if (v.is_string())
      w.set_string(it.key(), v.get<std::string>());
    else if (v.is_array())
      w.set_i64_array(it.key(), v.get<std::vector<int64_t>>());
    else
      PR_ASSERT(false, "export metadata '{}' has an unsupported type: {}", it.key(), v.dump());
  }
}

}  // namespace

WeightType parse_weight_type(const std::string& name) {
  if (name == "fp32") return WeightType::kF32;
  if (name == "fp16") return WeightType::kF16;
  if (name == "int8") return WeightType::kI8;
  PR_FAIL(ErrorCode::kInvalidArgument, "weight type '{}' (expected fp32, fp16 or int8)", name);
}

const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::kF32: return "fp32";
    case WeightType::kF16: return "fp16";
    case WeightType::kI8: return "int8";
  }
  return "?";
}

PocketWriter pocket_of(const models::ModelInstance& model, const data::Dataset& data, const nlohmann::json& provenance,
                       WeightType weights) {
  PR_CHECK(model.exportable != nullptr, ErrorCode::kInvalidArgument, "export: {} models cannot be exported",
           model.name);
  const models::ExportSpec spec = model.exportable->export_spec(data);
  PocketWriter w;
  w.set_string("pocketrec.architecture", spec.architecture);
  add_metadata(w, spec.metadata);
  if (spec.with_users) {
    w.set_i64("pocketrec.n_users", data.n_users);
    add_id_map(w, "user_ids", data.user_ids);
  }
  w.set_i64("pocketrec.n_items", data.n_items);
  w.set_string("pocketrec.weights", weight_type_name(weights));
  w.set_string("pocketrec.provenance", provenance.dump());
  add_id_map(w, "item_ids", data.item_ids);
  for (const auto& [name, values] : spec.int64_tensors) w.add_i64(name, values.data(), {values.size()});
  for (const auto& t : spec.u8_tensors) w.add_u8(t.name, t.values.data(), t.dims);
  for (const auto& t : spec.f32_tensors) w.add_f32(t.name, t.values.data(), t.dims);
  add_parameters(w, *spec.weights, weights);
  return w;
}

ExporterRegistry default_exporters() {
  ExporterRegistry r("exporter", "model.name", "pocketrec list exporters");
  r.add({"sasrec",
         "SASRec, both variants, with a dense, a 2-core canonical semi-tensor-train or a product-quantised item table",
         pocket_of});
  r.add({"caser", "Caser (scores for a user: the user id map is exported)", pocket_of});
  r.add({"fossil", "Fossil (scores for a user; the longest history of the data is kept)", pocket_of});
  return r;
}

}  // namespace pocketrec::exporter
