// Distillation methods by name (distill.method): OD-Rec's self-supervised KD and Ranking
// Distillation. A method checks that the teacher and the student have the capabilities it needs,
// derives what it needs from the teacher once (the top-K cache, a teacher-guided item table), and
// hands the trainer the student's distillation task; the Distillation object owns all of it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/registry.h"
#include "data/dataset.h"
#include "distill/odrec_kd.h"
#include "distill/rank_distill.h"
#include "models/recommender.h"
#include "train/task.h"

namespace pocketrec::distill {

struct DistillOptions {
  std::string method = "odrec";
  std::string teacher_dir;  // the teacher's run directory
  // The file the teacher's weights were loaded from (empty: teacher_dir/model.prarr); what a cache
  // derived from the teacher is checked against.
  std::string teacher_weights;
  // Inserted before the extension of the RD cache file: a teacher directory with two models or two
  // data sets (a refitted teacher and a refitted student, train.refit) keeps one cache for each.
  std::string cache_tag;
  OdRecKdOptions odrec;
  RankDistillOptions rd;
  std::string rd_cache;            // the top-K cache file; empty = topk_K<k>_<exclusion>.prarr in teacher_dir
  uint64_t seed = 2024;            // of what is derived from the teacher (a teacher-guided item order, PQ codes)
  bool init_from_teacher = false;  // OD-Rec: the student's non-table weights start as the teacher's
};

// The frozen teacher, the student and their shared data; all must outlive the Distillation.
struct DistillInputs {
  models::ModelInstance& teacher;
  models::ModelInstance& student;
  const data::Dataset& data;
  const DistillOptions& options;
};

class Distillation {
 public:
  virtual ~Distillation() = default;
  // The student's training task under the method's loss (its module holds the student's network
  // and the method's own trainable parts).
  virtual train::TrainTask& task() = 0;
  // What the method built, for the run's results (sizes of its heads, the cache used, ...).
  virtual nlohmann::json describe() const = 0;
};

struct DistillMethodInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Distillation>(const DistillInputs&)> make;
};

using DistillMethodRegistry = Registry<DistillMethodInfo>;

// odrec and rd.
DistillMethodRegistry default_distill_methods();

}  // namespace pocketrec::distill
