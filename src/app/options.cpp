#include "app/options.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace pocketrec::app {
namespace {

data::DataOptions data_options(const Config& c) {
  data::DataOptions o;
  const std::filesystem::path path = c.str("data.path");
  o.path = path.empty() || path.is_absolute() ? path.string() : (std::filesystem::path(data_root(c)) / path).string();
  o.format = c.str("data.format");
  o.columns = c.str("data.columns");
  o.min_rating = c.number("data.min_rating");
  o.dedup = c.str("data.dedup");
  o.user_core = c.integer("data.user_core");
  o.item_core = c.integer("data.item_core");
  return o;
}

data::SplitOptions split_options(const Config& c) {
  data::SplitOptions o;
  o.method = c.str("split.method");
  o.ratios = c.numbers("split.ratios");
  o.valid_source = c.str("split.valid_source");
  o.valid_fraction = c.number("split.valid_fraction");
  o.seed = static_cast<uint64_t>(c.integer("split.seed"));
  return o;
}

models::ItemTableOptions item_table_options(const Config& c) {
  models::ItemTableOptions o;
  const std::string kind = c.str("model.item_table");
  o.kind = kind == "stt"  ? models::ItemTableKind::kStt
           : kind == "pq" ? models::ItemTableKind::kPq
                          : models::ItemTableKind::kDense;
  o.stt.items = c.integers("model.stt_items");
  o.stt.dims = c.integers("model.stt_dims");
  o.stt.n_cores = c.integer("model.stt_cores");
  o.stt.rank = c.integer("model.stt_rank");
  o.stt.t = c.integer("model.stt_t");
  o.stt.layout = compress::parse_stt_layout(c.str("model.stt_layout"));
  o.stt.teacher_order = c.str("model.stt_item_order") == "teacher";
  o.pq.subspaces = c.integer("model.pq_subspaces");
  o.pq.codewords = c.integer("model.pq_codewords");
  const std::string codes = c.str("model.pq_codes");
  o.pq.codes = codes == "svd"      ? models::PqCodeSource::kSvd
               : codes == "random" ? models::PqCodeSource::kRandom
                                   : models::PqCodeSource::kTeacher;
  o.pq.rotation = c.boolean("model.pq_rotation");
  o.pq.kmeans_iterations = c.integer("model.pq_kmeans_iterations");
  return o;
}

models::ModelOptions model_options(const Config& c) {
  models::ModelOptions o;
  o.name = c.str("model.name");
  o.dim = c.integer("model.dim");
  o.init_std = c.number("model.init_std");
  o.dropout = c.number("model.dropout");
  o.seed = static_cast<uint64_t>(c.integer("train.seed"));
  const std::string loss = c.str("train.loss");
  o.loss = loss == "ce"    ? models::LossChoice::kCrossEntropy
           : loss == "bce" ? models::LossChoice::kBce
                           : models::LossChoice::kAuto;
  o.sampling.neg_samples = c.integer("train.neg_samples");
  o.sampling.exclude_history = c.boolean("train.neg_exclude_history");
  o.sasrec.odrec = c.str("model.sasrec_variant") == "odrec";
  o.sasrec.max_len = c.integer("model.max_len");
  o.sasrec.layers = c.integer("model.layers");
  o.sasrec.heads = c.integer("model.heads");
  o.sasrec.inner = c.integer("model.inner");
  o.sasrec.table = item_table_options(c);
  o.caser.window = c.integer("model.window");
  o.caser.nv = c.integer("model.caser_nv");
  o.caser.nh = c.integer("model.caser_nh");
  o.caser.targets = c.integer("model.caser_targets");
  o.caser.ac_conv = c.str("model.caser_ac_conv");
  o.caser.ac_fc = c.str("model.caser_ac_fc");
  o.fossil.window = c.integer("model.window");
  o.fossil.alpha = c.number("model.fossil_alpha");
  o.bpr.query = c.str("model.bpr_query");
  o.itemcf.neighbors = c.integer("model.itemcf_neighbors");
  o.itemcf.shrink = c.number("model.itemcf_shrink");
  return o;
}

train::TrainOptions train_options(const Config& c) {
  train::TrainOptions o;
  o.epochs = c.integer("train.epochs");
  o.batch_size = c.integer("train.batch_size");
  o.lr = c.number("train.lr");
  o.l2 = c.number("train.l2");
  o.weight_decay = c.number("train.weight_decay");
  o.eval_every = c.integer("train.eval_every");
  o.patience = c.integer("train.patience");
  o.seed = static_cast<uint64_t>(c.integer("train.seed"));
  o.valid_metric = c.str("eval.valid_metric");
  o.resume = c.boolean("train.resume");
  o.checkpoint = c.boolean("train.checkpoint");
  o.run_dir = c.str("output.dir");
  o.run_identity = run_identity(c).dump();
  PR_CHECK(o.l2 == 0 || o.weight_decay == 0, ErrorCode::kInvalidArgument,
           "train.l2 (coupled, Adam) and train.weight_decay (decoupled, AdamW) are both set: choose one");
  return o;
}

EvalSettings eval_settings(const Config& c) {
  EvalSettings s;
  eval::EvalOptions& o = s.options;
  o.metrics = eval::make_metric_specs(c.strings("eval.metrics"), c.integers("eval.ks"));
  o.mask_history = c.boolean("eval.mask_history");
  o.batch_size = static_cast<size_t>(c.integer("eval.batch_size"));
  o.item_chunk = static_cast<size_t>(c.integer("eval.item_chunk"));
  o.threads = static_cast<int>(c.integer("eval.threads"));
  o.sampled_negatives = c.integer("eval.sampled_negatives");
  o.seed = static_cast<uint64_t>(c.integer("train.seed"));
  s.valid_metric = c.str("eval.valid_metric");
  s.popularity_split = c.number("eval.popularity_split");
  s.repeat_split = c.boolean("eval.repeat_split");
  return s;
}

distill::DistillOptions distill_options(const Config& c) {
  distill::DistillOptions o;
  o.method = c.str("distill.method");
  o.teacher_dir = c.str("distill.teacher");
  o.seed = static_cast<uint64_t>(c.integer("train.seed"));
  o.init_from_teacher = c.boolean("distill.init_from_teacher");
  distill::OdRecKdOptions& kd = o.odrec;
  kd.para = c.number("distill.para");
  kd.beta = c.number("distill.beta");
  kd.alpha = c.number("distill.alpha");
  kd.tau = c.number("distill.tau");
  kd.temperature = c.number("distill.temperature");
  kd.hot_fraction = c.number("distill.hot_fraction");
  kd.as_published = c.str("distill.odrec_pred_targets") == "as_published";
  distill::RankDistillOptions& rd = o.rd;
  rd.k = c.integer("distill.rd_k");
  rd.lambda = c.number("distill.rd_lambda");
  rd.mu = c.number("distill.rd_mu");
  rd.alpha = c.number("distill.rd_alpha");
  rd.rank_samples = c.integer("distill.rd_samples");
  rd.dynamic_start_epoch = c.integer("distill.rd_start_epoch");
  const std::string w = c.str("distill.rd_weighting");
  rd.weighting = w == "uniform"       ? distill::RdWeighting::kUniform
                 : w == "position"    ? distill::RdWeighting::kPosition
                 : w == "discrepancy" ? distill::RdWeighting::kDiscrepancy
                                      : distill::RdWeighting::kHybrid;
  rd.renormalize = c.boolean("distill.rd_renormalize");
  rd.paper_loss = c.str("distill.rd_loss_form") == "paper";
  rd.exclusion = c.str("distill.rd_topk_exclusion") == "target" ? distill::TopKExclusion::kTarget
                                                                : distill::TopKExclusion::kHistory;
  o.rd_cache = c.str("distill.rd_cache");
  return o;
}

}  // namespace

