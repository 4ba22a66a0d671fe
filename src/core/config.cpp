#include "core/config.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/text.h"

namespace pocketrec {
namespace {

const char* type_name(ConfigType t) {
  switch (t) {
    case ConfigType::kString: return "a string";
    case ConfigType::kInt: return "an integer";
    case ConfigType::kFloat: return "a number";
    case ConfigType::kBool: return "true or false";
    case ConfigType::kIntList: return "a list of integers";
    case ConfigType::kFloatList: return "a list of numbers";
    case ConfigType::kStringList: return "a list of strings";
  }
  return "?";
}

std::vector<std::string> all_keys() {
  std::vector<std::string> keys;
  for (const auto& s : config_spec()) keys.push_back(s.key);
  return keys;
}

[[noreturn]] void unknown_key(const std::string& source, const std::string& key) {
  for (const auto& r : retired_config_keys())
    PR_CHECK(r.key != key, ErrorCode::kInvalidArgument, "{}: key '{}' was retired: {}", source, key, r.replacement);
  auto hint = did_you_mean(key, all_keys());
  PR_FAIL(ErrorCode::kInvalidArgument, "{}: unknown key '{}'{}", source, key,
          hint ? fmt::format(" (did you mean '{}'?)", *hint) : std::string(" (see `pocketrec help config`)"));
}

// Checks one scalar element against the spec; returns a normalised value or throws.
nlohmann::json check_scalar(const ConfigKeySpec& spec, ConfigType scalar, const nlohmann::json& v,
                            const std::string& source) {
  auto bad = [&](const std::string& why) {
    PR_FAIL(ErrorCode::kInvalidArgument, "{}: key '{}': expected {}, got {}", source, spec.key, why, v.dump());
  };
  switch (scalar) {
    case ConfigType::kString:
      if (!v.is_string()) bad(type_name(spec.type));
      if (!spec.choices.empty()) {
        auto s = v.get<std::string>();
        bool ok = false;
        for (const auto& c : spec.choices) ok = ok || c == s;
        if (!ok) {
          std::string list;
          for (const auto& c : spec.choices) list += (list.empty() ? "" : "|") + c;
          bad("one of " + list);
        }
      }
      return v;
    case ConfigType::kBool:
      if (!v.is_boolean()) bad(type_name(spec.type));
      return v;
    case ConfigType::kInt:
    case ConfigType::kFloat: {
      if (!v.is_number()) bad(type_name(spec.type));
      if (scalar == ConfigType::kInt && !v.is_number_integer()) bad(type_name(spec.type));
      double d = v.get<double>();
      if (spec.min && d < *spec.min) bad(fmt::format("{} >= {}", type_name(spec.type), *spec.min));
      if (spec.max && d > *spec.max) bad(fmt::format("{} <= {}", type_name(spec.type), *spec.max));
      return v;
    }
    default: break;
  }
  PR_ASSERT(false, "list type passed as scalar");
}

nlohmann::json check_value(const ConfigKeySpec& spec, const nlohmann::json& v, const std::string& source) {
  ConfigType elem;
  switch (spec.type) {
    case ConfigType::kIntList: elem = ConfigType::kInt; break;
    case ConfigType::kFloatList: elem = ConfigType::kFloat; break;
    case ConfigType::kStringList: elem = ConfigType::kString; break;
    default: return check_scalar(spec, spec.type, v, source);
  }
  PR_CHECK(v.is_array(), ErrorCode::kInvalidArgument, "{}: key '{}': expected {}, got {}", source, spec.key,
           type_name(spec.type), v.dump());
  for (const auto& e : v) check_scalar(spec, elem, e, source);
  return v;
}

void flatten(const nlohmann::json& obj, const std::string& prefix, std::map<std::string, nlohmann::json>& out,
             const std::string& source) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().is_object()) {
      flatten(it.value(), key, out, source);
    } else {
      if (out.count(key)) PR_FAIL(ErrorCode::kInvalidArgument, "{}: key '{}' is given twice", source, key);
      out[key] = it.value();
    }
  }
}

}  // namespace

