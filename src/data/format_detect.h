// Works out which reader a path needs. A folder is recognised by its files:
//   train_sessions*.txt + test_samples*.tsv -> session    *_checkins.txt / *checkins*.txt -> checkin
//   *.inter -> inter      train.txt + test.txt -> presplit (triplets)
//   otherwise its single data .txt file (pickles and README are ignored; *.seq*.txt preferred),
//   sniffed: lines with more than 4 fields -> sequence, else triplet.
#pragma once

#include <string>

namespace pocketrec::data {

struct DataSource {
  std::string format;     // triplet | checkin | inter | sequence | session | presplit
  std::string path;       // main (or training) file
  std::string test_path;  // session and presplit only
};

// format == "auto" detects; any other value is taken as given (the files are still located).
DataSource resolve_data_source(const std::string& path, const std::string& format);

}  // namespace pocketrec::data
