// `pocketrec data stats`, `pocketrec list models|methods|exporters` and `pocketrec help config`.
#include <cstdio>

#include "app/workflows.h"
#include "cli/command.h"

namespace pocketrec::cli {
namespace {

class DataCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* data = app.add_subcommand("data", "Dataset tools");
    data->require_subcommand(1);
    stats_ = data->add_subcommand("stats", "Users (or sessions), items, interactions and lengths of a dataset");
    stats_->add_option("path", path_, "Dataset file or folder")->required();
    stats_->add_option("--format", format_, "auto|triplet|checkin|inter|sequence|session|presplit");
    stats_->add_option("--columns", columns_, "Column names of triplet files");
    return data;
  }
  int run() override {
    std::printf("%s", app::data_stats(path_, format_, columns_).c_str());
    return 0;
  }

 private:
  CLI::App* stats_ = nullptr;
  std::string path_, format_ = "auto", columns_ = "user item rating timestamp";
};

class ListCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* list = app.add_subcommand("list", "List registered components");
    list->require_subcommand(1);
    for (const char* kind : {"models", "methods", "exporters"})
      kinds_.push_back({kind, list->add_subcommand(kind, std::string("Registered ") + kind)});
    return list;
  }
  int run() override {
    for (const auto& [kind, cmd] : kinds_)
      if (cmd->parsed()) std::printf("%s", app::list_components(kind).c_str());
    return 0;
  }

 private:
  std::vector<std::pair<std::string, CLI::App*>> kinds_;
};

class HelpCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* help = app.add_subcommand("help", "Reference documentation");
    help->add_subcommand("config", "Every configuration key (Markdown)");
    help->require_subcommand(1);
    return help;
  }
  int run() override {
    std::printf("%s", app::config_reference().c_str());
    return 0;
  }
};

}  // namespace

std::unique_ptr<Command> make_data_command() {
  return std::make_unique<DataCommand>();
}
std::unique_ptr<Command> make_list_command() {
  return std::make_unique<ListCommand>();
}
std::unique_ptr<Command> make_help_command() {
  return std::make_unique<HelpCommand>();
}

}  // namespace pocketrec::cli
