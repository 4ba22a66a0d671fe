// `pocketrec repro NAME [--quick]`: regenerates one results page from its committed suite.
#include <cstdio>
#include <string>

#include "app/repro_report.h"
#include "app/workflows.h"
#include "cli/command.h"

namespace pocketrec::cli {
namespace {

class ReproCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand(
        "repro",
        "Run a reproduction suite (configs/repro/NAME.json) and write its results page: results.json, "
        "table.md and plots; finished stages with unchanged settings are skipped");
    cmd_->add_option("suite", r_.suite, "Suite name (configs/repro/NAME.json) or a suite file")->required();
    cmd_->add_flag("--quick", r_.quick, "The suite's smaller budget (for CI); writes under runs/, not docs/");
    cmd_->add_option("--runs", r_.runs_dir, "Where the runs go (default runs/repro/NAME, NAME-quick with --quick)");
    cmd_->add_option("--out", r_.out_dir,
                     "Where the page goes (default docs/results/NAME; with --quick, <runs>/results)");
    return cmd_;
  }
  int run() override {
    r_.command_line = "pocketrec repro " + r_.suite + (r_.quick ? " --quick" : "") +
                      (r_.runs_dir.empty() ? "" : " --runs " + r_.runs_dir) +
                      (r_.out_dir.empty() ? "" : " --out " + r_.out_dir);
    const nlohmann::json results = app::repro(r_);
    std::printf("%s", app::suite_table_markdown(results).c_str());
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::ReproRequest r_;
};

}  // namespace

std::unique_ptr<Command> make_repro_command() {
  return std::make_unique<ReproCommand>();
}

}  // namespace pocketrec::cli
