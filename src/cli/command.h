// A `pocketrec` subcommand: it declares its arguments on the CLI11 parser and, when the command
// line selects it, turns them into a request for the application layer (src/app) and prints what
// comes back. No workflow logic lives here.
#pragma once

#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

namespace pocketrec::cli {

class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand (and its options, bound to members) to `app`; returns it.
  virtual CLI::App* add_to(CLI::App& app) = 0;
  // Runs the parsed command; returns the exit code.
  virtual int run() = 0;
};

std::unique_ptr<Command> make_data_command();
std::unique_ptr<Command> make_train_command();
std::unique_ptr<Command> make_launch_command();
std::unique_ptr<Command> make_distill_command();
std::unique_ptr<Command> make_eval_command();
std::unique_ptr<Command> make_report_command();
std::unique_ptr<Command> make_distill_report_command();
std::unique_ptr<Command> make_export_command();
std::unique_ptr<Command> make_recommend_command();
std::unique_ptr<Command> make_pq_probe_command();
std::unique_ptr<Command> make_repro_command();
std::unique_ptr<Command> make_list_command();
std::unique_ptr<Command> make_help_command();

}  // namespace pocketrec::cli
