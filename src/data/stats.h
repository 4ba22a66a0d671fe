// `pocketrec data stats`: counts of a dataset as loaded (before any filter or split), to compare
// with the dataset's README.
#pragma once

#include <cstdint>
#include <string>

namespace pocketrec::data {

struct DataStats {
  std::string path, format;
  bool sessions = false;     // true: "users" are training sessions
  int64_t users = 0;         // users, or training sessions
  int64_t items = 0;         // distinct items in the (training) interactions
  int64_t interactions = 0;  // lines / clicks
  double avg_length = 0;     // interactions per user (or session)
  int64_t min_length = 0, max_length = 0;
  int64_t test_samples = -1;    // session / presplit only
  int64_t test_only_items = 0;  // items that occur only in the test file
  std::string to_markdown() const;
};

DataStats compute_stats(const std::string& path, const std::string& format, const std::string& columns);

}  // namespace pocketrec::data