std::string data_root(const Config& c) {
  const std::string root = c.str("data.root");
  if (!root.empty()) return root;
  const char* env = std::getenv("POCKETREC_DATA");
  return env && *env ? env : "../shared/data";
}

RunSettings run_settings(const Config& config) {
  RunSettings s;
  s.config = config;
  s.config.set("data.root", data_root(config), "the data root");
  const Config& c = s.config;
  s.data = data_options(c);
  s.split = split_options(c);
  s.model = model_options(c);
  s.train = train_options(c);
  s.eval = eval_settings(c);
  s.distill = distill_options(c);
  s.process.torch_threads = static_cast<int>(c.integer("threads.torch"));
  s.process.blas_threads = static_cast<int>(c.integer("threads.blas"));
  s.process.progress = c.boolean("output.progress");
  s.dist.world_size = c.integer("dist.world_size");
  s.dist.rank = c.integer("dist.rank");
  s.dist.master = c.str("dist.master");
  s.dist.timeout_s = c.number("dist.timeout_s");
  PR_CHECK(s.dist.rank < s.dist.world_size, ErrorCode::kInvalidArgument,
           "dist.rank: {} is not below dist.world_size = {}", s.dist.rank, s.dist.world_size);
  s.output_dir = c.str("output.dir");
  s.refit = c.boolean("train.refit");
  return s;
}

nlohmann::json run_identity(const Config& config) {
  nlohmann::json j = config.to_json();
  j["train"].erase("resume");
  j["train"].erase("epochs");
  j["train"].erase("refit");  // what follows the selection, not the training being resumed
  j["output"].erase("progress");
  j["output"].erase("dir");
  j.erase("threads");
  j.erase("dist");  // a resumed run checks its world size itself, with its own message
  for (const char* k : {"batch_size", "item_chunk", "threads"}) j["eval"].erase(k);
  return j;
}

nlohmann::json run_identity(const nlohmann::json& saved) {
  return run_identity(Config::from_json(saved, "the checkpoint's config"));
}

nlohmann::json data_identity(const RunSettings& s) {
  nlohmann::json j = s.config.to_json();
  nlohmann::json data = j["data"];
  data.erase("root");
  data["path"] = std::filesystem::path(s.data.path).lexically_normal().string();
  return {{"data", data}, {"split", j["split"]}};
}

}  // namespace pocketrec::app
