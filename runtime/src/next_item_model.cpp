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
  // The int8 table and the re-laid-out STT cores are the scorer's own copies; the fp32 table and the
  // PQ codes and codebooks are the model's weights, borrowed.
  const bool scorer_owns =
      scorer_.kind() == ItemScorer::Kind::kInt8Table || scorer_.kind() == ItemScorer::Kind::kSttCores;
  weight_bytes_ = weights_.file_bytes + weights_.decoded_bytes() + extra + (scorer_owns ? scorer_.bytes() : 0);
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
