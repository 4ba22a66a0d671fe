// `pocketrec pq-probe`: what a product-quantised student can reach before any training.
#include <cstdio>

#include "app/workflows.h"
#include "cli/command.h"
#include "core/error.h"

namespace pocketrec::cli {
namespace {

class PqProbeCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand("pq-probe",
                              "A SASRec teacher with its item table replaced by PQ reconstructions, nothing retrained");
    cmd_->add_option("run_dir", r_.run_dir, "The teacher's run directory")->required();
    cmd_->add_option("--subspaces", r_.subspaces, "Sub-space counts M to probe (each must divide model.dim)")
        ->delimiter(',');
    cmd_->add_option("--codewords", r_.codewords, "Codewords K per sub-space (<= 256)");
    cmd_->add_option("--rotation", rotation_, "Probe without (no), with (yes) or both (both) OPQ rotations")
        ->check(CLI::IsMember({"no", "yes", "both"}));
    return cmd_;
  }
  int run() override {
    r_.rotations = rotation_ == "no"    ? std::vector<bool>{false}
                   : rotation_ == "yes" ? std::vector<bool>{true}
                                        : std::vector<bool>{false, true};
    std::printf("%s", app::pq_probe_table(app::pq_probe(r_)).c_str());
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::PqProbeRequest r_;
  std::string rotation_ = "both";
};

}  // namespace

std::unique_ptr<Command> make_pq_probe_command() {
  return std::make_unique<PqProbeCommand>();
}

}  // namespace pocketrec::cli
