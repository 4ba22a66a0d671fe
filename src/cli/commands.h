// One function per `pocketrec` subcommand (cmd_*.cpp); main.cpp only parses and dispatches.
#pragma once

#include <string>
#include <vector>

namespace pocketrec::cli {

int cmd_data_stats(const std::string& path, const std::string& format, const std::string& columns);
int cmd_train(const std::string& config_path, const std::vector<std::string>& overrides);
int cmd_distill(const std::string& config_path, const std::vector<std::string>& overrides);
int cmd_eval(const std::string& run_dir, const std::string& split, const std::string& weights,
             const std::vector<std::string>& overrides);
int cmd_report(const std::vector<std::string>& run_dirs, const std::string& split, const std::string& metrics,
               const std::string& best_by);
// The RD paper's table: Model-T, Model-RD and Model-S rows (mean ± std over each group's runs) with
// parameters, model bytes and online time per query (measured now, 1 thread) as ratios of the teacher's.
int cmd_distill_report(const std::string& teacher, const std::vector<std::string>& rd,
                       const std::vector<std::string>& student, const std::string& split, const std::string& metrics,
                       size_t time_queries);
int cmd_export(const std::string& run_dir, const std::string& out_path, size_t n_verify, const std::string& weights,
               const std::string& weight_type);
int cmd_recommend(const std::string& model_path, const std::string& history, size_t k, bool exclude_history,
                  const std::string& scoring, const std::string& user);
int cmd_list_models();
int cmd_help_config();

}  // namespace pocketrec::cli
