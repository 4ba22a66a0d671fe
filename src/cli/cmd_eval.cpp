// `pocketrec eval`: re-evaluate a run directory's model on a split.
#include <cstdio>

#include "app/results.h"
#include "app/workflows.h"
#include "cli/command.h"

namespace pocketrec::cli {
namespace {

class EvalCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand("eval", "Re-evaluate a trained run directory");
    cmd_->add_option("run_dir", r_.run_dir, "Run directory written by `pocketrec train`")->required();
    cmd_->add_option("--split", r_.split, "test or valid");
    cmd_->add_option("--weights", r_.weights,
                     "Evaluate these weights instead of the run's model.prarr: a .prarr or a training checkpoint "
                     "(e.g. RUN/checkpoint_last.ckpt)");
    cmd_->allow_extras();
    return cmd_;
  }

  int run() override {
    r_.overrides = cmd_->remaining();
    const nlohmann::json res = app::evaluate_run(r_);
    std::printf("%s", app::metrics_table(app::split_rows(res, {r_.split}), app::metric_columns(res["config"])).c_str());
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::EvaluateRequest r_;
};

}  // namespace

std::unique_ptr<Command> make_eval_command() {
  return std::make_unique<EvalCommand>();
}

}  // namespace pocketrec::cli
