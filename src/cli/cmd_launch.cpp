// `pocketrec launch -n N [--port P] -- train|distill ...`: N local ranks of one data-parallel run.
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "app/workflows.h"
#include "cli/command.h"
#include "core/error.h"

namespace pocketrec::cli {
namespace {

class LaunchCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand("launch", "Run train or distill as N local data-parallel ranks (c10d / Gloo)");
    cmd_->add_option("-n,--nproc", r_.n_ranks, "Number of ranks (processes)")->required()->check(CLI::PositiveNumber);
    cmd_->add_option("--port", r_.port, "Rendezvous port on 127.0.0.1 (default: a free one)");
    // Everything after "--" is the ranks' command line.
    cmd_->add_option("command", r_.args, "train|distill and its arguments, after --")->required();
    cmd_->footer("Example: pocketrec launch -n 2 -- train -c configs/teachers/sasrec-odrec-tmall.json");
    return cmd_;
  }
  int run() override {
    char path[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    PR_CHECK(n > 0, ErrorCode::kIo, "launch: cannot find this program's path (/proc/self/exe)");
    r_.executable.assign(path, static_cast<size_t>(n));
    return app::launch(r_);
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::LaunchRequest r_;
};

}  // namespace

std::unique_ptr<Command> make_launch_command() {
  return std::make_unique<LaunchCommand>();
}

}  // namespace pocketrec::cli
