// `pocketrec export`: a run's model as a .pocket file for the on-device runtime, verified against
// LibTorch; `pocketrec recommend`: the runtime answering one query from such a file.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "app/workflows.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/text.h"

namespace pocketrec::cli {
namespace {

// "12 55 7" -> {12, 55, 7}; Error naming the option for a token that is not an integer.
std::vector<int64_t> parse_ids(const std::string& option, const std::string& what, const std::string& text) {
  std::vector<int64_t> ids;
  for (const auto& token : split(std::string(trim(text)), ' ')) {
    if (trim(token).empty()) continue;
    const std::optional<int64_t> id = parse_int(trim(token));
    PR_CHECK(id.has_value(), ErrorCode::kInvalidArgument, "{}: '{}' is not an integer {} id", option, token, what);
    ids.push_back(*id);
  }
  return ids;
}

class ExportCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand("export", "Write a run's model as a .pocket file for the on-device runtime");
    cmd_->add_option("run_dir", r_.run_dir, "Run directory written by `pocketrec train` or `distill`")->required();
    cmd_->add_option("--out,-o", r_.out_path, "Output .pocket file")->required();
    cmd_->add_option("--verify", r_.n_verify, "Compare the runtime with LibTorch on this many test queries (0: skip)");
    cmd_->add_option("--weights", r_.weights,
                     "Export these weights instead of the run's model.prarr (.prarr or .ckpt)");
    cmd_->add_option("--dtype", r_.weight_type,
                     "How weight matrices are stored: fp32, fp16 or int8 (one scale per row)")
        ->check(CLI::IsMember({"fp32", "fp16", "int8"}));
    return cmd_;
  }
  int run() override {
    std::printf("%s\n", app::export_run(r_).dump(2).c_str());
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::ExportRequest r_;
};

class RecommendCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand("recommend", "Top-k items after a history, with the on-device runtime");
    cmd_->add_option("--model,-m", r_.model_path, "A .pocket file written by `pocketrec export`")->required();
    cmd_->add_option("--history", history_, "Item ids, oldest first, space-separated (\"12 55 7\")")->required();
    cmd_->add_option("--k,-k", r_.k, "How many items");
    cmd_->add_flag("--keep-history", keep_history_, "Allow the history's items in the list (default: left out)");
    cmd_->add_option("--scoring", r_.scoring, "auto|cores|fp32|int8 (how the item table is scored)");
    cmd_->add_option("--user", user_, "The user id, for models with user embeddings (Caser, Fossil)");
    return cmd_;
  }
  int run() override {
    r_.exclude_history = !keep_history_;
    r_.history = parse_ids("--history", "item", history_);
    const std::vector<int64_t> user = parse_ids("--user", "user", user_);
    PR_CHECK(user.size() <= 1, ErrorCode::kInvalidArgument, "--user: '{}' is not one user id", user_);
    if (!user.empty()) r_.user = user.front();
    std::printf("%s", app::recommendations_table(app::recommend_items(r_)).c_str());
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::RecommendRequest r_;
  bool keep_history_ = false;
  std::string history_, user_;
};

}  // namespace

std::unique_ptr<Command> make_export_command() {
  return std::make_unique<ExportCommand>();
}
std::unique_ptr<Command> make_recommend_command() {
  return std::make_unique<RecommendCommand>();
}

}  // namespace pocketrec::cli
