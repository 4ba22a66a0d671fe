// `pocketrec train` and `pocketrec distill`: a config file plus --key=value overrides.
#include <cstdio>
#include <string>
#include <vector>

#include "app/results.h"
#include "app/workflows.h"
#include "cli/command.h"
#include "core/config.h"

namespace pocketrec::cli {
namespace {

class RunCommand : public Command {
 public:
  explicit RunCommand(bool distill) : distill_(distill) {}

  CLI::App* add_to(CLI::App& app) override {
    cmd_ = distill_ ? app.add_subcommand("distill", "Distil a trained teacher into a compact student (distill.* keys)")
                    : app.add_subcommand("train", "Train a model, select it on validation, evaluate on test");
    cmd_->add_option("--config,-c", config_path_,
                     distill_ ? "Student config (JSON) naming distill.teacher; --key=value overrides follow"
                              : "Experiment config (JSON); --key=value overrides follow");
    if (distill_) cmd_->add_option("--method", method_, "Distillation method (= --distill.method): odrec or rd");
    cmd_->add_flag("--resume", resume_, "Continue the killed run in output.dir from its last checkpoint");
    cmd_->allow_extras();
    return cmd_;
  }

  int run() override {
    std::vector<std::string> overrides = cmd_->remaining();
    if (!method_.empty()) overrides.push_back("--distill.method=" + method_);
    if (resume_) overrides.push_back("--train.resume=true");
    const app::RunSettings settings = app::run_settings(Config::load(config_path_, overrides));
    const nlohmann::json results = distill_ ? app::distill(settings) : app::train(settings);
    std::printf("%s", app::run_summary_text(results).c_str());
    return 0;
  }

 private:
  bool distill_;
  CLI::App* cmd_ = nullptr;
  std::string config_path_, method_;
  bool resume_ = false;
};

}  // namespace

std::unique_ptr<Command> make_train_command() {
  return std::make_unique<RunCommand>(false);
}
std::unique_ptr<Command> make_distill_command() {
  return std::make_unique<RunCommand>(true);
}

}  // namespace pocketrec::cli
