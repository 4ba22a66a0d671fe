#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "core/array_archive.h"
#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "train/fused_adam.h"

namespace pocketrec::train {
namespace {

constexpr char kTrailerMagic[8] = {'P', 'R', 'C', 'K', 'P', 'T', '0', '1'};
constexpr size_t kTrailerSize = 8 + 8 + 4;  // magic, payload length, CRC-32 of the payload

torch::Tensor string_tensor(const std::string& s) {
  return torch::from_blob(const_cast<char*>(s.data()), {static_cast<int64_t>(s.size())}, torch::kUInt8).clone();
}
std::string tensor_string(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
}

void write_checkpoint(const std::string& path, torch::serialize::OutputArchive& ar) {
  std::ostringstream os;
  ar.save_to(os);
  std::string bytes = os.str();
  const uint64_t len = bytes.size();
  const uint32_t crc = crc32_of(bytes.data(), bytes.size());
  bytes.append(kTrailerMagic, sizeof(kTrailerMagic));
  bytes.append(reinterpret_cast<const char*>(&len), sizeof(len));
  bytes.append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  write_file_atomic(path, bytes);
}

torch::serialize::InputArchive read_checkpoint(const std::string& path) {
  std::string bytes = read_file(path);
  PR_CHECK(bytes.size() >= kTrailerSize &&
               std::memcmp(bytes.data() + bytes.size() - kTrailerSize, kTrailerMagic, sizeof(kTrailerMagic)) == 0,
           ErrorCode::kBadFormat, "{}: not a PocketRec checkpoint, or truncated (no trailer)", path);
  uint64_t len;
  uint32_t crc;
  std::memcpy(&len, bytes.data() + bytes.size() - 12, 8);
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  PR_CHECK(len == bytes.size() - kTrailerSize, ErrorCode::kBadFormat,
           "{}: checkpoint says {} bytes but holds {}: truncated or corrupt", path, len, bytes.size() - kTrailerSize);
  PR_CHECK(crc32_of(bytes.data(), len) == crc, ErrorCode::kChecksumMismatch, "{}: checksum mismatch: corrupt checkpoint",
           path);
  bytes.resize(len);
  std::istringstream is(bytes);
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(is);
  } catch (const c10::Error& e) {
    PR_FAIL(ErrorCode::kBadFormat, "{}: cannot read checkpoint: {}", path, e.what_without_backtrace());
  }
  return ar;
}

void write_params(torch::serialize::OutputArchive& ar, torch::nn::Module& module) {
  for (const auto& p : module.named_parameters()) ar.write("param/" + p.key(), p.value().detach());
  for (const auto& b : module.named_buffers()) ar.write("buffer/" + b.key(), b.value());
}

// Reads every parameter of `module` from `ar`, checking names and shapes.
void read_params(torch::serialize::InputArchive& ar, torch::nn::Module& module, const std::string& path,
                 const std::string& prefix = "") {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) {
    torch::Tensor t;
    PR_CHECK(ar.try_read("param/" + prefix + p.key(), t), ErrorCode::kBadFormat, "{}: parameter '{}' is missing", path,
             p.key());
    PR_CHECK(t.sizes() == p.value().sizes(), ErrorCode::kBadFormat, "{}: parameter '{}' has shape [{}], expected [{}]",
             path, p.key(), fmt::join(t.sizes(), ","), fmt::join(p.value().sizes(), ","));
    p.value().copy_(t);
  }
  for (auto& b : module.named_buffers()) {
    torch::Tensor t;
    PR_CHECK(ar.try_read("buffer/" + prefix + b.key(), t) && t.sizes() == b.value().sizes(), ErrorCode::kBadFormat,
             "{}: buffer '{}' is missing or has another shape", path, b.key());
    b.value().copy_(t);
  }
}

}  // namespace

