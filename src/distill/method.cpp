#include "distill/method.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "distill/topk_teacher_cache.h"
#include "models/sampled_item_task.h"
#include "models/session_encoder.h"
#include "models/torch_model.h"

namespace pocketrec::distill {
namespace {

// OD-Rec (docs/design/odrec.md §3): a SASRec teacher's session and item representations teach a
// SASRec student of the same dimension, typically with a compressed item table.
class OdRecDistillation : public Distillation {
 public:
  explicit OdRecDistillation(const DistillInputs& in) {
    models::SessionEncoder* teacher = in.teacher.session_encoder;
    models::SessionEncoder* student = in.student.session_encoder;
    PR_CHECK(teacher != nullptr, ErrorCode::kInvalidArgument,
             "distill.teacher: {} holds a {} model; OD-Rec distils a SASRec teacher", in.options.teacher_dir,
             in.teacher.name);
    PR_CHECK(student != nullptr && in.student.trainable != nullptr, ErrorCode::kInvalidArgument,
             "model.name: OD-Rec distils into a SASRec student, not {}", in.student.name);
    if (in.options.init_from_teacher)
      log_info("distill: {} of the student's weights start as the teacher's (distill.init_from_teacher)",
               models::copy_weights_outside_item_table(teacher->encoder_module(), student->encoder_module()));
    student->init_item_table_from(*teacher, in.options.seed);
    kd_ = std::make_unique<OdRecKdTask>(make_odrec_kd_task(
        *teacher, *student, in.student.trainable->training_task(in.data), in.data, in.options.odrec));
    if (kd_->heads)
      for (const auto& p : kd_->heads->parameters()) head_parameters_ += p.numel();
    log_info("distill: OD-Rec, item table {} -> {} parameters, {} KD head parameters",
             teacher->item_table_size().parameters, student->item_table_size().parameters, head_parameters_);
    kd_->task.data_fingerprint = models::data_fingerprint(in.data);
  }
  train::TrainTask& task() override { return kd_->task; }
  nlohmann::json describe() const override { return {{"kd_head_parameters", head_parameters_}}; }

 private:
  std::unique_ptr<OdRecKdTask> kd_;
  int64_t head_parameters_ = 0;
};

// Ranking Distillation (docs/design/rankdistill.md §4): the teacher's top-K unobserved items of
// every training sample, cached beside the teacher, weight the student's extra positives.
class RankDistillation : public Distillation {
 public:
  explicit RankDistillation(const DistillInputs& in) {
    const DistillOptions& o = in.options;
    o.rd.validate();
    models::SampledItemModel* teacher = in.teacher.sampled_items;
    models::SampledItemModel* student = in.student.sampled_items;
    PR_CHECK(teacher != nullptr && student != nullptr && in.student.trainable != nullptr, ErrorCode::kInvalidArgument,
             "distill.method rd: teacher ({}) and student ({}) must both be models scored on sampled items (caser, "
             "fossil, sasrec)",
             in.teacher.name, in.student.name);
    const models::SampledItemTask teacher_task = teacher->sampled_item_task(in.data);
    const models::SampledItemTask student_task = student->sampled_item_task(in.data);
    PR_CHECK(
        teacher_task.samples->seq == student_task.samples->seq &&
            teacher_task.samples->pos == student_task.samples->pos,
        ErrorCode::kInvalidArgument,
        "distill.teacher: {} ({}) trains on other samples than the student ({}): the models' sample windows differ",
        o.teacher_dir, in.teacher.name, in.student.name);
    TopKCacheKey key;
    key.teacher = o.teacher_dir;
    key.teacher_hash = file_hash(o.teacher_weights.empty() ? o.teacher_dir + "/model.prarr" : o.teacher_weights);
    key.data_fingerprint = samples_fingerprint(in.data, teacher_task);
    key.k = o.rd.k;
    key.exclusion = o.rd.exclusion;
    const std::filesystem::path cache =
        o.rd_cache.empty() ? fmt::format("{}/topk_K{}_{}.prarr", o.teacher_dir, o.rd.k, exclusion_name(key.exclusion))
                           : o.rd_cache;
    cache_path_ = (cache.parent_path() / (cache.stem().string() + o.cache_tag + cache.extension().string())).string();
    cache_ = std::make_unique<TopKTeacherCache>(TopKTeacherCache::load_or_build(cache_path_, teacher_task, key));
    task_ =
        std::make_unique<train::TrainTask>(rank_distill_task(student_task, *cache_, student_task.neg_samples, o.rd));
    task_->data_fingerprint = models::data_fingerprint(in.data);
  }
  train::TrainTask& task() override { return *task_; }
  nlohmann::json describe() const override { return {{"topk_cache", cache_path_}}; }

 private:
  std::string cache_path_;
  std::unique_ptr<TopKTeacherCache> cache_;
  std::unique_ptr<train::TrainTask> task_;
};

}  // namespace

DistillMethodRegistry default_distill_methods() {
  DistillMethodRegistry r("distillation method", "distill.method", "pocketrec list methods");
  r.add({"odrec",
         "OD-Rec (Xia et al., SIGIR'22): KL to the teacher's softmax plus the self-supervised "
         "contrastive and predictive terms with hot/cold embedding recombination; SASRec to SASRec.",
         [](const DistillInputs& in) { return std::make_unique<OdRecDistillation>(in); }});
  r.add({"rd",
         "Ranking Distillation (Tang & Wang, KDD'18): the teacher's top-K unobserved items as weighted "
         "extra positives; any pair of Caser, Fossil and SASRec.",
         [](const DistillInputs& in) { return std::make_unique<RankDistillation>(in); }});
  return r;
}

}  // namespace pocketrec::distill
