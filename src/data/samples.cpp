#include "data/samples.h"

#include <algorithm>

#include "core/error.h"

namespace pocketrec::data {

SampleIndex make_next_item_samples(const Sequences& seqs, int64_t min_context) {
  SampleIndex s;
  size_t n = 0;
  for (size_t i = 0; i < seqs.size(); ++i)
    n += seqs.length(i) > static_cast<size_t>(min_context) ? seqs.length(i) - min_context : 0;
  s.seq.reserve(n);
  s.pos.reserve(n);
  for (size_t i = 0; i < seqs.size(); ++i)
    for (int64_t p = seqs.offsets[i] + min_context; p < seqs.offsets[i + 1]; ++p) {
      s.seq.push_back(static_cast<int32_t>(i));
      s.pos.push_back(p);
    }
  return s;
}

SampleIndex make_window_samples(const Sequences& seqs, int64_t L, int64_t T) {
  PR_CHECK(L >= 1 && T >= 1, ErrorCode::kInvalidArgument, "window sizes must be >= 1 (L={}, T={})", L, T);
  SampleIndex s;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int64_t b = seqs.offsets[i], e = seqs.offsets[i + 1], c = e - b;
    if (c <= T) continue;
    if (c < L + T) {
      s.seq.push_back(static_cast<int32_t>(i));
      s.pos.push_back(e - T);
      continue;
    }
    for (int64_t p = b + L; p <= e - T; ++p) {
      s.seq.push_back(static_cast<int32_t>(i));
      s.pos.push_back(p);
    }
  }
  return s;
}

Sequences distinct_sorted(const Sequences& seqs) {
  Sequences out;
  out.items.reserve(seqs.total());
  std::vector<int32_t> v;
  for (size_t s = 0; s < seqs.size(); ++s) {
    v.assign(seqs[s].begin(), seqs[s].end());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    out.append(v);
  }
  return out;
}

void gather_window(const Sequences& seqs, const SampleIndex& samples, size_t i, int64_t L, int32_t pad, int64_t* out) {
  const int64_t start = seqs.offsets[samples.seq[i]], pos = samples.pos[i];
  for (int64_t j = 0; j < L; ++j) {
    int64_t p = pos - L + j;
    out[j] = p >= start ? seqs.items[p] : pad;
  }
}

}  // namespace pocketrec::data
