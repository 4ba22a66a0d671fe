#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "train/checkpoint.h"

namespace pocketrec::train {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  for (const auto& d : nlohmann::json::diff(a, b)) return d.value("path", std::string("?"));
  return "";
}

nlohmann::json TrainSummary::to_json() const {
  return {{"epochs_run", epochs_run},       {"best_epoch", best_epoch},
          {"best_valid", best_value},       {"valid_metric", metric},
          {"stopped_early", stopped_early}, {"resumed", resumed},
          {"train_seconds", seconds},       {"seconds_per_epoch", seconds_per_epoch},
          {"samples_per_s", samples_per_s}, {"data_fraction", data_fraction}};
}

Optimizer make_optimizer(const TrainOptions& o, std::vector<torch::Tensor> params) {
  PR_CHECK(o.l2 == 0 || o.weight_decay == 0, ErrorCode::kInvalidArgument,
           "train.l2 (coupled, Adam) and train.weight_decay (decoupled, AdamW) are both set: choose one");
  Optimizer opt;
  if (o.weight_decay > 0) {
    opt.optimizer = std::make_unique<torch::optim::AdamW>(
        std::move(params), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
    return opt;
  }
  auto fused = std::make_unique<FusedAdam>(std::move(params), torch::optim::AdamOptions(o.lr).weight_decay(o.l2));
  opt.fused = fused.get();
  opt.optimizer = std::move(fused);
  return opt;
}

Trainer::Trainer(TrainOptions options, TrainerHooks hooks)
    : options_(std::move(options)), hooks_(std::move(hooks)), rng_(options_.seed), best_value_(-INFINITY) {
  summary_.metric = options_.valid_metric;
}

void Trainer::snapshot_best(torch::nn::Module& module) {
  best_.clear();
  for (const auto& p : module.parameters()) best_.push_back(p.detach().clone());
}

void Trainer::restore_best(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  auto params = module.parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_[i]);
}

void Trainer::resume(TrainTask& task) {
  const std::string last_path = options_.run_dir + "/checkpoint_last.ckpt";
  PR_CHECK(!options_.run_dir.empty() && std::filesystem::exists(last_path), ErrorCode::kInvalidArgument,
           "train.resume: no checkpoint to resume: {}", last_path);
  auto ar = read_checkpoint(last_path);
  // A fresh tensor per key: InputArchive::read into a defined tensor calls set_(), which keeps the
  // old dtype and reinterprets the new storage.
  auto get = [&](const char* key) {
    torch::Tensor x;
    ar.read(key, x);
    return x;
  };
  nlohmann::json saved = nlohmann::json::parse(tensor_string(get("run_identity")));
  if (hooks_.normalize_identity) saved = hooks_.normalize_identity(saved);
  const nlohmann::json current = nlohmann::json::parse(options_.run_identity);
  PR_CHECK(saved == current, ErrorCode::kInvalidArgument,
           "train.resume: {} was written with a different config (first difference at '{}')", last_path,
           first_difference(saved, current));
  PR_CHECK(tensor_string(get("data_fingerprint")) == task.data_fingerprint, ErrorCode::kInvalidArgument,
           "train.resume: {} was written for different data (id maps differ)", last_path);
  // A run's random streams depend on the number of processes (one per rank), so it resumes only
  // with the world size it was started with.
  const int64_t world = hooks_.parallel ? hooks_.parallel->world_size() : 1;
  torch::Tensor saved_world_tensor;
  const int64_t saved_world = ar.try_read("world_size", saved_world_tensor) ? saved_world_tensor.item<int64_t>() : 1;
  PR_CHECK(saved_world == world, ErrorCode::kInvalidArgument,
           "train.resume: {} was written by a run of {} process(es) (dist.world_size); resume it with {}, not {}",
           last_path, saved_world, saved_world, world);
  read_module(ar, task.module, last_path);
  torch::serialize::InputArchive opt_ar;
  ar.read("optimizer", opt_ar);
  optimizer_.optimizer->load(opt_ar);
  std::istringstream(tensor_string(get("rng"))) >> rng_;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(get("torch_rng"));
  }
  first_epoch_ = get("epoch").item<int64_t>() + 1;
  best_value_ = get("best_value").item<double>();
  summary_.best_epoch = get("best_epoch").item<int64_t>();
  bad_rounds_ = get("bad_rounds").item<int64_t>();
  // Finished only if it stopped early or has reached the (possibly raised) epoch count.
  summary_.stopped_early = options_.patience > 0 && bad_rounds_ >= options_.patience;
  finished_ = summary_.stopped_early || first_epoch_ > options_.epochs;
  log_text_ = tensor_string(get("log"));
  if (summary_.best_epoch > 0) {  // the best weights: loaded, copied, then the current ones put back
    std::vector<torch::Tensor> current_weights;
    for (const auto& p : task.module.parameters()) current_weights.push_back(p.detach().clone());
    load_checkpoint_weights(task.module, options_.run_dir + "/checkpoint_best.ckpt");
    snapshot_best(task.module);
    torch::NoGradGuard g;
    auto params = task.module.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(current_weights[i]);
  }
  summary_.resumed = true;
  summary_.epochs_run = first_epoch_ - 1;
  log_info("resumed {} after epoch {} (best epoch {})", last_path, first_epoch_ - 1, summary_.best_epoch);
}

