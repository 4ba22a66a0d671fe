// Experiment configuration: one table of keys (config_spec.cpp) drives parsing, validation,
// `pocketrec help config` and docs/config.md.
//
// Precedence: built-in defaults < the file a config extends < config file (JSON, comments allowed)
// < --key=value overrides.
// An unknown key, a duplicated key or a value of the wrong type/range is an error that names the
// file (or "command line") and the key, with a did-you-mean suggestion for typos.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace pocketrec {

enum class ConfigType { kString, kInt, kFloat, kBool, kIntList, kFloatList, kStringList };

struct ConfigKeySpec {
  std::string key;  // dotted: "train.lr"
  ConfigType type;
  nlohmann::json default_value;
  std::string doc;
  std::vector<std::string> choices;  // allowed values of a string / string-list key (empty: any)
  std::optional<double> min;         // inclusive lower bound of numbers (and list elements)
  std::optional<double> max;         // inclusive upper bound
};

const std::vector<ConfigKeySpec>& config_spec();
// Retired keys and what replaces them: a config using one is refused with that text.
struct RetiredConfigKey {
  std::string key, replacement;
};
const std::vector<RetiredConfigKey>& retired_config_keys();
const ConfigKeySpec* find_config_key(const std::string& key);
std::string config_reference_markdown();  // the content of docs/config.md

// "--key=value" (or "key=value") -> {key, value}; Error(kInvalidArgument) quoting the text otherwise.
std::pair<std::string, std::string> parse_override(const std::string& text);

// A JSON file with // comments (configs, repro suites) as an object. Error(kInvalidArgument) naming
// the file if it is missing, not JSON, not an object, or gives a key twice in one object (JSON
// parsers silently keep the last one).
nlohmann::json read_json_file(const std::string& path);

class Config {
 public:
  Config();  // all defaults
  // Reads `path` (may be empty: defaults only), then applies "key=value" / "--key=value" overrides.
  // A file may name another in a top-level "extends" (relative to its own folder), whose settings
  // its own then override.
  static Config load(const std::string& path, const std::vector<std::string>& overrides);
  static Config from_json(const nlohmann::json& object, const std::string& source);

  void set(const std::string& key, const nlohmann::json& value, const std::string& source);
  void set_from_text(const std::string& key, const std::string& text, const std::string& source);

  std::string str(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::vector<int64_t> integers(const std::string& key) const;
  std::vector<double> numbers(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;

  nlohmann::json to_json() const;  // nested object with every key (the resolved config)

 private:
  const nlohmann::json& get(const std::string& key, ConfigType type) const;
  std::map<std::string, nlohmann::json> values_;
};

}  // namespace pocketrec
