// Small string helpers used by parsers and the config system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pocketrec {

std::vector<std::string_view> split_whitespace(std::string_view line);
std::vector<std::string> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);
std::optional<int64_t> parse_int(std::string_view s);
std::optional<double> parse_double(std::string_view s);
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` by edit distance, if close enough to be a plausible typo.
std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
std::string read_file(const std::string& path);  // whole file; Error(kNotFound/kIo) naming the path

}  // namespace pocketrec