nlohmann::json resumable_config(const nlohmann::json& config) {
  // Through Config, so keys added to PocketRec after a checkpoint was written take their defaults
  // (the behaviour the run had).
  nlohmann::json j = Config::from_json(config, "checkpoint config").to_json();
  j["train"].erase("resume");
  j["train"].erase("epochs");
  j["output"].erase("progress");
  j.erase("threads");
  for (const char* k : {"batch_size", "item_chunk", "threads"}) j["eval"].erase(k);
  return j;
}

namespace {

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  for (const auto& d : nlohmann::json::diff(a, b)) return d.value("path", std::string("?"));
  return "";
}

}  // namespace

nlohmann::json TrainSummary::to_json() const {
  return {{"epochs_run", epochs_run},       {"best_epoch", best_epoch},   {"best_valid", best_value},
          {"valid_metric", metric},         {"stopped_early", stopped_early}, {"resumed", resumed},
          {"train_seconds", seconds},       {"seconds_per_epoch", seconds_per_epoch},
          {"samples_per_s", samples_per_s}, {"data_fraction", data_fraction}};
}

void load_checkpoint_weights(torch::nn::Module& module, const std::string& path) {
  auto ar = read_checkpoint(path);
  // A distillation checkpoint holds the task module: the student under "student.", plus the KD heads.
  torch::Tensor probe;
  const auto params = module.named_parameters();
  const bool distilled = !params.is_empty() && !ar.try_read("param/" + params.begin()->key(), probe) &&
                         ar.try_read("param/student." + params.begin()->key(), probe);
  read_params(ar, module, path, distilled ? "student." : "");
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const Config& c, std::vector<torch::Tensor> params) {
  const double l2 = c.number("train.l2"), wd = c.number("train.weight_decay");
  PR_CHECK(l2 == 0 || wd == 0, ErrorCode::kInvalidArgument,
           "train.l2 (coupled, Adam) and train.weight_decay (decoupled, AdamW) are both set: choose one");
  if (wd > 0)
    return std::make_unique<torch::optim::AdamW>(std::move(params),
                                                 torch::optim::AdamWOptions(c.number("train.lr")).weight_decay(wd));
  return std::make_unique<FusedAdam>(std::move(params), torch::optim::AdamOptions(c.number("train.lr")).weight_decay(l2));
}

