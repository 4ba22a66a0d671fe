// A named table of components (models, distillation methods, exporters): each is added by one
// registration with a name and a one-line description, and looked up by name with a did-you-mean
// error for typos (the xgboost/LightGBM registry pattern). Capabilities are declared by what an
// entry registers, never discovered by casting what it returns.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/text.h"

namespace pocketrec {

// Entry: any struct with `std::string name` and `std::string description`.
template <typename Entry>
class Registry {
 public:
  // kind names the entries in messages ("model"); key names the setting that selects one
  // ("model.name"), so an unknown name is reported as a configuration error of that key.
  Registry(std::string kind, std::string key, std::string list_command)
      : kind_(std::move(kind)), key_(std::move(key)), list_command_(std::move(list_command)) {}

  void add(Entry entry) {
    for (const auto& e : entries_) PR_ASSERT(e.name != entry.name, "{} '{}' registered twice", kind_, entry.name);
    entries_.push_back(std::move(entry));
  }

  bool contains(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return true;
    return false;
  }

  const Entry& get(const std::string& name) const {
    std::vector<std::string> names;
    for (const auto& e : entries_) {
      if (e.name == name) return e;
      names.push_back(e.name);
    }
    const auto hint = did_you_mean(name, names);
    PR_FAIL(ErrorCode::kInvalidArgument, "{}: unknown {} '{}'{}", key_, kind_, name,
            hint ? fmt::format(" (did you mean '{}'?)", *hint) : fmt::format(" (see `{}`)", list_command_));
  }

  const std::vector<Entry>& all() const { return entries_; }

 private:
  std::string kind_, key_, list_command_;
  std::vector<Entry> entries_;
};

}  // namespace pocketrec
