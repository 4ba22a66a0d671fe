#include "next_item_model.h"

#include "caser_model.h"
#include "fossil_model.h"
#include "sasrec_model.h"

namespace pocketrec::runtime {

Status NextItemModel::init_table_scorer(const char* source, pocketrec_scoring scoring, const float* rows, int64_t dim,
                                        const float* bias) {
  switch (scoring) {
    case POCKETREC_SCORING_AUTO:
    case POCKETREC_SCORING_FP32_TABLE: scorer_.init_fp32(rows, n_items_, dim, bias); return Status::Ok();
    case POCKETREC_SCORING_INT8_TABLE: scorer_.init_int8(rows, n_items_, dim, bias); return Status::Ok();
    case POCKETREC_SCORING_CORES:
      return make_status(POCKETREC_STATUS_INVALID_ARGUMENT,
                         "%s: scoring from the compressed table needs an STT or PQ item table", source);
  }
  return make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "scoring mode %d is unknown", static_cast<int>(scoring));
}

void NextItemModel::set_weight_bytes(size_t extra) {
  // The scorer's own copies (ItemScorer::owned_bytes) count beside the model's weights, which it
  // borrows otherwise.
  weight_bytes_ = weights_.file_bytes + weights_.decoded_bytes() + extra + scorer_.owned_bytes();
}

Status make_model(const PocketFile& file, pocketrec_scoring scoring, std::unique_ptr<NextItemModel>* out) {
  std::string arch;
  RT_TRY(file.get_string("pocketrec.architecture", &arch));
  std::unique_ptr<NextItemModel> m;
  if (arch == "sasrec" || arch == "sasrec-odrec")
    m = std::make_unique<SasRecModel>();
  else if (arch == "caser")
    m = std::make_unique<CaserModel>();
  else if (arch == "fossil")
    m = std::make_unique<FossilModel>();
  else
    return make_status(POCKETREC_STATUS_BAD_FORMAT,
                       "%s: architecture '%s' is not supported by this runtime (sasrec, sasrec-odrec, caser, fossil)",
                       file.source().c_str(), arch.c_str());
  RT_TRY(m->load(file, scoring));
  *out = std::move(m);
  return Status::Ok();
}

}  // namespace pocketrec::runtime