const ConfigKeySpec* find_config_key(const std::string& key) {
  for (const auto& s : config_spec())
    if (s.key == key) return &s;
  return nullptr;
}

Config::Config() {
  for (const auto& s : config_spec()) values_[s.key] = s.default_value;
}

Config Config::from_json(const nlohmann::json& object, const std::string& source) {
  PR_CHECK(object.is_object(), ErrorCode::kInvalidArgument, "{}: expected a JSON object at the top level", source);
  Config c;
  std::map<std::string, nlohmann::json> flat;
  flatten(object, "", flat, source);
  for (const auto& [k, v] : flat) c.set(k, v, source);
  return c;
}

nlohmann::json read_json_file(const std::string& path) {
  PR_CHECK(std::filesystem::is_regular_file(path), ErrorCode::kInvalidArgument, "{}: cannot open the file", path);
  const std::string text = read_file(path);
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto cb = [&](int /*depth*/, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    if (ev == nlohmann::json::parse_event_t::object_start) open_objects.emplace_back();
    if (ev == nlohmann::json::parse_event_t::object_end) open_objects.pop_back();
    if (ev == nlohmann::json::parse_event_t::key && !open_objects.empty()) {
      auto k = parsed.get<std::string>();
      if (!open_objects.back().insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, cb, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::parse_error& e) {
    PR_FAIL(ErrorCode::kInvalidArgument, "{}: invalid JSON: {}", path, e.what());
  }
  PR_CHECK(duplicate.empty(), ErrorCode::kInvalidArgument, "{}: key '{}' is given twice", path, duplicate);
  PR_CHECK(j.is_object(), ErrorCode::kInvalidArgument, "{}: expected a JSON object at the top level", path);
  return j;
}

namespace {

// The file's settings over those of the file it extends (recursively): a base file holds what
// several configs share (data, split, evaluation protocol), so none of them repeats it.
void apply_file(Config& c, const std::string& path, std::vector<std::string>& chain) {
  const std::string canonical = std::filesystem::weakly_canonical(path).string();
  for (const auto& seen : chain)
    PR_CHECK(seen != canonical, ErrorCode::kInvalidArgument, "{}: 'extends' forms a cycle through {}", path, seen);
  chain.push_back(canonical);
  nlohmann::json j = read_json_file(path);
  if (j.contains("extends")) {
    PR_CHECK(j["extends"].is_string(), ErrorCode::kInvalidArgument, "{}: key 'extends': expected a file name, got {}",
             path, j["extends"].dump());
    const std::filesystem::path base = std::filesystem::path(path).parent_path() / j["extends"].get<std::string>();
    apply_file(c, base.string(), chain);
    j.erase("extends");
  }
  std::map<std::string, nlohmann::json> flat;
  flatten(j, "", flat, path);
  for (const auto& [k, v] : flat) c.set(k, v, path);
}

}  // namespace

std::pair<std::string, std::string> parse_override(const std::string& text) {
  std::string s = text;
  while (!s.empty() && s[0] == '-') s.erase(0, 1);
  const auto eq = s.find('=');
  PR_CHECK(eq != std::string::npos && eq > 0, ErrorCode::kInvalidArgument, "command line: '{}': expected --key=value",
           text);
  return {s.substr(0, eq), s.substr(eq + 1)};
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  Config c;
  if (!path.empty()) {
    std::vector<std::string> chain;
    apply_file(c, path, chain);
  }
  for (const auto& o : overrides) {
    const auto [key, value] = parse_override(o);
    c.set_from_text(key, value, "command line");
  }
  return c;
}

void Config::set(const std::string& key, const nlohmann::json& value, const std::string& source) {
  const ConfigKeySpec* spec = find_config_key(key);
  if (spec == nullptr) unknown_key(source, key);
  nlohmann::json v = value;
  // Integers are valid floats; lists may be written as a single element.
  if (spec->type == ConfigType::kFloat && v.is_number_integer()) v = v.get<double>();
  values_[key] = check_value(*spec, v, source);
}

void Config::set_from_text(const std::string& key, const std::string& text, const std::string& source) {
  const ConfigKeySpec* spec = find_config_key(key);
  if (spec == nullptr) unknown_key(source, key);
  auto scalar = [&](ConfigType t, const std::string& s) -> nlohmann::json {
    switch (t) {
      case ConfigType::kInt:
        if (auto v = parse_int(s)) return *v;
        break;
      case ConfigType::kFloat:
        if (auto v = parse_double(s)) return *v;
        break;
      case ConfigType::kBool:
        if (s == "true" || s == "1") return true;
        if (s == "false" || s == "0") return false;
        break;
      default: return s;
    }
    PR_FAIL(ErrorCode::kInvalidArgument, "{}: key '{}': expected {}, got '{}'", source, key, type_name(spec->type), s);
  };
  nlohmann::json v;
  switch (spec->type) {
    case ConfigType::kIntList:
    case ConfigType::kFloatList:
    case ConfigType::kStringList: {
      ConfigType e = spec->type == ConfigType::kIntList     ? ConfigType::kInt
                     : spec->type == ConfigType::kFloatList ? ConfigType::kFloat
                                                            : ConfigType::kString;
      v = nlohmann::json::array();
      if (!text.empty())
        for (const auto& part : split(text, ',')) v.push_back(scalar(e, std::string(trim(part))));
      break;
    }
    default: v = scalar(spec->type, text);
  }
  values_[key] = check_value(*spec, v, source);
}

const nlohmann::json& Config::get(const std::string& key, ConfigType type) const {
  const ConfigKeySpec* spec = find_config_key(key);
  PR_ASSERT(spec != nullptr, "unknown config key '{}' read by the code", key);
  PR_ASSERT(spec->type == type, "config key '{}' read with the wrong type", key);
  return values_.at(key);
}

std::string Config::str(const std::string& key) const {
  return get(key, ConfigType::kString).get<std::string>();
}
int64_t Config::integer(const std::string& key) const {
  return get(key, ConfigType::kInt).get<int64_t>();
}
double Config::number(const std::string& key) const {
  return get(key, ConfigType::kFloat).get<double>();
}
bool Config::boolean(const std::string& key) const {
  return get(key, ConfigType::kBool).get<bool>();
}
std::vector<int64_t> Config::integers(const std::string& key) const {
  return get(key, ConfigType::kIntList).get<std::vector<int64_t>>();
}
std::vector<double> Config::numbers(const std::string& key) const {
  return get(key, ConfigType::kFloatList).get<std::vector<double>>();
}
std::vector<std::string> Config::strings(const std::string& key) const {
  return get(key, ConfigType::kStringList).get<std::vector<std::string>>();
}

nlohmann::json Config::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : values_) {
    nlohmann::json* node = &out;
    auto parts = split(key, '.');
    for (size_t i = 0; i + 1 < parts.size(); ++i) node = &(*node)[parts[i]];
    (*node)[parts.back()] = value;
  }
  return out;
}

std::string config_reference_markdown() {
  std::string md =
      "# Configuration reference\n\n"
      "Generated by `pocketrec help config` from `src/core/config_spec.cpp` (a test keeps this file in sync).\n"
      "Precedence: built-in defaults < the `--config` JSON file (nested objects or dotted keys; `//` comments allowed)"
      " < `--key=value` on the command line. Unknown or duplicated keys are errors.\n\n"
      "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& s : config_spec()) {
    std::string doc = s.doc;
    if (!s.choices.empty()) {
      std::string list;
      for (const auto& c : s.choices) list += (list.empty() ? "`" : ", `") + c + "`";
      doc += " One of " + list + ".";
    }
    md += fmt::format("| `{}` | {} | `{}` | {} |\n", s.key, type_name(s.type), s.default_value.dump(), doc);
  }
  return md;
}

}  // namespace pocketrec