double Trainer::train_step(TrainTask& task, int64_t b, size_t n, int64_t step, double* data_seconds) {
  DataParallel* dp = hooks_.parallel;
  if (!dp) {
    const auto td = std::chrono::steady_clock::now();
    Batch input = task.make_batch(order_.data() + b, n, rng_);
    *data_seconds += seconds_since(td);
    torch::Tensor loss = task.loss(input);
    optimizer_.clear_gradients();
    loss.backward();
    if (hooks_.after_backward) hooks_.after_backward(task.module);
    optimizer_.optimizer->step();
    return loss.item<double>();
  }
  // This rank's shard. The whole global batch is made from the shared sampling stream, as one
  // process makes it, and this rank keeps its rows, so the samples do not depend on the number of
  // ranks; a batch whose tensors are not one row per sample (e.g. item bags) is made for the shard
  // alone from a stream of (seed, rank, step). Dropout draws from a stream of (seed, rank, step).
  const auto [offset, count] = dp->shard(static_cast<int64_t>(n));
  torch::manual_seed(step_seed(options_.seed ^ 0x5eedd0d0ULL, dp->rank(), step));
  optimizer_.clear_gradients();
  const auto td = std::chrono::steady_clock::now();
  Batch input = task.make_batch(order_.data() + b, n, rng_);
  bool rows = true;
  for (const auto& t : input) rows = rows && t.dim() >= 1 && t.size(0) == static_cast<int64_t>(n);
  if (rows) {
    for (auto& t : input) t = t.slice(0, offset, offset + count);
  } else if (count > 0) {
    std::mt19937_64 rng(step_seed(options_.seed, dp->rank(), step));
    input = task.make_batch(order_.data() + b + offset, static_cast<size_t>(count), rng);
  }
  *data_seconds += seconds_since(td);
  double local_loss = 0;
  if (count > 0) {
    torch::Tensor loss = task.loss(input);
    (loss * DataParallel::loss_scale(count, static_cast<int64_t>(n))).backward();
    local_loss = loss.item<double>();
  }
  const double loss = dp->reduce_gradients(task.module, count, local_loss);
  if (hooks_.after_backward) hooks_.after_backward(task.module);
  optimizer_.optimizer->step();
  return loss;
}

double Trainer::train_epoch(TrainTask& task, int64_t epoch, double* data_seconds) {
  task.module.train();
  if (task.on_epoch_begin) task.on_epoch_begin(epoch);
  std::iota(order_.begin(), order_.end(), 0);  // reset, so an epoch depends only on the RNG state
  std::shuffle(order_.begin(), order_.end(), rng_);
  ProgressBar bar(fmt::format("epoch {}/{}", epoch, options_.epochs), task.n_samples, "samples");
  const int64_t batches_per_epoch = (task.n_samples + options_.batch_size - 1) / options_.batch_size;
  double loss_sum = 0;
  int64_t n_batches = 0;
  for (int64_t b = 0; b < task.n_samples; b += options_.batch_size) {
    const size_t n = static_cast<size_t>(std::min(options_.batch_size, task.n_samples - b));
    const int64_t step = (epoch - 1) * batches_per_epoch + n_batches;
    const double l = train_step(task, b, n, step, data_seconds);
    PR_CHECK(std::isfinite(l), ErrorCode::kInternal, "training loss became {} at epoch {}, batch {}", l, epoch,
             n_batches + 1);
    loss_sum += l;
    ++n_batches;
    bar.advance(static_cast<int64_t>(n), fmt::format("loss {:.4f}", loss_sum / n_batches));
  }
  bar.finish();
  return loss_sum / static_cast<double>(n_batches);
}

bool Trainer::validate_round(TrainTask& task, int64_t epoch, nlohmann::json& log_line, std::string& message) {
  DataParallel* dp = hooks_.parallel;
  bool improved = false;
  if (!dp || dp->is_writer()) improved = validate(task, epoch, log_line, message);
  if (!dp) return improved;
  // Every rank follows rank 0: the same best epoch and snapshot, the same early-stopping count.
  const std::vector<double> d = dp->broadcast({improved ? 1.0 : 0.0, static_cast<double>(bad_rounds_), best_value_});
  bad_rounds_ = static_cast<int64_t>(d[1]);
  if (!dp->is_writer() && d[0] != 0) {
    best_value_ = d[2];
    summary_.best_epoch = epoch;
    snapshot_best(task.module);
  }
  return d[0] != 0;
}

