#include "app/repro_suite.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/config.h"
#include "core/error.h"
#include "core/text.h"
#include "export/exporter.h"

namespace pocketrec::app {
namespace {

// Refuses keys of `object` (at `where` in `file`) outside `allowed`, suggesting the closest.
void check_keys(const nlohmann::json& object, const std::vector<std::string>& allowed, const std::string& file,
                const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    const auto hint = did_you_mean(key, allowed);
    PR_FAIL(ErrorCode::kInvalidArgument, "{}: unknown key '{}{}'{}", file, where, key,
            hint ? " (did you mean '" + where + *hint + "'?)" : "");
  }
}

template <typename T>
T get(const nlohmann::json& object, const std::string& key, const T& fallback, bool required, const std::string& file,
      const std::string& where) {
  if (!object.contains(key)) {
    PR_CHECK(!required, ErrorCode::kInvalidArgument, "{}: key '{}{}' is required", file, where, key);
    return fallback;
  }
  try {
    return object.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    PR_FAIL(ErrorCode::kInvalidArgument, "{}: key '{}{}': wrong type ({})", file, where, key, object.at(key).dump());
  }
}

// A run's "grid": config key -> non-empty list of scalar values, as override texts.
std::vector<std::pair<std::string, std::vector<std::string>>> read_grid(const nlohmann::json& grid,
                                                                        const std::string& path,
                                                                        const std::string& where) {
  PR_CHECK(grid.is_object() && !grid.empty(), ErrorCode::kInvalidArgument,
           "{}: key '{}grid': expected an object of config key -> list of values", path, where);
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& [key, values] : grid.items()) {
    PR_CHECK(values.is_array() && !values.empty(), ErrorCode::kInvalidArgument,
             "{}: key '{}grid.{}': expected a non-empty list of values", path, where, key);
    std::vector<std::string> texts;
    for (const auto& v : values) {
      PR_CHECK(v.is_primitive() && !v.is_null(), ErrorCode::kInvalidArgument,
               "{}: key '{}grid.{}': expected numbers, strings or booleans, got {}", path, where, key, v.dump());
      texts.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    out.emplace_back(key, texts);
  }
  return out;
}

// Reads and checks runs[i] of the suite file `path`; `earlier` are the runs listed before it.
SuiteRun read_run(const nlohmann::json& r, size_t i, const std::string& path, const std::vector<SuiteRun>& earlier) {
  auto listed = [&](const std::string& id) {
    return std::any_of(earlier.begin(), earlier.end(), [&](const SuiteRun& e) { return e.id == id; });
  };
  const std::string where = "runs[" + std::to_string(i) + "].";
  PR_CHECK(r.is_object(), ErrorCode::kInvalidArgument, "{}: key 'runs[{}]': expected an object", path, i);
  check_keys(r, {"id", "role", "config", "set", "distill_from", "compare_to", "grid", "seeds", "same_settings_as"},
             path, where);
  SuiteRun run;
  run.id = get<std::string>(r, "id", "", true, path, where);
  run.role = get<std::string>(r, "role", "", true, path, where);
  run.config = (std::filesystem::path(path).parent_path() / get<std::string>(r, "config", "", true, path, where))
                   .lexically_normal()
                   .string();
  run.overrides = get<std::vector<std::string>>(r, "set", {}, false, path, where);
  run.distill_from = get<std::string>(r, "distill_from", "", false, path, where);
  run.compare_to = get<std::string>(r, "compare_to", run.distill_from, false, path, where);
  if (r.contains("grid")) run.grid = read_grid(r["grid"], path, where);
  run.seeds = get<std::vector<int64_t>>(r, "seeds", {}, false, path, where);
  run.same_settings_as = get<std::string>(r, "same_settings_as", "", false, path, where);
  for (size_t a = 0; a < run.seeds.size(); ++a)
    for (size_t b = 0; b < a; ++b)
      PR_CHECK(run.seeds[a] != run.seeds[b], ErrorCode::kInvalidArgument, "{}: key '{}seeds': {} is listed twice", path,
               where, run.seeds[a]);
  PR_CHECK(run.role == "teacher" || run.role == "student" || run.role == "baseline", ErrorCode::kInvalidArgument,
           "{}: key '{}role': expected teacher, student or baseline, got '{}'", path, where, run.role);
  PR_CHECK(!run.id.empty() && run.id.find_first_of("/ \t") == std::string::npos, ErrorCode::kInvalidArgument,
           "{}: key '{}id': '{}' must be a non-empty name without spaces or '/'", path, where, run.id);
  PR_CHECK(!listed(run.id), ErrorCode::kInvalidArgument, "{}: key '{}id': '{}' is used twice", path, where, run.id);
  PR_CHECK(run.distill_from.empty() || listed(run.distill_from), ErrorCode::kInvalidArgument,
           "{}: key '{}distill_from': '{}' is not a run listed before '{}'", path, where, run.distill_from, run.id);
  PR_CHECK(run.compare_to.empty() || listed(run.compare_to), ErrorCode::kInvalidArgument,
           "{}: key '{}compare_to': '{}' is not a run listed before '{}'", path, where, run.compare_to, run.id);
  if (!run.same_settings_as.empty()) {
    const auto source = std::find_if(earlier.begin(), earlier.end(),
                                     [&](const SuiteRun& earlier) { return earlier.id == run.same_settings_as; });
    PR_CHECK(source != earlier.end(), ErrorCode::kInvalidArgument,
             "{}: key '{}same_settings_as': '{}' is not a run listed before '{}'", path, where, run.same_settings_as,
             run.id);
    PR_CHECK(source->same_settings_as.empty(), ErrorCode::kInvalidArgument,
             "{}: key '{}same_settings_as': '{}' takes its own settings from '{}'; name that run instead", path, where,
             run.same_settings_as, source->same_settings_as);
  }
  return run;
}

// The suite's "export": each entry a run id (its fp32 file) or {"run": id, "weight_type": "fp16" | "int8"};
// no file twice.
std::vector<SuiteExport> read_exports(const nlohmann::json& list, const std::string& path,
                                      const std::vector<std::string>& ids) {
  PR_CHECK(list.is_array(), ErrorCode::kInvalidArgument, "{}: key 'export': expected a list", path);
  std::vector<SuiteExport> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "export[" + std::to_string(i) + "].";
    SuiteExport e;
    if (list[i].is_string()) {
      e.run = list[i].get<std::string>();
    } else {
      PR_CHECK(list[i].is_object(), ErrorCode::kInvalidArgument,
               "{}: key 'export[{}]': expected a run id or {{\"run\", \"weight_type\"}}", path, i);
      check_keys(list[i], {"run", "weight_type"}, path, where);
      e.run = get<std::string>(list[i], "run", "", true, path, where);
      e.weight_type = get<std::string>(list[i], "weight_type", "fp32", false, path, where);
      try {
        exporter::parse_weight_type(e.weight_type);  // the exporter's own list of weight types
      } catch (const Error&) {
        PR_FAIL(ErrorCode::kInvalidArgument, "{}: key '{}weight_type': '{}' is not fp32, fp16 or int8", path, where,
                e.weight_type);
      }
    }
    PR_CHECK(std::find(ids.begin(), ids.end(), e.run) != ids.end(), ErrorCode::kInvalidArgument,
             "{}: key 'export[{}]': '{}' is not a run of the suite", path, i, e.run);
    for (const SuiteExport& earlier : out)
      PR_CHECK(earlier.file_stem() != e.file_stem(), ErrorCode::kInvalidArgument,
               "{}: key 'export[{}]': {} ({}) is exported twice", path, i, e.run, e.weight_type);
    out.push_back(e);
  }
  return out;
}

