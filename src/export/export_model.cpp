#include "export/export_model.h"

#include <algorithm>
#include <charconv>

#include "core/config.h"
#include "core/error.h"
#include "data/dataset.h"
#include "models/sasrec.h"
#include "models/torch_recommender.h"

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

void add_sasrec(PocketWriter& w, models::SessionEncoder& model, const Config& c) {
  const bool odrec = c.str("model.sasrec_variant") == "odrec";
  const int64_t d = model.dim(), inner = c.integer("model.inner");
  w.set_string("pocketrec.architecture", odrec ? "sasrec-odrec" : "sasrec");
  w.set_i64("sasrec.dim", d);
  w.set_i64("sasrec.max_len", c.integer("model.max_len"));
  w.set_i64("sasrec.layers", c.integer("model.layers"));
  w.set_i64("sasrec.heads", c.integer("model.heads"));
  w.set_i64("sasrec.inner", inner > 0 ? inner : d);
  if (auto stt = model.stt_shape()) {
    PR_CHECK(stt->n_cores() == 2 && stt->layout == compress::SttLayout::kCanonical, ErrorCode::kInvalidArgument,
             "export: the runtime reads STT item tables of 2 cores in the canonical layout, this one is {}",
             stt->to_string());
    w.set_string("sasrec.item_table", "stt");
    w.set_i64_array("stt.items", stt->items);
    w.set_i64_array("stt.dims", stt->dims);
    w.set_i64("stt.rank", stt->rank);
    w.set_i64("stt.t", stt->t);
    w.set_string("stt.layout", "canonical");
    if (auto order = model.stt_item_order())
      w.add_i64("stt_item.slot_of_item", order->data(), {order->size()});
  } else {
    w.set_string("sasrec.item_table", "dense");
  }
}

// Models with per-user parameters: the user count and the user id map.
void add_users(PocketWriter& w, const data::Dataset& data) {
  w.set_i64("pocketrec.n_users", data.n_users);
  add_id_map(w, "user_ids", data.user_ids);
}

void add_caser(PocketWriter& w, const Config& c, const data::Dataset& data) {
  w.set_string("pocketrec.architecture", "caser");
  add_users(w, data);
  w.set_i64("caser.dim", c.integer("model.dim"));
  w.set_i64("caser.window", c.integer("model.window"));
  w.set_i64("caser.nv", c.integer("model.caser_nv"));
  w.set_i64("caser.nh", c.integer("model.caser_nh"));
  w.set_string("caser.ac_conv", c.str("model.caser_ac_conv"));
  w.set_string("caser.ac_fc", c.str("model.caser_ac_fc"));
}

// Fossil's FISM part reads the whole history: the runtime keeps up to the longest history of the
// data (training sequences and the validation and test queries' histories).
void add_fossil(PocketWriter& w, const Config& c, const data::Dataset& data) {
  w.set_string("pocketrec.architecture", "fossil");
  add_users(w, data);
  w.set_i64("fossil.dim", c.integer("model.dim"));
  w.set_i64("fossil.window", c.integer("model.window"));
  w.set_f64("fossil.alpha", c.number("model.fossil_alpha"));
  int64_t longest = c.integer("model.window");
  for (const data::Sequences* seqs : {&data.train, &data.valid.history, &data.test.history})
    for (size_t u = 0; u < seqs->size(); ++u) longest = std::max<int64_t>(longest, (*seqs)[u].size());
  w.set_i64("fossil.max_history", longest);
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

PocketWriter model_pocket(models::Recommender& model, const Config& c, const data::Dataset& data,
                          const nlohmann::json& provenance, WeightType weights) {
  PocketWriter w;
  const std::string name = c.str("model.name");
  torch::nn::Module* module = nullptr;
  if (auto* enc = dynamic_cast<models::SessionEncoder*>(&model)) {
    add_sasrec(w, *enc, c);
    module = &enc->encoder_module();
  } else if (auto* torch_model = dynamic_cast<models::TorchRecommender*>(&model);
             torch_model && (name == "caser" || name == "fossil")) {
    name == "caser" ? add_caser(w, c, data) : add_fossil(w, c, data);
    module = &torch_model->network();
  } else {
    PR_FAIL(ErrorCode::kInvalidArgument, "export: {} models are not supported by the runtime (sasrec, caser, fossil)",
            name);
  }
  w.set_i64("pocketrec.n_items", data.n_items);
  w.set_string("pocketrec.weights", weight_type_name(weights));
  w.set_string("pocketrec.provenance", provenance.dump());
  add_id_map(w, "item_ids", data.item_ids);
  add_parameters(w, *module, weights);
  return w;
}

}  // namespace pocketrec::exporter
