// `pocketrec report` (one table of runs, optionally the validation-selected one) and
// `pocketrec distill-report` (the RD paper's teacher / distilled / plain student table).
#include <cstdio>

#include "app/workflows.h"
#include "cli/command.h"
#include "core/text.h"

namespace pocketrec::cli {
namespace {

// "a, b ,c" -> {"a", "b", "c"}.
std::vector<std::string> metric_list(const std::string& metrics) {
  std::vector<std::string> cols;
  for (const auto& m : split(metrics, ',')) cols.push_back(std::string(trim(m)));
  return cols;
}

class ReportCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand("report", "One Markdown table from several run directories");
    cmd_->add_option("run_dirs", r_.run_dirs, "Run directories")->required();
    cmd_->add_option("--split", r_.split, "test or valid");
    cmd_->add_option("--metrics", metrics_, "Comma-separated metric columns (default: the runs' own)");
    cmd_->add_option("--best-by", r_.best_by, "Select the run with the best value of this validation metric");
    return cmd_;
  }
  int run() override {
    if (!metrics_.empty()) r_.metrics = metric_list(metrics_);
    std::printf("%s", app::report(r_).c_str());
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::ReportRequest r_;
  std::string metrics_;
};

class DistillReportCommand : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    cmd_ = app.add_subcommand("distill-report", "Teacher / distilled / plain student table with size and speed ratios");
    cmd_->add_option("--teacher", r_.teacher, "The teacher's run directory")->required();
    cmd_->add_option("--rd", r_.rd, "Distilled students' run directories (e.g. one per seed)")->required();
    cmd_->add_option("--student", r_.student, "Students trained without the teacher (same size)");
    cmd_->add_option("--split", r_.split, "test or valid");
    cmd_->add_option("--metrics", metrics_, "Comma-separated metric columns");
    cmd_->add_option("--latency", r_.latency_json,
                     "Online time per query of every run, measured by bench/bench_query_latency (its JSON output)");
    return cmd_;
  }
  int run() override {
    r_.metrics = metric_list(metrics_);
    std::printf("%s", app::distill_report(r_).c_str());
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  app::DistillReportRequest r_;
  std::string metrics_ = "prec@3,prec@5,prec@10,ndcg_rd@3,ndcg_rd@5,ndcg_rd@10,map";
};

}  // namespace

std::unique_ptr<Command> make_report_command() {
  return std::make_unique<ReportCommand>();
}
std::unique_ptr<Command> make_distill_report_command() {
  return std::make_unique<DistillReportCommand>();
}

}  // namespace pocketrec::cli
