// pocketrec: the command-line front end. Parses arguments, runs the selected subcommand (one file
// each, cmd_*.cpp) and maps errors to exit codes: 2 for usage and configuration errors, 1 for
// everything else.
#include <cstdio>

#include "app/process.h"
#include "app/workflows.h"
#include "cli/command.h"
#include "core/error.h"

int main(int argc, char** argv) {
  pocketrec::app::prepare_process();  // before LibTorch allocates anything
  using namespace pocketrec::cli;
  CLI::App app{"PocketRec: compact next-item recommendation (train, distil, evaluate, export)", "pocketrec"};
  app.require_subcommand(1);
  app.set_version_flag("--version", pocketrec::app::version());
  std::vector<std::unique_ptr<Command>> commands;
  for (auto make : {make_data_command, make_train_command, make_distill_command, make_eval_command, make_report_command,
                    make_distill_report_command, make_export_command, make_recommend_command, make_pq_probe_command,
                    make_repro_command, make_list_command, make_help_command, make_launch_command})
    commands.push_back(make());
  std::vector<CLI::App*> parsers;
  for (auto& c : commands) parsers.push_back(c->add_to(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    for (size_t i = 0; i < commands.size(); ++i)
      if (parsers[i]->parsed()) return commands[i]->run();
  } catch (const pocketrec::Error& e) {
    std::fprintf(stderr, "pocketrec: error: %s\n", e.what());
    return e.code() == pocketrec::ErrorCode::kInvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pocketrec: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
