// pocketrec: the command-line front end. Parses arguments, calls one cmd_* function, and maps
// errors to exit codes: 2 for usage and configuration errors, 1 for everything else.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "train/process_setup.h"

int main(int argc, char** argv) {
  pocketrec::apply_malloc_settings();  // before LibTorch allocates anything
  using namespace pocketrec::cli;
  CLI::App app{"PocketRec: compact next-item recommendation (train, distil, evaluate, export)", "pocketrec"};
  app.require_subcommand(1);

  auto* data = app.add_subcommand("data", "Dataset tools");
  data->require_subcommand(1);
  auto* stats = data->add_subcommand("stats", "Users (or sessions), items, interactions and lengths of a dataset");
  std::string stats_path, stats_format = "auto", stats_columns = "user item rating timestamp";
  stats->add_option("path", stats_path, "Dataset file or folder")->required();
  stats->add_option("--format", stats_format, "auto|triplet|checkin|inter|sequence|session|presplit");
  stats->add_option("--columns", stats_columns, "Column names of triplet files");

  auto* train = app.add_subcommand("train", "Train a model, select it on validation, evaluate on test");
  std::string config_path;
  train->add_option("--config,-c", config_path, "Experiment config (JSON); --key=value overrides follow");
  bool resume = false;
  train->add_flag("--resume", resume, "Continue the killed run in output.dir from its last checkpoint");
  train->allow_extras();

  auto* distill = app.add_subcommand("distill", "Distil a trained teacher into a compact student (distill.* keys)");
  std::string distill_config;
  distill->add_option("--config,-c", distill_config, "Student config (JSON) naming distill.teacher; --key=value overrides follow");
  std::string distill_method;
  distill->add_option("--method", distill_method, "Distillation method (= --distill.method): odrec or rd");
  bool distill_resume = false;
  distill->add_flag("--resume", distill_resume, "Continue the killed run in output.dir from its last checkpoint");
  distill->allow_extras();

  auto* eval = app.add_subcommand("eval", "Re-evaluate a trained run directory");
  std::string run_dir, split = "test", weights;
  eval->add_option("run_dir", run_dir, "Run directory written by `pocketrec train`")->required();
  eval->add_option("--split", split, "test or valid");
  eval->add_option("--weights", weights,
                   "Evaluate these weights instead of the run's model.prarr: a .prarr or a training checkpoint "
                   "(e.g. RUN/checkpoint_last.ckpt)");
  eval->allow_extras();

  auto* report = app.add_subcommand("report", "One Markdown table from several run directories");
  std::vector<std::string> run_dirs;
  std::string report_split = "test", report_metrics, report_best_by;
  report->add_option("run_dirs", run_dirs, "Run directories")->required();
  report->add_option("--split", report_split, "test or valid");
  report->add_option("--metrics", report_metrics, "Comma-separated metric columns (default: the runs' own)");
  report->add_option("--best-by", report_best_by, "Select the run with the best value of this validation metric");

  auto* dreport = app.add_subcommand("distill-report",
                                     "Teacher / distilled / plain student table with size and speed ratios");
  std::string dr_teacher, dr_split = "test",
                          dr_metrics = "prec@3,prec@5,prec@10,ndcg_rd@3,ndcg_rd@5,ndcg_rd@10,map";
  std::vector<std::string> dr_rd, dr_student;
  size_t dr_time_queries = 1000;
  dreport->add_option("--teacher", dr_teacher, "The teacher's run directory")->required();
  dreport->add_option("--rd", dr_rd, "Distilled students' run directories (e.g. one per seed)")->required();
  dreport->add_option("--student", dr_student, "Students trained without the teacher (same size)");
  dreport->add_option("--split", dr_split, "test or valid");
  dreport->add_option("--metrics", dr_metrics, "Comma-separated metric columns");
  dreport->add_option("--time-queries", dr_time_queries, "Test queries timed per run, one at a time (0: no timing)");

  auto* exp = app.add_subcommand("export", "Write a run's model as a .pocket file for the on-device runtime");
  std::string export_run_dir, export_out, export_weights, export_type = "fp32";
  size_t export_verify = 1000;
  exp->add_option("run_dir", export_run_dir, "Run directory written by `pocketrec train` or `distill`")->required();
  exp->add_option("--out,-o", export_out, "Output .pocket file")->required();
  exp->add_option("--verify", export_verify,
                  "Compare the runtime with LibTorch on this many test queries (0: skip)");
  exp->add_option("--weights", export_weights, "Export these weights instead of the run's model.prarr (.prarr or .ckpt)");
  exp->add_option("--dtype", export_type, "How weight matrices are stored: fp32, fp16 or int8 (one scale per row)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}));

  auto* rec = app.add_subcommand("recommend", "Top-k items after a history, with the on-device runtime");
  std::string rec_model, rec_history, rec_scoring = "auto", rec_user;
  size_t rec_k = 10;
  bool rec_keep_history = false;
  rec->add_option("--model,-m", rec_model, "A .pocket file written by `pocketrec export`")->required();
  rec->add_option("--history", rec_history, "Item ids, oldest first, space-separated (\"12 55 7\")")->required();
  rec->add_option("--k,-k", rec_k, "How many items");
  rec->add_flag("--keep-history", rec_keep_history, "Allow the history's items in the list (default: left out)");
  rec->add_option("--scoring", rec_scoring, "auto|cores|fp32|int8 (how the item table is scored)");
  rec->add_option("--user", rec_user, "The user id, for models with user embeddings (Caser)");

  auto* list = app.add_subcommand("list", "List registered components");
  list->add_subcommand("models", "Registered models");
  list->require_subcommand(1);
  auto* help = app.add_subcommand("help", "Reference documentation");
  help->add_subcommand("config", "Every configuration key (Markdown)");
  help->require_subcommand(1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*stats) return cmd_data_stats(stats_path, stats_format, stats_columns);
    if (*train) {
      std::vector<std::string> overrides = train->remaining();
      if (resume) overrides.push_back("--train.resume=true");
      return cmd_train(config_path, overrides);
    }
    if (*distill) {
      std::vector<std::string> overrides = distill->remaining();
      if (!distill_method.empty()) overrides.push_back("--distill.method=" + distill_method);
      if (distill_resume) overrides.push_back("--train.resume=true");
      return cmd_distill(distill_config, overrides);
    }
    if (*eval) return cmd_eval(run_dir, split, weights, eval->remaining());
    if (*report) return cmd_report(run_dirs, report_split, report_metrics, report_best_by);
    if (*dreport) return cmd_distill_report(dr_teacher, dr_rd, dr_student, dr_split, dr_metrics, dr_time_queries);
    if (*exp) return cmd_export(export_run_dir, export_out, export_verify, export_weights, export_type);
    if (*rec) return cmd_recommend(rec_model, rec_history, rec_k, !rec_keep_history, rec_scoring, rec_user);
    if (*list) return cmd_list_models();
    if (*help) return cmd_help_config();
  } catch (const pocketrec::Error& e) {
    std::fprintf(stderr, "pocketrec: error: %s\n", e.what());
    return e.code() == pocketrec::ErrorCode::kInvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pocketrec: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
