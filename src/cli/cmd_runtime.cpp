// `pocketrec export` (a run -> .pocket, verified against LibTorch) and `pocketrec recommend` (the
// on-device runtime through its C API, exactly as an app would call it).
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/run_context.h"
#include "cli/runtime_model.h"
#include "core/error.h"
#include "core/text.h"
#include "pocketrec/pocketrec.h"

namespace pocketrec::cli {

int cmd_export(const std::string& run_dir, const std::string& out_path, size_t n_verify, const std::string& weights,
               const std::string& weight_type) {
  nlohmann::json r = export_run(run_dir, out_path, n_verify, weights, weight_type);
  std::printf("%s\n", r.dump(2).c_str());
  return 0;
}

int cmd_recommend(const std::string& model_path, const std::string& history_text, size_t k, bool exclude_history,
                  const std::string& scoring, const std::string& user_text) {
  std::vector<int64_t> history;
  for (const auto& tok : split(std::string(trim(history_text)), ' ')) {
    if (trim(tok).empty()) continue;
    std::optional<int64_t> v = parse_int(trim(tok));
    PR_CHECK(v.has_value(), ErrorCode::kInvalidArgument, "--history: '{}' is not an integer item id", tok);
    history.push_back(*v);
  }
  std::optional<int64_t> user;
  if (!trim(user_text).empty()) {
    user = parse_int(trim(user_text));
    PR_CHECK(user.has_value(), ErrorCode::kInvalidArgument, "--user: '{}' is not an integer user id", user_text);
  }
  pocketrec_scoring mode = POCKETREC_SCORING_AUTO;
  if (scoring == "cores") mode = POCKETREC_SCORING_CORES;
  else if (scoring == "fp32") mode = POCKETREC_SCORING_FP32_TABLE;
  else if (scoring == "int8") mode = POCKETREC_SCORING_INT8_TABLE;
  else PR_CHECK(scoring == "auto", ErrorCode::kInvalidArgument, "--scoring: expected auto|cores|fp32|int8, got '{}'", scoring);
  RuntimeModel rt(model_path, mode);
  if (user)
    check_runtime(pocketrec_context_set_user(rt.ctx, *user));
  else
    PR_CHECK(pocketrec_model_n_users(rt.model) == 0, ErrorCode::kInvalidArgument,
             "{}: this model scores for a user: pass --user ID", model_path);
  std::vector<int64_t> items(k);
  std::vector<float> scores(k);
  size_t n_out = 0;
  check_runtime(pocketrec_recommend(rt.ctx, history.data(), history.size(), k, exclude_history ? 1 : 0, items.data(),
                                    scores.data(), &n_out));
  std::printf("| rank | item | score |\n|---|---|---|\n");
  for (size_t i = 0; i < n_out; ++i) std::printf("| %zu | %lld | %.6f |\n", i + 1, static_cast<long long>(items[i]), scores[i]);
  return 0;
}

}  // namespace pocketrec::cli
