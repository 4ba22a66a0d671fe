#include "app/fit.h"
#include "app/results.h"
#include "app/run_directory.h"
#include "app/workflows.h"
#include "core/error.h"
#include "core/log.h"

namespace pocketrec::app {
namespace {

// Parameters of both models and their ratios; the item tables' too when both have one.
nlohmann::json size_comparison(const models::ModelInstance& teacher, const models::ModelInstance& student) {
  const nlohmann::json t = model_size_json(teacher), s = model_size_json(student);
  auto ratio = [](const nlohmann::json& a, const nlohmann::json& b) {
    return static_cast<double>(a.get<int64_t>()) / static_cast<double>(b.get<int64_t>());
  };
  nlohmann::json size = {
      {"teacher", t}, {"student", s}, {"model_compression", ratio(t["parameters"], s["parameters"])}};
  if (t.contains("item_table_parameters") && s.contains("item_table_parameters")) {
    size["item_table_compression"] = ratio(t["item_table_parameters"], s["item_table_parameters"]);
    size["item_table_bytes_compression"] = ratio(t["item_table_bytes"], s["item_table_bytes"]);
  }
  return size;
}

}  // namespace

nlohmann::json distill(const RunSettings& s) {
  setup_process(s.process);
  PR_CHECK(!s.refit || s.dist.world_size <= 1, ErrorCode::kInvalidArgument,
           "train.refit: not supported with dist.world_size > 1");
  const std::unique_ptr<train::DataParallel> parallel = join_group(s);
  const bool writer = parallel == nullptr || parallel->is_writer();
  const std::string& teacher_dir = s.distill.teacher_dir;
  PR_CHECK(!teacher_dir.empty(), ErrorCode::kInvalidArgument,
           "distill.teacher: the teacher's run directory is required");
  const distill::DistillMethodRegistry methods = distill::default_distill_methods();
  const distill::DistillMethodInfo& method = methods.get(s.distill.method);
  if (s.distill.method == "rd") s.distill.rd.validate();
  const RunSettings teacher_settings = run_settings(read_run_config(teacher_dir));
  // The teacher must have seen exactly the student's training data, or model selection would leak.
  const nlohmann::json t_data = data_identity(teacher_settings), s_data = data_identity(s);
  for (const char* section : {"data", "split"})
    PR_CHECK(t_data[section] == s_data[section], ErrorCode::kInvalidArgument,
             "distill.teacher: {} was trained with other {}.* settings ({} vs {})", teacher_dir, section,
             t_data[section].dump(), s_data[section].dump());
  // A refitted teacher (train.refit) holds two models: the one selected on validation, trained on the
  // training part only (checkpoint_best.ckpt), teaches the student while the student is selected on
  // validation; the refitted one (model.prarr) teaches the student's own refit.
  distill::DistillOptions options = s.distill;
  options.teacher_weights = selected_model_file(teacher_dir, teacher_settings);
  const data::Dataset d = data::build_dataset(s.data, s.split);
  models::ModelInstance teacher = load_run_model(teacher_dir, teacher_settings, d, options.teacher_weights);
  models::ModelInstance student = create_model(s.model, d);
  PR_CHECK(student.trainable != nullptr, ErrorCode::kInvalidArgument,
           "model.name: {} is not trained by gradient descent", student.name);
  const std::string dir = writer ? open_output_dir(s) : s.output_dir;
  // Teacher-derived state (the RD top-K cache) is built once, by rank 0, and read by the others.
  if (parallel && !writer) parallel->barrier();
  std::unique_ptr<distill::Distillation> distillation = method.make({teacher, student, d, options});
  if (parallel && writer) parallel->barrier();
  log_info("distill ({}): {} ({} parameters) -> {} ({} parameters)", method.name, teacher_dir, teacher->n_parameters(),
           student.name, student->n_parameters());
  const nlohmann::json fit = fit_model(student, d, s, &distillation->task(), parallel.get());
  if (!writer) return worker_result(*parallel, fit);
  const eval::EvalResult valid = evaluate_split(*student, d, s.eval, "valid");
  nlohmann::json extra = {{"method", method.name},
                          {"teacher", teacher_dir},
                          {"size", size_comparison(teacher, student)},
                          {"distillation", distillation->describe()}};
  if (!s.refit) {
    const eval::EvalResult test = evaluate_split(*student, d, s.eval, "test");  // read once, after selection
    nlohmann::json res = run_results(s, d, student, fit, valid, test, extra);
    write_run(dir, s, d, *student, res);
    return res;
  }
  // The selected epochs again on training + validation data, from the teacher's refitted model
  // (or its only one), with the same method; test read once, after.
  distillation.reset();
  student.model.reset();
  models::ModelInstance refit_teacher;
  std::unique_ptr<distill::Distillation> refit_distillation;  // only while refit_model trains
  distill::DistillOptions refit_options = s.distill;
  refit_options.teacher_weights = teacher_dir + "/model.prarr";
  refit_options.cache_tag = "_refit";
  Refit r = refit_model(s, d, fit, [&](Refit& folded) {
    refit_teacher = load_run_model(teacher_dir, teacher_settings, folded.data, refit_options.teacher_weights);
    refit_distillation = method.make({refit_teacher, folded.model, folded.data, refit_options});
    extra["refit_distillation"] = refit_distillation->describe();
    return &refit_distillation->task();
  });
  refit_distillation.reset();
  const eval::EvalResult test = evaluate_split(*r.model, r.data, s.eval, "test");
  extra["refit"] = r.fit;
  nlohmann::json res = run_results(s, r.data, r.model, fit, valid, test, extra);
  write_run(dir, s, r.data, *r.model, res);
  return res;
}

}  // namespace pocketrec::app
