#include "next_item_model.h"

#include "caser_model.h"
#include "sasrec_model.h"

namespace pocketrec::runtime {

Status make_model(const PocketFile& file, pocketrec_scoring scoring, std::unique_ptr<NextItemModel>* out) {
  std::string arch;
  RT_TRY(file.get_string("pocketrec.architecture", &arch));
  std::unique_ptr<NextItemModel> m;
  if (arch == "sasrec" || arch == "sasrec-odrec")
    m = std::make_unique<SasRecModel>();
  else if (arch == "caser")
    m = std::make_unique<CaserModel>();
  else
    return make_status(POCKETREC_STATUS_BAD_FORMAT,
                       "%s: architecture '%s' is not supported by this runtime (sasrec, sasrec-odrec, caser)",
                       file.source().c_str(), arch.c_str());
  RT_TRY(m->load(file, scoring));
  *out = std::move(m);
  return Status::Ok();
}

}  // namespace pocketrec::runtime