// The suite's "probe": each entry {"run": id, "subspaces": [M, ...], "rotation": [false, true], "codewords": K},
// the settings optional (PqProbeRequest's defaults); each run probed once. That the run is a dense
// SASRec whose model.dim each M divides is checked with the configs (repro.cpp); that K fits its
// items, by pq_probe when the stage runs.
std::vector<SuiteProbe> read_probes(const nlohmann::json& list, const std::string& path,
                                    const std::vector<std::string>& ids) {
  PR_CHECK(list.is_array(), ErrorCode::kInvalidArgument, "{}: key 'probe': expected a list", path);
  std::vector<SuiteProbe> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "probe[" + std::to_string(i) + "].";
    PR_CHECK(list[i].is_object(), ErrorCode::kInvalidArgument,
             "{}: key 'probe[{}]': expected {{\"run\", \"subspaces\", \"rotation\", \"codewords\"}}", path, i);
    check_keys(list[i], {"run", "subspaces", "rotation", "codewords"}, path, where);
    SuiteProbe p;
    p.run = get<std::string>(list[i], "run", "", true, path, where);
    // M and K strictly as integers: 8.5 is refused, not rounded.
    auto positive = [](const nlohmann::json& v) { return v.is_number_integer() && v.get<int64_t>() > 0; };
    const nlohmann::json subspaces =
        list[i].contains("subspaces") ? list[i].at("subspaces") : nlohmann::json(p.settings.subspaces);
    PR_CHECK(subspaces.is_array() && !subspaces.empty() && std::all_of(subspaces.begin(), subspaces.end(), positive),
             ErrorCode::kInvalidArgument,
             "{}: key '{}subspaces': expected a non-empty list of positive integers, got {}", path, where,
             subspaces.dump());
    p.settings.subspaces = subspaces.get<std::vector<int64_t>>();
    p.settings.rotations = get<std::vector<bool>>(list[i], "rotation", p.settings.rotations, false, path, where);
    PR_CHECK(!p.settings.rotations.empty(), ErrorCode::kInvalidArgument,
             "{}: key '{}rotation': expected a non-empty list of booleans", path, where);
    const nlohmann::json codewords =
        list[i].contains("codewords") ? list[i].at("codewords") : nlohmann::json(p.settings.codewords);
    PR_CHECK(positive(codewords), ErrorCode::kInvalidArgument,
             "{}: key '{}codewords': expected a positive integer, got {}", path, where, codewords.dump());
    p.settings.codewords = codewords.get<int64_t>();
    PR_CHECK(std::find(ids.begin(), ids.end(), p.run) != ids.end(), ErrorCode::kInvalidArgument,
             "{}: key '{}run': '{}' is not a run of the suite", path, where, p.run);
    for (const SuiteProbe& earlier : out)
      PR_CHECK(earlier.run != p.run, ErrorCode::kInvalidArgument,
               "{}: key 'probe[{}]': '{}' is probed twice (list every setting in one entry)", path, i, p.run);
    out.push_back(p);
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::string>> grid_candidates(const SuiteRun& run) {
  std::vector<std::vector<std::string>> out = {{}};
  for (const auto& [key, values] : run.grid) {
    std::vector<std::vector<std::string>> next;
    for (const auto& prefix : out)
      for (const auto& v : values) {
        next.push_back(prefix);
        next.back().push_back("--" + key + "=" + v);
      }
    out = std::move(next);
  }
  return out;
}

std::string suite_path(const std::string& name_or_path) {
  if (std::filesystem::is_regular_file(name_or_path)) return name_or_path;
  return "configs/repro/" + name_or_path + ".json";
}

Suite read_suite(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  check_keys(j, {"name", "title", "quick", "runs", "export", "probe", "query", "goals", "paper"}, path, "");
  Suite s;
  s.path = path;
  s.name = get<std::string>(j, "name", "", true, path, "");
  PR_CHECK(!s.name.empty() && s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos,
           ErrorCode::kInvalidArgument,
           "{}: key 'name': '{}' must be lower-case letters, digits, '-' or '_' (it names "
           "the results folder)",
           path, s.name);
  s.title = get<std::string>(j, "title", s.name, false, path, "");
  s.quick = get<std::vector<std::string>>(j, "quick", {}, false, path, "");
  PR_CHECK(j.contains("runs") && j["runs"].is_array() && !j["runs"].empty(), ErrorCode::kInvalidArgument,
           "{}: key 'runs': expected a non-empty list of runs", path);
  std::vector<std::string> ids;
  for (size_t i = 0; i < j["runs"].size(); ++i) {
    s.runs.push_back(read_run(j["runs"][i], i, path, s.runs));
    ids.push_back(s.runs.back().id);
  }
  const nlohmann::json goals = j.value("goals", nlohmann::json::array());
  PR_CHECK(goals.is_array(), ErrorCode::kInvalidArgument, "{}: key 'goals': expected a list", path);
  for (size_t i = 0; i < goals.size(); ++i) {
    const std::string where = "goals[" + std::to_string(i) + "].";
    PR_CHECK(goals[i].is_object(), ErrorCode::kInvalidArgument, "{}: key 'goals[{}]': expected an object", path, i);
    check_keys(goals[i], {"model", "metric", "of", "at_least"}, path, where);
    SuiteGoal g{get<std::string>(goals[i], "model", "", true, path, where),
                get<std::string>(goals[i], "metric", "", true, path, where),
                get<std::string>(goals[i], "of", "", true, path, where),
                get<double>(goals[i], "at_least", 1.0, true, path, where)};
    for (const auto& [key, id] : {std::pair{"model", g.model}, std::pair{"of", g.of}})
      PR_CHECK(std::find(ids.begin(), ids.end(), id) != ids.end(), ErrorCode::kInvalidArgument,
               "{}: key '{}{}': '{}' is not a run of the suite", path, where, key, id);
    s.goals.push_back(g);
  }
  if (j.contains("paper")) {
    s.paper = j["paper"];
    PR_CHECK(s.paper.is_object(), ErrorCode::kInvalidArgument, "{}: key 'paper': expected an object", path);
    check_keys(s.paper, {"note", "rows"}, path, "paper.");
    get<std::string>(s.paper, "note", "", true, path, "paper.");
    const auto rows =
        get<std::map<std::string, std::map<std::string, double>>>(s.paper, "rows", {}, true, path, "paper.");
    for (const auto& [id, metrics] : rows)
      PR_CHECK(std::find(ids.begin(), ids.end(), id) != ids.end(), ErrorCode::kInvalidArgument,
               "{}: key 'paper.rows.{}': not a run of the suite", path, id);
  }
  s.exports = read_exports(j.value("export", nlohmann::json::array()), path, ids);
  s.probes = read_probes(j.value("probe", nlohmann::json::array()), path, ids);
  if (j.contains("query")) {
    const nlohmann::json& q = j["query"];
    PR_CHECK(q.is_object(), ErrorCode::kInvalidArgument, "{}: key 'query': expected an object", path);
    check_keys(q, {"run", "history", "k"}, path, "query.");
    s.query.run = get<std::string>(q, "run", "", true, path, "query.");
    PR_CHECK(
        q.contains("history") && q["history"].is_array() &&
            std::all_of(q["history"].begin(), q["history"].end(), [](const auto& v) { return v.is_number_integer(); }),
        ErrorCode::kInvalidArgument, "{}: key 'query.history': expected a list of integer item ids", path);
    s.query.history = q["history"].get<std::vector<int64_t>>();
    PR_CHECK(!q.contains("k") || q["k"].is_number_integer(), ErrorCode::kInvalidArgument,
             "{}: key 'query.k': expected an integer", path);
    s.query.k = q.value("k", int64_t{10});
    PR_CHECK(
        std::any_of(s.exports.begin(), s.exports.end(), [&](const SuiteExport& e) { return e.run == s.query.run; }),
        ErrorCode::kInvalidArgument, "{}: key 'query.run': '{}' is not exported (list it under 'export')", path,
        s.query.run);
    PR_CHECK(s.query.k > 0, ErrorCode::kInvalidArgument, "{}: key 'query.k': must be positive", path);
  }
  return s;
}

}  // namespace pocketrec::app