bool Trainer::validate(TrainTask& task, int64_t epoch, nlohmann::json& log_line, std::string& message) {
  task.module.eval();
  eval::EvalResult r;
  {
    torch::NoGradGuard no_grad;
    r = hooks_.validate();
  }
  const double v = r.get(options_.valid_metric);
  log_line["valid"] = r.to_json()["metrics"];
  message += fmt::format(", valid {} {:.4f}", options_.valid_metric, v);
  // No validation queries (e.g. a refit on train + validation): nothing to select on, so the latest
  // epoch is kept and training never stops early.
  const bool no_validation = r.n_queries == 0;
  if (no_validation) message += " (no validation queries: keeping the latest epoch)";
  if (!no_validation && v <= best_value_) {
    ++bad_rounds_;
    return false;
  }
  best_value_ = v;
  summary_.best_epoch = epoch;
  bad_rounds_ = 0;
  snapshot_best(task.module);
  message += " (best)";
  return true;
}

void Trainer::write_checkpoints(TrainTask& task, int64_t epoch, bool improved) {
  if (improved) {
    torch::serialize::OutputArchive best_ar;
    write_module(best_ar, task.module);
    best_ar.write("epoch", torch::tensor(epoch));
    write_checkpoint(options_.run_dir + "/checkpoint_best.ckpt", best_ar);
  }
  torch::serialize::OutputArchive ar;
  write_module(ar, task.module);
  torch::serialize::OutputArchive opt_ar;
  optimizer_.optimizer->save(opt_ar);
  ar.write("optimizer", opt_ar);
  std::ostringstream rng_state;
  rng_state << rng_;
  ar.write("rng", string_tensor(rng_state.str()));
  ar.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state());
  ar.write("epoch", torch::tensor(epoch));
  ar.write("best_value", torch::tensor(best_value_, torch::kFloat64));
  ar.write("best_epoch", torch::tensor(summary_.best_epoch));
  ar.write("bad_rounds", torch::tensor(bad_rounds_));
  ar.write("log", string_tensor(log_text_));
  ar.write("run_identity", string_tensor(options_.run_identity));
  ar.write("data_fingerprint", string_tensor(task.data_fingerprint));
  ar.write("world_size", torch::tensor(hooks_.parallel ? hooks_.parallel->world_size() : int64_t{1}));
  write_checkpoint(options_.run_dir + "/checkpoint_last.ckpt", ar);
}

TrainSummary Trainer::run(TrainTask& task) {
  PR_CHECK(task.n_samples > 0, ErrorCode::kInvalidArgument, "no training samples");
  optimizer_ = make_optimizer(options_, task.module.parameters());
  if (options_.resume) {
    resume(task);  // every rank reads the same checkpoint
  } else if (hooks_.parallel) {
    hooks_.parallel->broadcast_module(task.module);  // rank 0's initial weights everywhere
  }
  const bool writes = hooks_.writer && !options_.run_dir.empty();
  order_.resize(static_cast<size_t>(task.n_samples));
  const auto t_start = std::chrono::steady_clock::now();
  double train_seconds = 0, data_seconds = 0;
  int64_t epochs_timed = 0;
  for (int64_t epoch = first_epoch_; epoch <= options_.epochs && !finished_; ++epoch) {
    double epoch_data_seconds = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const double loss = train_epoch(task, epoch, &epoch_data_seconds);
    const double secs = seconds_since(t0);
    train_seconds += secs;
    data_seconds += epoch_data_seconds;
    ++epochs_timed;
    const double rate = static_cast<double>(task.n_samples) / std::max(1e-9, secs);
    nlohmann::json line = {{"epoch", epoch},
                           {"loss", loss},
                           {"seconds", secs},
                           {"samples_per_s", rate},
                           {"data_fraction", epoch_data_seconds / std::max(1e-9, secs)}};
    summary_.epochs_run = epoch;
    std::string message = fmt::format("epoch {}: loss {:.4f}, {:.1f}s ({:.0f} samples/s, {:.1f}% in the data pipeline)",
                                      epoch, loss, secs, rate, 100 * epoch_data_seconds / std::max(1e-9, secs));
    const bool improved = hooks_.validate && (epoch % options_.eval_every == 0 || epoch == options_.epochs) &&
                          validate_round(task, epoch, line, message);
    log_info("{}", message);
    log_text_ += line.dump() + "\n";
    if (options_.patience > 0 && bad_rounds_ >= options_.patience) {
      summary_.stopped_early = finished_ = true;
      log_info("early stopping: no improvement of {} in {} validation rounds", options_.valid_metric,
               options_.patience);
    }
    if (epoch == options_.epochs) finished_ = true;
    if (writes) write_file_atomic(options_.run_dir + "/train_log.jsonl", log_text_);
    if (writes && options_.checkpoint) write_checkpoints(task, epoch, improved);
  }
  if (!best_.empty()) {
    restore_best(task.module);
    log_info("restored the best weights (epoch {}, valid {} {:.4f})", summary_.best_epoch, options_.valid_metric,
             best_value_);
  }
  task.module.eval();
  summary_.best_value = best_value_;
  summary_.seconds = seconds_since(t_start);
  summary_.seconds_per_epoch = epochs_timed ? train_seconds / static_cast<double>(epochs_timed) : 0;
  summary_.samples_per_s = train_seconds > 0 ? static_cast<double>(task.n_samples * epochs_timed) / train_seconds : 0;
  summary_.data_fraction = train_seconds > 0 ? data_seconds / train_seconds : 0;
  return summary_;
}

}  // namespace pocketrec::train
