// Top-k in one pass over the scores with a k-slot min-heap held in the caller's output arrays
// (no allocation). Ties go to the smaller index, so results never depend on scan order; -inf
// scores (excluded items) are never returned.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace pocketrec::runtime {

// Writes up to k (index, score) pairs, best first; returns how many.
inline size_t top_k(const float* scores, size_t n, size_t k, int64_t* idx, float* val) {
  if (k == 0) return 0;
  // `worse(a, b)`: a ranks below b.
  auto worse = [&](size_t a, size_t b) { return val[a] < val[b] || (val[a] == val[b] && idx[a] > idx[b]); };
  auto sift_down = [&](size_t i, size_t size) {
    for (;;) {
      size_t l = 2 * i + 1, m = i;
      if (l < size && worse(l, m)) m = l;
      if (l + 1 < size && worse(l + 1, m)) m = l + 1;
      if (m == i) return;
      std::swap(idx[i], idx[m]);
      std::swap(val[i], val[m]);
      i = m;
    }
  };
  size_t size = 0;
  auto offer = [&](size_t v) {
    const float s = scores[v];
    if (s == -INFINITY || std::isnan(s)) return;
    if (size < k) {  // sift up
      size_t i = size++;
      idx[i] = static_cast<int64_t>(v);
      val[i] = s;
      while (i > 0 && worse(i, (i - 1) / 2)) {
        std::swap(idx[i], idx[(i - 1) / 2]);
        std::swap(val[i], val[(i - 1) / 2]);
        i = (i - 1) / 2;
      }
    } else if (s > val[0]) {  // equal scores keep the earlier (smaller) index already held
      idx[0] = static_cast<int64_t>(v);
      val[0] = s;
      sift_down(0, size);
    }
  };
  size_t v = 0;
  for (; v < n && size < k; ++v) offer(v);
  // With k items held, a score enters only if it is above the worst held (val[0]), which few are:
  // a block of 16 scores is offered only when one of them is (NaN never is), tested four at a time
  // with the GCC / Clang vector extension (SSE2, NEON). Item by item, the branches took about a
  // sixth of a query's time.
  typedef float f32x4 __attribute__((vector_size(16)));
  typedef int32_t i32x4 __attribute__((vector_size(16)));
  constexpr size_t kBlock = 16;
  for (; v + kBlock <= n; v += kBlock) {
    const float w = val[0];
    const f32x4 worst = {w, w, w, w};
    i32x4 above = {};
    for (size_t j = 0; j < kBlock; j += 4) {
      f32x4 x;
      std::memcpy(&x, scores + v + j, sizeof x);
      above |= x > worst;
    }
    if (above[0] | above[1] | above[2] | above[3])
      for (size_t j = 0; j < kBlock; ++j) offer(v + j);
  }
  for (; v < n; ++v) offer(v);
  // Heap sort in place: repeatedly move the worst to the end.
  for (size_t end = size; end > 1; --end) {
    std::swap(idx[0], idx[end - 1]);
    std::swap(val[0], val[end - 1]);
    sift_down(0, end - 1);
  }
  return size;
}

}  // namespace pocketrec::runtime
