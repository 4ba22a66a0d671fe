// Fitting and evaluating a model as a run does: the process set-up, one model's metrics on a split
// (with the optional hot/cold and repeat/new breakdowns), and training: a closed-form fit, or the
// trainer over the model's (or a distillation's) task, validated on the validation split.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "app/options.h"
#include "data/dataset.h"
#include "models/recommender.h"
#include "train/data_parallel.h"
#include "train/task.h"
#include "train/trainer.h"

namespace pocketrec::app {

// Threads and progress bars as the run's settings say.
void setup_process(const ProcessSettings& settings);

// `model`'s metrics on d.valid ("valid") or d.test ("test").
eval::EvalResult evaluate_split(const models::Recommender& model, const data::Dataset& d, const EvalSettings& settings,
                                const std::string& split);

// The metrics of a split as results.json stores them (sampled metrics labelled as such).
nlohmann::json split_json(const eval::EvalResult& r);

// Fits `m` on d.train: in closed form, or by gradient training of `task` (the model's own when
// null) with the run's train settings, selected on d.valid; data-parallel across the processes of
// `parallel` when given (rank 0 validates and writes). Returns what training did.
// With validate = false nothing is validated and the last epoch's weights are kept.
nlohmann::json fit_model(models::ModelInstance& m, const data::Dataset& d, const RunSettings& settings,
                         train::TrainTask* task = nullptr, train::DataParallel* parallel = nullptr,
                         bool validate = true);

// train.refit: a new model of settings.model fitted on the training and validation data of the
// split (SplitOptions::fold_validation; the test queries and id maps are the selected run's) for
// the epochs `selected_fit` chose on validation, without validation. Its fit summary notes those
// epochs. `make_task`, when given, returns the task to train the new model with (a distillation's,
// built on the folded data); else the model's own. The task, and whatever it refers to in the
// Refit it is given, are used only during this call.
struct Refit {
  data::Dataset data;
  models::ModelInstance model;
  nlohmann::json fit;
};
Refit refit_model(const RunSettings& settings, const data::Dataset& selected_on, const nlohmann::json& selected_fit,
                  const std::function<train::TrainTask*(Refit&)>& make_task = {});

// The data-parallel group of settings.dist (joined here), or null for a single process.
std::unique_ptr<train::DataParallel> join_group(const RunSettings& settings);

// What a rank other than 0 returns from train or distill (it writes nothing): its rank and fit.
nlohmann::json worker_result(const train::DataParallel& parallel, const nlohmann::json& fit);

}  // namespace pocketrec::app
