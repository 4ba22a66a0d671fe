// An exported .pocket file checked against the model it came from: the on-device runtime (through
// its C API, as an app calls it) against the LibTorch model on test queries spread over the test
// split: every score, the top-20 lists, and HR@20 of both; and the top-20 overlap when the runtime
// scores with its int8 table.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "models/recommender.h"

namespace pocketrec::exporter {

// {queries, max_abs_score_diff, top20_identical, top20_overlap, int8_table_top20_overlap,
//  hr@20_libtorch, hr@20_runtime, query_us: {p50, p99}} over up to n_queries test queries; query_us
// times the runtime's top-20 query (pocketrec_recommend) on this machine, one thread.
nlohmann::json verify_pocket(const models::Recommender& model, const data::Dataset& data,
                             const std::string& pocket_path, size_t n_queries);

}  // namespace pocketrec::exporter
