// Readers for every input format PocketRec accepts. Each reports a malformed line as
// "<file>:<line>: expected ..., found ..." (ErrorCode::kBadFormat) and never skips lines silently.
//
//   triplet   whitespace "user item [rating] [timestamp]" (column order configurable), e.g. Caser/RD
//             train.txt/test.txt and SASRec's Video.txt
//   checkin   tab-separated "user poi unix_time" (LBSN check-ins)
//   inter     RecBole atomic .inter files with a typed header ("user_id:token item_id:token ...")
//   sequence  "user item item ..." one user per line (S3-Rec / ICLRec files)
//   session   one session per line "item item ..." plus test samples "target<TAB>prefix items"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/id_map.h"
#include "data/sequences.h"

namespace pocketrec::data {

// Interactions as parallel columns; rating and time are empty when the file has none.
struct InteractionTable {
  std::string source;
  IdMap users, items;
  std::vector<int32_t> user, item;
  std::vector<float> rating;
  std::vector<double> time;

  size_t size() const { return user.size(); }
  // Bytes of the columns themselves (what a compact in-memory representation needs).
  size_t compact_bytes() const { return size() * (8 + (rating.empty() ? 0 : 4) + (time.empty() ? 0 : 8)); }
};

// columns: names in order among user, item, rating, timestamp, skip; trailing columns may be absent
// in a line, but the first line fixes how many there are.
InteractionTable read_triplets(const std::string& path, const std::string& columns);
InteractionTable read_checkins(const std::string& path);
InteractionTable read_inter(const std::string& path);
InteractionTable read_user_sequences(const std::string& path);

// Appends the triplets of `path` to `table`, mapping ids through its maps. With
// allow_new_users=false a user absent from the map is an error naming the line.
void append_triplets(InteractionTable& table, const std::string& path, const std::string& columns,
                     bool allow_new_users);

struct SessionData {
  std::string source;
  IdMap items;
  Sequences train;          // training sessions, click order
  Sequences test_prefixes;  // one prefix per test sample
  std::vector<int32_t> test_targets;
  int64_t test_only_items = 0;  // items first seen in the test file (added to the id map)
};
SessionData read_sessions(const std::string& train_path, const std::string& test_path);

}  // namespace pocketrec::data