TrainSummary run_training(TrainTask& task, const models::Recommender& model, const models::FitContext& ctx) {
  const Config& c = ctx.config;
  const int64_t epochs = c.integer("train.epochs"), batch = c.integer("train.batch_size");
  const int64_t eval_every = c.integer("train.eval_every"), patience = c.integer("train.patience");
  const bool checkpoints = c.boolean("train.checkpoint") && !ctx.run_dir.empty();
  const std::string last_path = ctx.run_dir + "/checkpoint_last.ckpt", best_path = ctx.run_dir + "/checkpoint_best.ckpt";
  TrainSummary sum;
  sum.metric = c.str("eval.valid_metric");
  PR_CHECK(task.n_samples > 0, ErrorCode::kInvalidArgument, "no training samples");
  bool metric_known = false;  // fail now, not after the first epoch
  for (const auto& m : eval::EvalOptions::from_config(c).metrics) metric_known = metric_known || m.name() == sum.metric;
  PR_CHECK(metric_known, ErrorCode::kInvalidArgument,
           "eval.valid_metric: '{}' is not among the computed metrics (eval.metrics x eval.ks)", sum.metric);

  std::unique_ptr<torch::optim::Optimizer> opt = make_optimizer(c, task.module.parameters());

  std::mt19937_64 rng(static_cast<uint64_t>(c.integer("train.seed")));
  std::vector<torch::Tensor> best;
  auto snapshot = [&] {
    best.clear();
    for (const auto& p : task.module.parameters()) best.push_back(p.detach().clone());
  };
  std::string log_text;
  double best_value = -INFINITY;
  int64_t bad_rounds = 0, first_epoch = 1;
  bool finished = false;
  const std::string config_text = resumable_config(c.to_json()).dump();

  if (c.boolean("train.resume")) {
    PR_CHECK(std::filesystem::exists(last_path), ErrorCode::kInvalidArgument, "train.resume: no checkpoint to resume: {}",
             last_path);
    auto ar = read_checkpoint(last_path);
    // A fresh tensor per key: InputArchive::read into a defined tensor calls set_(), which keeps the
    // old dtype and reinterprets the new storage (a double read through a uint8 view gave 227 for
    // 0.2284, so resumed runs never improved on their restored best).
    auto get = [&](const char* key) {
      torch::Tensor x;
      ar.read(key, x);
      return x;
    };
    auto saved = resumable_config(nlohmann::json::parse(tensor_string(get("config"))));  // also checkpoints that kept epochs
    PR_CHECK(saved.dump() == config_text, ErrorCode::kInvalidArgument,
             "train.resume: {} was written with a different config (first difference at '{}')", last_path,
             first_difference(saved, resumable_config(c.to_json())));
    PR_CHECK(tensor_string(get("data_fingerprint")) == task.data_fingerprint, ErrorCode::kInvalidArgument,
             "train.resume: {} was written for different data (id maps differ)", last_path);
    read_params(ar, task.module, last_path);
    torch::serialize::InputArchive opt_ar;
    ar.read("optimizer", opt_ar);
    opt->load(opt_ar);
    std::istringstream(tensor_string(get("rng"))) >> rng;
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(get("torch_rng"));
    }
    first_epoch = get("epoch").item<int64_t>() + 1;
    best_value = get("best_value").item<double>();
    sum.best_epoch = get("best_epoch").item<int64_t>();
    bad_rounds = get("bad_rounds").item<int64_t>();
    // Finished only if it stopped early or has reached the (possibly raised) epoch count.
    finished = (patience > 0 && bad_rounds >= patience) || first_epoch > epochs;
    log_text = tensor_string(get("log"));
    if (sum.best_epoch > 0) {
      // The best weights: load them into the module, copy, then put the current weights back.
      std::vector<torch::Tensor> current;
      for (const auto& p : task.module.parameters()) current.push_back(p.detach().clone());
      load_checkpoint_weights(task.module, best_path);
      snapshot();
      torch::NoGradGuard g;
      auto params = task.module.parameters();
      for (size_t i = 0; i < params.size(); ++i) params[i].copy_(current[i]);
    }
    sum.resumed = true;
    sum.epochs_run = first_epoch - 1;
    log_info("resumed {} after epoch {} (best epoch {})", last_path, first_epoch - 1, sum.best_epoch);
  }

  std::vector<int64_t> order(static_cast<size_t>(task.n_samples));
  const auto t_start = std::chrono::steady_clock::now();
  double train_seconds = 0, data_seconds = 0;
  int64_t epochs_timed = 0;
  for (int64_t epoch = first_epoch; epoch <= epochs && !finished; ++epoch) {
    task.module.train();
    if (task.on_epoch_begin) task.on_epoch_begin(epoch);
    std::iota(order.begin(), order.end(), 0);  // reset, so an epoch depends only on the RNG state
    std::shuffle(order.begin(), order.end(), rng);
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, epochs), task.n_samples, "samples");
    double loss_sum = 0, data_secs = 0;
    int64_t n_batches = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t b = 0; b < task.n_samples; b += batch) {
      const size_t n = static_cast<size_t>(std::min(batch, task.n_samples - b));
      const auto td = std::chrono::steady_clock::now();
      Batch input = task.make_batch(order.data() + b, n, rng);
      data_secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - td).count();
      torch::Tensor loss = task.loss(input);
      clear_gradients(*opt);
      loss.backward();
      opt->step();
      const double l = loss.item<double>();
      PR_CHECK(std::isfinite(l), ErrorCode::kInternal, "training loss became {} at epoch {}, batch {}", l, epoch,
               n_batches + 1);
      loss_sum += l;
      ++n_batches;
      bar.advance(static_cast<int64_t>(n), fmt::format("loss {:.4f}", loss_sum / n_batches));
    }
    bar.finish();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    train_seconds += secs;
    data_seconds += data_secs;
    ++epochs_timed;
    nlohmann::json line = {{"epoch", epoch},
                           {"loss", loss_sum / n_batches},
                           {"seconds", secs},
                           {"samples_per_s", task.n_samples / std::max(1e-9, secs)},
                           {"data_fraction", data_secs / std::max(1e-9, secs)}};
    sum.epochs_run = epoch;
    std::string msg = fmt::format("epoch {}: loss {:.4f}, {:.1f}s ({:.0f} samples/s, {:.1f}% in the data pipeline)",
                                  epoch, loss_sum / n_batches, secs, task.n_samples / std::max(1e-9, secs),
                                  100 * data_secs / std::max(1e-9, secs));
    bool improved = false;
    if (epoch % eval_every == 0 || epoch == epochs) {
      task.module.eval();
      eval::EvalResult r;
      {
        torch::NoGradGuard no_grad;
        r = ctx.validate(model);
      }
      const double v = r.get(sum.metric);
      line["valid"] = r.to_json()["metrics"];
      msg += fmt::format(", valid {} {:.4f}", sum.metric, v);
      // No validation queries (e.g. split.ratios [0.8, 0, 0.2], a refit on train + validation):
      // nothing to select on, so the latest epoch is kept and training never stops early.
      const bool no_validation = r.n_queries == 0;
      if (no_validation) msg += " (no validation queries: keeping the latest epoch)";
      if (no_validation || v > best_value) {
        best_value = v;
        sum.best_epoch = epoch;
        bad_rounds = 0;
        improved = true;
        snapshot();
        msg += " (best)";
      } else {
        ++bad_rounds;
      }
    }
    log_info("{}", msg);
    log_text += line.dump() + "\n";
    if (patience > 0 && bad_rounds >= patience) {
      sum.stopped_early = finished = true;
      log_info("early stopping: no improvement of {} in {} validation rounds", sum.metric, patience);
    }
    if (epoch == epochs) finished = true;
    if (!ctx.run_dir.empty()) write_file_atomic(ctx.run_dir + "/train_log.jsonl", log_text);
    if (checkpoints) {
      if (improved) {
        torch::serialize::OutputArchive best_ar;
        write_params(best_ar, task.module);
        best_ar.write("epoch", torch::tensor(epoch));
        write_checkpoint(best_path, best_ar);
      }
      torch::serialize::OutputArchive ar;
      write_params(ar, task.module);
      torch::serialize::OutputArchive opt_ar;
      opt->save(opt_ar);
      ar.write("optimizer", opt_ar);
      std::ostringstream rng_state;
      rng_state << rng;
      ar.write("rng", string_tensor(rng_state.str()));
      ar.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state());
      ar.write("epoch", torch::tensor(epoch));
      ar.write("best_value", torch::tensor(best_value, torch::kFloat64));
      ar.write("best_epoch", torch::tensor(sum.best_epoch));
      ar.write("bad_rounds", torch::tensor(bad_rounds));
      ar.write("log", string_tensor(log_text));
      ar.write("config", string_tensor(config_text));
      ar.write("data_fingerprint", string_tensor(task.data_fingerprint));
      write_checkpoint(last_path, ar);
    }
  }
  if (!best.empty()) {
    torch::NoGradGuard no_grad;
    auto params = task.module.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
    log_info("restored the best weights (epoch {}, valid {} {:.4f})", sum.best_epoch, sum.metric, best_value);
  }
  task.module.eval();
  sum.best_value = best_value;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  sum.seconds_per_epoch = epochs_timed ? train_seconds / epochs_timed : 0;
  sum.samples_per_s = train_seconds > 0 ? task.n_samples * epochs_timed / train_seconds : 0;
  sum.data_fraction = train_seconds > 0 ? data_seconds / train_seconds : 0;
  return sum;
}

}  // namespace pocketrec::train
