#include <optional>
#include <vector>

#include <fmt/format.h>

#include "app/workflows.h"
#include "core/error.h"
#include "export/runtime_model.h"

namespace pocketrec::app {
namespace {

pocketrec_scoring scoring_mode(const std::string& scoring) {
  if (scoring == "cores") return POCKETREC_SCORING_CORES;
  if (scoring == "fp32") return POCKETREC_SCORING_FP32_TABLE;
  if (scoring == "int8") return POCKETREC_SCORING_INT8_TABLE;
  PR_CHECK(scoring == "auto", ErrorCode::kInvalidArgument, "--scoring: expected auto|cores|fp32|int8, got '{}'",
           scoring);
  return POCKETREC_SCORING_AUTO;
}

}  // namespace

std::vector<Recommendation> recommend_items(const RecommendRequest& r) {
  exporter::RuntimeModel rt(r.model_path, scoring_mode(r.scoring));
  if (r.user)
    exporter::check_runtime(pocketrec_context_set_user(rt.ctx, *r.user));
  else
    PR_CHECK(pocketrec_model_n_users(rt.model) == 0, ErrorCode::kInvalidArgument,
             "{}: this model scores for a user: pass --user ID", r.model_path);
  std::vector<int64_t> items(r.k);
  std::vector<float> scores(r.k);
  size_t n_out = 0;
  exporter::check_runtime(pocketrec_recommend(rt.ctx, r.history.data(), r.history.size(), r.k,
                                              r.exclude_history ? 1 : 0, items.data(), scores.data(), &n_out));
  std::vector<Recommendation> top(n_out);
  for (size_t i = 0; i < n_out; ++i) top[i] = {items[i], scores[i]};
  return top;
}

std::string recommendations_table(const std::vector<Recommendation>& top) {
  std::string md = "| rank | item | score |\n|---|---|---|\n";
  for (size_t i = 0; i < top.size(); ++i) md += fmt::format("| {} | {} | {:.6f} |\n", i + 1, top[i].item, top[i].score);
  return md;
}

}  // namespace pocketrec::app
