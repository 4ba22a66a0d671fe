#include "export/export_sasrec.h"

#include <charconv>

#include "core/config.h"
#include "core/error.h"
#include "data/id_map.h"
#include "models/sasrec.h"

namespace pocketrec::exporter {

PocketWriter sasrec_pocket(models::SessionEncoder& model, const Config& c, const data::IdMap& items,
                           const nlohmann::json& provenance) {
  PocketWriter w;
  const bool odrec = c.str("model.sasrec_variant") == "odrec";
  const int64_t d = model.dim(), inner = c.integer("model.inner");
  w.set_string("pocketrec.architecture", odrec ? "sasrec-odrec" : "sasrec");
  w.set_i64("pocketrec.n_items", items.size());
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
  } else {
    w.set_string("sasrec.item_table", "dense");
  }
  w.set_string("pocketrec.provenance", provenance.dump());

  std::vector<int64_t> ids(static_cast<size_t>(items.size()));
  for (int32_t i = 0; i < items.size(); ++i) {
    const std::string tok = items.token(i);
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), ids[static_cast<size_t>(i)]);
    PR_CHECK(ec == std::errc() && p == tok.data() + tok.size(), ErrorCode::kInvalidArgument,
             "export: item id '{}' is not an integer; the runtime's id map holds integer ids", tok);
  }
  w.add_i64("item_ids", ids.data(), {ids.size()});

  torch::NoGradGuard g;
  for (const auto& p : model.encoder_module().named_parameters()) {
    torch::Tensor t = p.value().detach().to(torch::kFloat32).contiguous();
    std::vector<uint64_t> dims(t.sizes().begin(), t.sizes().end());
    w.add_f32(p.key(), t.data_ptr<float>(), dims);
  }
  return w;
}

}  // namespace pocketrec::exporter
