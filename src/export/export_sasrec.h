// A trained SASRec (standard or OD-Rec variant; dense or semi-tensor-train item table) as a .pocket
// file for the on-device runtime: the network's parameters under their module names, the hyper-
// parameters the runtime needs, the item id map (original integer ids) and the run's provenance.
#pragma once

#include <nlohmann/json.hpp>

#include "export/pocket_writer.h"

namespace pocketrec {
class Config;
namespace data {
class IdMap;
}
namespace models {
class SessionEncoder;
}
}  // namespace pocketrec

namespace pocketrec::exporter {

// Throws Error(kInvalidArgument) for what the runtime cannot read (non-integer item ids, an STT
// table with 3 cores or the flat layout).
PocketWriter sasrec_pocket(models::SessionEncoder& model, const Config& run_config, const data::IdMap& items,
                           const nlohmann::json& provenance);

}  // namespace pocketrec::exporter
