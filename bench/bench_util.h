#pragma once

#include <cstddef>

namespace pocketrec::bench {
// Peak resident set size of this process so far (getrusage), in bytes.
size_t peak_rss_bytes();
// Current resident set size (from /proc/self/statm), in bytes.
size_t current_rss_bytes();
}  // namespace pocketrec::bench
