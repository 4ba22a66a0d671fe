#include "compress/stt_shape.h"

#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "core/error.h"

namespace pocketrec::compress {

int64_t SttShape::n_rows() const {
  int64_t n = 1;
  for (int64_t i : items) n *= i;
  return n;
}

int64_t SttShape::dim() const {
  int64_t n = 1;
  for (int64_t j : dims) n *= j;
  return n;
}

std::pair<int64_t, int64_t> SttShape::core_shape(size_t k) const {
  if (k == 0) return {items[0] * dims[0], rank};
  const int64_t out_rank = k + 1 == n_cores() ? 1 : rank;
  return {rank / t, items[k] * dims[k] * out_rank / t};
}

int64_t SttShape::n_parameters() const {
  int64_t n = 0;
  for (size_t k = 0; k < n_cores(); ++k) {
    auto [r, c] = core_shape(k);
    n += r * c;
  }
  return n;
}

void SttShape::validate(int64_t n_items, int64_t d, const std::string& what) const {
  PR_CHECK(items.size() == dims.size() && (items.size() == 2 || items.size() == 3), ErrorCode::kInvalidArgument,
           "{}: expected 2 or 3 item factors and as many dimension factors, got {} and {}", what, items.size(),
           dims.size());
  for (size_t k = 0; k < items.size(); ++k)
    PR_CHECK(items[k] >= 1 && dims[k] >= 1, ErrorCode::kInvalidArgument, "{}: factors must be positive ({})", what,
             to_string());
  PR_CHECK(rank >= 1 && t >= 1, ErrorCode::kInvalidArgument, "{}: rank and t must be positive ({})", what, to_string());
  PR_CHECK(rank % t == 0, ErrorCode::kInvalidArgument, "{}: t = {} must divide the rank {}", what, t, rank);
  PR_CHECK(dims.back() % t == 0, ErrorCode::kInvalidArgument, "{}: t = {} must divide the last dimension factor {}",
           what, t, dims.back());
  PR_CHECK(n_rows() >= n_items, ErrorCode::kInvalidArgument,
           "{}: the item factors give {} rows, fewer than the {} items", what, n_rows(), n_items);
  PR_CHECK(dim() == d, ErrorCode::kInvalidArgument, "{}: the dimension factors multiply to {}, not model.dim = {}",
           what, dim(), d);
}

std::string SttShape::to_string() const {
  return fmt::format("[[{}],[{}]] R={} t={} {}", fmt::join(items, ","), fmt::join(dims, ","), rank, t,
                     layout == SttLayout::kCanonical ? "canonical" : "flat");
}

SttShape SttShape::choose(int64_t n_items, int64_t d, int64_t rank, int64_t t, size_t n_cores, SttLayout layout) {
  PR_CHECK(n_cores == 2 || n_cores == 3, ErrorCode::kInvalidArgument, "STT: 2 or 3 cores, not {}", n_cores);
  SttShape s;
  s.rank = rank;
  s.t = t;
  s.layout = layout;
  // Items: K-1 equal factors floor(n^(1/K)), the last one rounded up to cover n_items.
  const auto root = static_cast<int64_t>(std::floor(std::pow(static_cast<double>(n_items), 1.0 / n_cores) + 1e-9));
  int64_t prod = 1;
  for (size_t k = 0; k + 1 < n_cores; ++k) s.items.push_back(std::max<int64_t>(root, 1)), prod *= s.items.back();
  s.items.push_back((n_items + prod - 1) / prod);
  // Dimensions: the most balanced non-increasing factorisation with t | J_K.
  std::vector<int64_t> best, cur;
  double best_spread = 1e300;
  std::function<void(int64_t, size_t)> search = [&](int64_t rest, size_t k) {
    if (k + 1 == n_cores) {
      if (rest % t != 0 || (!cur.empty() && rest > cur.back())) return;
      cur.push_back(rest);
      double lo = 1e300, hi = 0;
      for (int64_t j : cur) lo = std::min(lo, static_cast<double>(j)), hi = std::max(hi, static_cast<double>(j));
      if (hi / lo < best_spread) best_spread = hi / lo, best = cur;
      cur.pop_back();
      return;
    }
    for (int64_t j = rest; j >= 1; --j) {
      if (rest % j != 0 || (!cur.empty() && j > cur.back())) continue;
      cur.push_back(j);
      search(rest / j, k + 1);
      cur.pop_back();
    }
  };
  search(d, 0);
  PR_CHECK(!best.empty(), ErrorCode::kInvalidArgument,
           "STT: no factorisation of d = {} into {} factors with t = {} "
           "dividing the last",
           d, n_cores, t);
  s.dims = best;
  s.validate(n_items, d, "STT");
  return s;
}

SttLayout parse_stt_layout(const std::string& name) {
  if (name == "canonical") return SttLayout::kCanonical;
  if (name == "flat") return SttLayout::kFlat;
  PR_FAIL(ErrorCode::kInvalidArgument, "STT layout: expected canonical or flat, got '{}'", name);
}

}  // namespace pocketrec::compress
