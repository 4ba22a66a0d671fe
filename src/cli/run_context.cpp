#include "cli/run_context.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "data/dataset.h"
#include "data/popularity.h"
#include "eval/evaluator.h"
#include "eval/top_k.h"
#include "core/progress.h"
#include "models/torch_models.h"
#include "models/torch_recommender.h"
#include "models/sasrec.h"
#include "compress/item_order.h"
#include "distill/odrec_kd.h"
#include "distill/rank_distill.h"
#include "distill/topk_teacher_cache.h"
#include "models/sampled_item_task.h"
#include "cli/runtime_model.h"
#include "export/export_model.h"
#include "pocketrec/pocketrec.h"
#include "train/process_setup.h"

namespace pocketrec::cli {
namespace {

eval::EvalResult evaluate_split(const models::Recommender& model, const data::Dataset& d, const Config& c,
                                const std::string& split) {
  eval::EvalOptions opt = eval::EvalOptions::from_config(c);
  opt.label = split;
  const data::EvalSet& set = split == "test" ? d.test : d.valid;
  if (const double f = c.number("eval.popularity_split"); f > 0) {
    std::vector<uint8_t> hot = data::hot_items(d.train, d.n_items, f), group(hot.size());
    for (size_t i = 0; i < hot.size(); ++i) group[i] = hot[i] ? 0 : 1;
    for (auto& g : eval::target_item_groups(set, group, {"hot", "cold"})) opt.groups.push_back(std::move(g));
  }
  if (c.boolean("eval.repeat_split"))
    for (auto& g : eval::repeat_groups(set)) opt.groups.push_back(std::move(g));
  auto scorer = model.make_scorer(d);
  return eval::evaluate(set, *scorer, opt);
}

Config read_run_config(const std::string& run_dir) {
  const std::string cfg_path = run_dir + "/config.json";
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(read_file(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    PR_FAIL(ErrorCode::kBadFormat, "{}: invalid JSON: {}", cfg_path, e.what());
  }
  return Config::from_json(saved, cfg_path);
}

// The run's model, created for `d` (whose id maps must be the ones the run saved) with weights from
// `weights` (a .prarr, or a training checkpoint .ckpt), or the run's model.prarr when empty.
std::unique_ptr<models::Recommender> load_run_model(const std::string& run_dir, const Config& run_config,
                                                    const data::Dataset& d, const std::string& weights) {
  PR_CHECK(data::IdMap::load_tsv(run_dir + "/items.tsv") == d.item_ids, ErrorCode::kInvalidArgument,
           "{}/items.tsv: the item ids of {} differ from the ones this model was trained with", run_dir,
           run_config.str("data.path"));
  if (d.has_users)
    PR_CHECK(data::IdMap::load_tsv(run_dir + "/users.tsv") == d.user_ids, ErrorCode::kInvalidArgument,
             "{}/users.tsv: the user ids of {} differ from the ones this model was trained with", run_dir,
             run_config.str("data.path"));
  models::ModelRegistry registry = models::default_model_registry();
  auto model = registry.get(run_config.str("model.name")).create(run_config, d);
  const std::string path = weights.empty() ? run_dir + "/model.prarr" : weights;
  if (std::filesystem::path(path).extension() == ".ckpt") {  // a training checkpoint (e.g. checkpoint_last.ckpt)
    auto* torch_model = dynamic_cast<models::TorchRecommender*>(model.get());
    PR_CHECK(torch_model != nullptr, ErrorCode::kInvalidArgument, "--weights {}: {} has no training checkpoints", path,
             run_config.str("model.name"));
    train::load_checkpoint_weights(torch_model->network(), path);
  } else {
    model->load(path);
  }
  return model;
}

// Writes what every run directory holds, results.json last (its presence marks a finished run).
void write_run(const std::string& dir, const Config& config, const data::Dataset& d, const models::Recommender& model,
               const nlohmann::json& res) {
  write_file_atomic(dir + "/config.json", config.to_json().dump(2) + "\n");
  d.item_ids.save_tsv(dir + "/items.tsv");
  if (d.has_users) d.user_ids.save_tsv(dir + "/users.tsv");
  model.save(dir + "/model.prarr");
  write_file_atomic(dir + "/results.json", res.dump(2) + "\n");
  log_info("wrote {}/results.json", dir);
}

// The run's output.dir, created. A finished run already there (its results.json) is replaced, with a
// warning: re-running a config is how a run is redone, but a trained teacher is as easily replaced by mistake.
std::string open_output_dir(const Config& c) {
  const std::string dir = c.str("output.dir");
  if (!c.boolean("train.resume") && std::filesystem::exists(dir + "/results.json"))
    log_warn("output.dir {} holds a finished run; this run replaces its model, checkpoints and results", dir);
  make_dirs(dir);
  return dir;
}

// Threads and progress bars as the run's config says.
void setup_run(const Config& c) {
  ProgressBar::set_enabled(c.boolean("output.progress"));
  set_compute_threads(static_cast<int>(c.integer("threads.torch")), static_cast<int>(c.integer("threads.blas")));
}

nlohmann::json split_json(const eval::EvalResult& r) {
  nlohmann::json j = r.to_json();
  if (r.sampled) j["note"] = "sampled metrics: each target ranked against eval.sampled_negatives sampled items";
  return j;
}

}  // namespace

nlohmann::json train_and_evaluate(const Config& config) {
  setup_run(config);
  data::Dataset d = data::build_dataset(config);
  models::ModelRegistry registry = models::default_model_registry();
  const std::string name = config.str("model.name");
  PR_CHECK(config.str("model.stt_item_order") != "teacher", ErrorCode::kInvalidArgument,
           "model.stt_item_order: 'teacher' orders the items by a teacher's table; use pocketrec distill");
  auto model = registry.get(name).create(config, d);

  const std::string dir = open_output_dir(config);
  models::FitContext ctx{config, dir, [&](const models::Recommender& m) { return evaluate_split(m, d, config, "valid"); }};
  log_info("train: {} on {} ({} parameters)", name, d.name, model->n_parameters());
  model->fit(d, ctx);
  eval::EvalResult valid = evaluate_split(*model, d, config, "valid");
  eval::EvalResult test = evaluate_split(*model, d, config, "test");  // read once, after model selection

  nlohmann::json res;
  res["model"] = name;
  res["dataset"] = d.name;
  res["data_path"] = config.str("data.path");
  res["n_parameters"] = model->n_parameters();
  res["n_users"] = d.n_users;
  res["n_items"] = d.n_items;
  res["fit"] = model->fit_summary();
  res["valid"] = split_json(valid);
  res["test"] = split_json(test);
  res["config"] = config.to_json();

  write_run(dir, config, d, *model, res);
  return res;
}

namespace {

nlohmann::json size_json(const models::Recommender& model) {
  nlohmann::json j = {{"parameters", model.n_parameters()}, {"fp32_bytes", 4 * model.n_parameters()}};
  if (const auto* enc = dynamic_cast<const models::SessionEncoder*>(&model))
    j["item_table_parameters"] = enc->item_table_parameters();
  return j;
}

// The student's distillation task for config.distill.method, from the frozen teacher. What the task
// refers to (KD heads, the top-K cache) is kept alive in `keep`.
train::TrainTask distillation_task(const Config& config, const std::string& teacher_dir, const Config& teacher_config,
                                   models::Recommender& teacher, models::Recommender& student, const data::Dataset& d,
                                   std::shared_ptr<void>& keep) {
  if (config.str("distill.method") == "odrec") {
    auto* teacher_enc = dynamic_cast<models::SessionEncoder*>(&teacher);
    auto* student_enc = dynamic_cast<models::SessionEncoder*>(&student);
    PR_CHECK(teacher_enc != nullptr, ErrorCode::kInvalidArgument,
             "distill.teacher: {} holds a {} model; OD-Rec distils a SASRec teacher", teacher_dir,
             teacher_config.str("model.name"));
    PR_CHECK(student_enc != nullptr, ErrorCode::kInvalidArgument,
             "model.name: OD-Rec distils into a SASRec student, not {}", config.str("model.name"));
    auto& student_torch = dynamic_cast<models::TorchRecommender&>(student);  // checked by the caller
    if (const auto shape = student_enc->stt_shape(); shape && config.str("model.stt_item_order") == "teacher") {
      torch::Tensor table;
      {
        torch::NoGradGuard g;
        table = teacher_enc->item_table();
      }
      const compress::ItemOrder order =
          compress::teacher_guided_item_order(table, *shape, static_cast<uint64_t>(config.integer("train.seed")));
      student_enc->set_stt_item_order(order.slot_of_item);
      log_info("distill: STT item order from the teacher's table: group + position means explain {:.1f}% of its "
               "variance (id order: {:.1f}%)", 100 * order.explained, 100 * order.explained_identity);
    }
    auto kd = std::make_shared<distill::OdRecKdTask>(distill::make_odrec_kd_task(
        *teacher_enc, *student_enc, student_torch.training_task(d, config), d, distill::OdRecKdOptions::from_config(config)));
    int64_t n_heads = 0;
    for (const auto& p : kd->heads->parameters()) n_heads += p.numel();
    log_info("distill: OD-Rec, item table {} -> {} parameters, {} KD head parameters", teacher_enc->item_table_parameters(),
             student_enc->item_table_parameters(), n_heads);
    keep = kd;
    return kd->task;
  }
  // Ranking distillation: both models train on sampled items over the same training samples.
  auto* teacher_pw = dynamic_cast<models::PointwiseModel*>(&teacher);
  auto* student_pw = dynamic_cast<models::PointwiseModel*>(&student);
  PR_CHECK(teacher_pw != nullptr && student_pw != nullptr, ErrorCode::kInvalidArgument,
           "distill.method rd: teacher ({}) and student ({}) must both be models scored on sampled items (caser, fossil, sasrec)",
           teacher_config.str("model.name"), config.str("model.name"));
  const distill::RankDistillOptions opt = distill::RankDistillOptions::from_config(config);
  models::SampledItemTask teacher_task = teacher_pw->sampled_item_task(d, teacher_config);
  models::SampledItemTask student_task = student_pw->sampled_item_task(d, config);
  PR_CHECK(teacher_task.samples->seq == student_task.samples->seq && teacher_task.samples->pos == student_task.samples->pos,
           ErrorCode::kInvalidArgument,
           "distill.teacher: {} ({}) trains on other samples than the student ({}): the models' sample windows differ",
           teacher_dir, teacher_config.str("model.name"), config.str("model.name"));
  distill::TopKCacheKey key;
  key.teacher = teacher_dir;
  key.teacher_hash = distill::file_hash(teacher_dir + "/model.prarr");
  key.data_fingerprint = distill::samples_fingerprint(d, teacher_task);
  key.k = opt.k;
  key.exclusion = opt.as_published ? distill::TopKExclusion::kTarget : distill::TopKExclusion::kHistory;
  std::string path = config.str("distill.rd_cache");
  if (path.empty()) path = fmt::format("{}/topk_K{}_{}.prarr", teacher_dir, opt.k, distill::exclusion_name(key.exclusion));
  auto cache = std::make_shared<distill::TopKTeacherCache>(distill::TopKTeacherCache::load_or_build(path, teacher_task, key));
  keep = cache;
  return distill::rank_distill_task(student_task, *cache, config.integer("train.neg_samples"), opt);
}

}  // namespace

nlohmann::json distill_and_evaluate(const Config& config) {
  setup_run(config);
  const std::string teacher_dir = config.str("distill.teacher");
  PR_CHECK(!teacher_dir.empty(), ErrorCode::kInvalidArgument, "distill.teacher: the teacher's run directory is required");
  Config teacher_config = read_run_config(teacher_dir);
  // The teacher must have seen exactly the student's training data, or model selection would leak.
  const nlohmann::json tc = teacher_config.to_json(), sc = config.to_json();
  for (const char* section : {"data", "split"})
    PR_CHECK(tc[section] == sc[section], ErrorCode::kInvalidArgument,
             "distill.teacher: {} was trained with other {}.* settings ({} vs {})", teacher_dir, section,
             tc[section].dump(), sc[section].dump());
  data::Dataset d = data::build_dataset(config);
  auto teacher = load_run_model(teacher_dir, teacher_config, d, "");

  models::ModelRegistry registry = models::default_model_registry();
  auto student = registry.get(config.str("model.name")).create(config, d);
  auto* student_torch = dynamic_cast<models::TorchRecommender*>(student.get());
  PR_CHECK(student_torch != nullptr, ErrorCode::kInvalidArgument, "model.name: {} is not trained by gradient descent",
           config.str("model.name"));
  const std::string dir = open_output_dir(config);
  std::shared_ptr<void> keep;
  train::TrainTask task = distillation_task(config, teacher_dir, teacher_config, *teacher, *student, d, keep);
  log_info("distill ({}): {} ({} parameters) -> {} ({} parameters)", config.str("distill.method"), teacher_dir,
           teacher->n_parameters(), config.str("model.name"), student->n_parameters());
  models::FitContext ctx{config, dir, [&](const models::Recommender& m) { return evaluate_split(m, d, config, "valid"); }};
  student_torch->fit_task(d, ctx, task);
  eval::EvalResult valid = evaluate_split(*student, d, config, "valid");
  eval::EvalResult test = evaluate_split(*student, d, config, "test");

  nlohmann::json res;
  res["model"] = config.str("model.name");
  res["method"] = config.str("distill.method");
  res["teacher"] = teacher_dir;
  res["dataset"] = d.name;
  res["data_path"] = config.str("data.path");
  res["n_parameters"] = student->n_parameters();
  res["n_items"] = d.n_items;
  nlohmann::json ts = size_json(*teacher), ss = size_json(*student);
  auto ratio = [](const nlohmann::json& a, const nlohmann::json& b) {
    return static_cast<double>(a.get<int64_t>()) / static_cast<double>(b.get<int64_t>());
  };
  res["size"] = {{"teacher", ts}, {"student", ss}, {"model_compression", ratio(ts["parameters"], ss["parameters"])}};
  if (ts.contains("item_table_parameters") && ss.contains("item_table_parameters"))
    res["size"]["item_table_compression"] = ratio(ts["item_table_parameters"], ss["item_table_parameters"]);
  res["fit"] = student->fit_summary();
  res["valid"] = split_json(valid);
  res["test"] = split_json(test);
  res["config"] = config.to_json();
  write_run(dir, config, d, *student, res);
  return res;
}

nlohmann::json evaluate_run(const std::string& run_dir, const std::string& split, const std::string& weights,
                            const std::vector<std::string>& overrides) {
  PR_CHECK(split == "test" || split == "valid", ErrorCode::kInvalidArgument, "--split: expected test or valid, got '{}'",
           split);
  Config config = read_run_config(run_dir);
  for (const auto& o : overrides) {
    std::string s = o;
    while (!s.empty() && s[0] == '-') s.erase(0, 1);
    const auto eq = s.find('=');
    PR_CHECK(eq != std::string::npos, ErrorCode::kInvalidArgument, "command line: '{}': expected --key=value", o);
    const std::string key = s.substr(0, eq);
    PR_CHECK(key.rfind("eval.", 0) == 0 || key.rfind("threads.", 0) == 0, ErrorCode::kInvalidArgument,
             "command line: '{}': only eval.* and threads.* keys can change when re-evaluating a run", key);
    config.set_from_text(key, s.substr(eq + 1), "command line");
  }
  setup_run(config);
  data::Dataset d = data::build_dataset(config);
  auto model = load_run_model(run_dir, config, d, weights);
  eval::EvalResult r = evaluate_split(*model, d, config, split);
  nlohmann::json res = {{"model", config.str("model.name")}, {"dataset", d.name},
                        {"weights", weights.empty() ? run_dir + "/model.prarr" : weights},
                        {split, split_json(r)},             {"config", config.to_json()}};
  std::string out = run_dir + "/eval_" + split;
  if (!weights.empty()) out += "_" + std::filesystem::path(weights).stem().string();
  write_file_atomic(out + ".json", res.dump(2) + "\n");
  return res;
}

nlohmann::json export_run(const std::string& run_dir, const std::string& out_path, size_t n_verify,
                          const std::string& weights, const std::string& weight_type) {
  Config config = read_run_config(run_dir);
  setup_run(config);
  data::Dataset d = data::build_dataset(config);
  auto model = load_run_model(run_dir, config, d, weights);
  const exporter::WeightType type = exporter::parse_weight_type(weight_type);
  nlohmann::json provenance = {{"run", run_dir}, {"weights", weights.empty() ? run_dir + "/model.prarr" : weights},
                               {"config", config.to_json()}};
  const std::string results_path = run_dir + "/results.json";
  if (std::filesystem::exists(results_path))
    provenance["valid"] = nlohmann::json::parse(read_file(results_path))["valid"]["metrics"];
  exporter::model_pocket(*model, config, d, provenance, type).save(out_path);
  const auto file_bytes = std::filesystem::file_size(out_path);
  nlohmann::json res = {{"path", out_path},
                        {"bytes", file_bytes},
                        {"weight_type", weight_type},
                        {"parameters", model->n_parameters()}};
  if (auto* enc = dynamic_cast<models::SessionEncoder*>(model.get()))
    res["item_table_parameters"] = enc->item_table_parameters();
  log_info("export: wrote {} ({} bytes, {} parameters, {} weights)", out_path, file_bytes, model->n_parameters(),
           weight_type);
  if (n_verify == 0 || d.test.size() == 0) return res;

  // The runtime against the LibTorch model on test queries spread over the split: scores, top-20
  // lists, and HR@20 (a target in the top 20, nothing masked) of both.
  const size_t n = std::min(n_verify, d.test.size());
  std::vector<int32_t> queries(n);
  for (size_t i = 0; i < n; ++i) queries[i] = static_cast<int32_t>(i * d.test.size() / n);
  auto scorer = model->make_scorer(d);
  RuntimeModel file(out_path, POCKETREC_SCORING_AUTO), int8(out_path, POCKETREC_SCORING_INT8_TABLE);
  const int32_t N = d.n_items;
  std::vector<float> ref(static_cast<size_t>(N)), got(static_cast<size_t>(N)), q8(static_cast<size_t>(N));
  double max_diff = 0, overlap = 0, overlap8 = 0;
  size_t identical = 0, hits_ref = 0, hits_got = 0;
  auto overlap_of = [](const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t common = 0;
    for (int32_t x : b) common += std::count(a.begin(), a.end(), x);
    return static_cast<double>(common) / static_cast<double>(a.size());
  };
  auto hit = [&](int32_t q, const std::vector<int32_t>& top) {
    for (int32_t t : d.test.targets[q])
      if (std::find(top.begin(), top.end(), t) != top.end()) return true;
    return false;
  };
  const size_t batch = 256;
  for (size_t b0 = 0; b0 < n; b0 += batch) {
    const size_t nb = std::min(batch, n - b0);
    scorer->prepare(d.test, queries.data() + b0, nb);
    for (size_t r = 0; r < nb; ++r) {
      const int32_t q = queries[b0 + r];
      scorer->score(r, 1, 0, N, ref.data(), static_cast<size_t>(N));
      std::vector<int64_t> hist;
      for (int32_t item : d.test.history[q]) hist.push_back(std::stoll(d.item_ids.token(item)));
      if (pocketrec_model_n_users(file.model) > 0) {
        const int64_t user = std::stoll(d.user_ids.token(d.test.users[q]));
        check_runtime(pocketrec_context_set_user(file.ctx, user));
        check_runtime(pocketrec_context_set_user(int8.ctx, user));
      }
      check_runtime(pocketrec_score_all(file.ctx, hist.data(), hist.size(), got.data()));
      check_runtime(pocketrec_score_all(int8.ctx, hist.data(), hist.size(), q8.data()));
      for (int32_t j = 0; j < N; ++j) max_diff = std::max(max_diff, static_cast<double>(std::fabs(ref[j] - got[j])));
      auto t_ref = eval::top_k_indices(ref.data(), N, 20), t_got = eval::top_k_indices(got.data(), N, 20),
           t_q8 = eval::top_k_indices(q8.data(), N, 20);
      identical += t_ref == t_got;
      overlap += overlap_of(t_ref, t_got);
      overlap8 += overlap_of(t_ref, t_q8);
      hits_ref += hit(q, t_ref);
      hits_got += hit(q, t_got);
    }
  }
  const double nd = static_cast<double>(n);
  res["verify"] = {{"queries", n},
                   {"max_abs_score_diff", max_diff},
                   {"top20_identical", static_cast<double>(identical) / nd},
                   {"top20_overlap", overlap / nd},
                   {"int8_table_top20_overlap", overlap8 / nd},
                   {"hr@20_libtorch", static_cast<double>(hits_ref) / nd},
                   {"hr@20_runtime", static_cast<double>(hits_got) / nd}};
  log_info("export: runtime ({} weights) vs LibTorch on {} test queries: max |score diff| {:.3g}, identical top-20 "
           "{}/{}, top-20 overlap {:.4f}, HR@20 {:.4f} vs {:.4f}; with the int8 table: top-20 overlap {:.4f}",
           weight_type, n, max_diff, identical, n, overlap / nd, static_cast<double>(hits_got) / nd,
           static_cast<double>(hits_ref) / nd, overlap8 / nd);
  return res;
}

std::vector<double> query_latencies_us(const std::vector<std::string>& run_dirs, size_t max_queries) {
  PR_CHECK(!run_dirs.empty(), ErrorCode::kInvalidArgument, "query_latencies_us: no runs");
  // One data set for all runs (they must share data.* and split.*), every model loaded up front.
  Config config = read_run_config(run_dirs[0]);
  config.set("threads.torch", 1, "query_latencies_us");
  setup_run(config);
  data::Dataset d = data::build_dataset(config);
  const size_t n = std::min(max_queries, d.test.size());
  PR_CHECK(n > 0, ErrorCode::kInvalidArgument, "{}: no test queries to time", run_dirs[0]);
  const nlohmann::json first = config.to_json();
  std::vector<std::unique_ptr<models::Recommender>> models;
  std::vector<std::unique_ptr<eval::Scorer>> scorers;
  for (const auto& dir : run_dirs) {
    Config c = read_run_config(dir);
    for (const char* section : {"data", "split"})
      PR_CHECK(c.to_json()[section] == first[section], ErrorCode::kInvalidArgument,
               "{}: other {}.* settings than {}; timed runs must share their data", dir, section, run_dirs[0]);
    models.push_back(load_run_model(dir, c, d, ""));
    scorers.push_back(models.back()->make_scorer(d));
  }
  std::vector<float> scores(static_cast<size_t>(d.n_items));
  auto seconds = [&](eval::Scorer& scorer) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; ++i) {
      const auto q = static_cast<int32_t>(i * d.test.size() / n);
      scorer.prepare(d.test, &q, 1);
      scorer.score(0, 1, 0, d.n_items, scores.data(), scores.size());
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (auto& s : scorers) seconds(*s);  // warm-up
  // Rounds over all runs, so drift of the machine's speed hits every run alike; the median round.
  constexpr int kRounds = 3;
  std::vector<std::vector<double>> t(run_dirs.size());
  for (int round = 0; round < kRounds; ++round)
    for (size_t r = 0; r < scorers.size(); ++r) t[r].push_back(seconds(*scorers[r]));
  std::vector<double> us;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    us.push_back(1e6 * v[kRounds / 2] / static_cast<double>(n));
  }
  return us;
}

std::string metrics_table(const std::vector<std::pair<std::string, nlohmann::json>>& rows,
                          std::vector<std::string> columns) {
  if (rows.empty()) return "";
  if (columns.empty())
    for (auto it = rows[0].second.begin(); it != rows[0].second.end(); ++it) columns.push_back(it.key());
  // Keep the natural order: metric family, then k (nlohmann sorts keys alphabetically).
  std::string md = "| |";
  std::string sep = "|---|";
  for (const auto& c : columns) md += " " + c + " |", sep += "---|";
  md += "\n" + sep + "\n";
  for (const auto& [label, metrics] : rows) {
    md += "| " + label + " |";
    for (const auto& c : columns)
      md += metrics.contains(c) ? fmt::format(" {:.4f} |", metrics[c].get<double>()) : std::string(" – |");
    md += "\n";
  }
  return md;
}

}  // namespace pocketrec::cli
