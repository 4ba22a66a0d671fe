#include "app/fit.h"
#include "app/results.h"
#include "app/run_directory.h"
#include "app/workflows.h"
#include "core/error.h"
#include "core/log.h"
#include "models/session_encoder.h"

namespace pocketrec::app {

nlohmann::json train(const RunSettings& s) {
  setup_process(s.process);
  PR_CHECK(!s.refit || s.dist.world_size <= 1, ErrorCode::kInvalidArgument,
           "train.refit: not supported with dist.world_size > 1");
  const std::unique_ptr<train::DataParallel> parallel = join_group(s);
  const data::Dataset d = data::build_dataset(s.data, s.split);
  models::ModelInstance m = create_model(s.model, d);
  PR_CHECK(m.session_encoder == nullptr || !m.session_encoder->item_table_needs_teacher(), ErrorCode::kInvalidArgument,
           "model.item_table: this table is derived from a teacher's (model.stt_item_order=teacher or "
           "model.pq_codes=teacher); use pocketrec distill");
  const bool writer = parallel == nullptr || parallel->is_writer();
  const std::string dir = writer ? open_output_dir(s) : s.output_dir;
  log_info("train: {} on {} ({} parameters)", m.name, d.name, m->n_parameters());
  const nlohmann::json fit = fit_model(m, d, s, nullptr, parallel.get());
  if (!writer) return worker_result(*parallel, fit);
  const eval::EvalResult valid = evaluate_split(*m, d, s.eval, "valid");
  if (s.refit) {      // the selected epochs again, on training + validation data; test read once, after
    m.model.reset();  // the selected model's part is done
    Refit r = refit_model(s, d, fit);
    const eval::EvalResult test = evaluate_split(*r.model, r.data, s.eval, "test");
    nlohmann::json res = run_results(s, r.data, r.model, fit, valid, test, {{"refit", r.fit}});
    write_run(dir, s, r.data, *r.model, res);
    return res;
  }
  const eval::EvalResult test = evaluate_split(*m, d, s.eval, "test");  // read once, after model selection
  nlohmann::json res = run_results(s, d, m, fit, valid, test);
  write_run(dir, s, d, *m, res);
  return res;
}

}  // namespace pocketrec::app
