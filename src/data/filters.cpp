#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "data/dataset.h"
#include "data/readers.h"

namespace pocketrec::data {

UserSequences group_by_user(const InteractionTable& table, const std::vector<bool>* keep) {
  const size_t n = table.size();
  const int32_t n_users = table.users.size();
  // Counting sort by user: stable, O(n), one index array.
  std::vector<int64_t> start(static_cast<size_t>(n_users) + 1, 0);
  for (size_t i = 0; i < n; ++i)
    if (!keep || (*keep)[i]) ++start[table.user[i] + 1];
  for (int32_t u = 0; u < n_users; ++u) start[u + 1] += start[u];
  std::vector<int64_t> order(static_cast<size_t>(start[n_users]));
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (size_t i = 0; i < n; ++i)
      if (!keep || (*keep)[i]) order[fill[table.user[i]]++] = static_cast<int64_t>(i);
  }
  if (!table.time.empty()) {
    for (int32_t u = 0; u < n_users; ++u)
      std::stable_sort(order.begin() + start[u], order.begin() + start[u + 1],
                       [&](int64_t a, int64_t b) { return table.time[a] < table.time[b]; });
  }
  UserSequences out;
  out.users = table.users;
  out.items = table.items;
  out.seqs.items.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) out.seqs.items[i] = table.item[order[i]];
  out.seqs.offsets.assign(start.begin(), start.end());
  return out;
}

namespace {
// Keeps positions with alive[i]; drops users and items left without interactions and renumbers.
void compact(UserSequences& data, const std::vector<bool>& alive) {
  const int32_t n_users = data.users.size(), n_items = data.items.size();
  std::vector<bool> user_kept(n_users, false), item_kept(n_items, false);
  for (int32_t u = 0; u < n_users; ++u)
    for (int64_t p = data.seqs.offsets[u]; p < data.seqs.offsets[u + 1]; ++p)
      if (alive[p]) user_kept[u] = item_kept[data.seqs.items[p]] = true;
  // Items are renumbered in order of first appearance in the surviving data, users in id order.
  std::vector<int32_t> item_new(n_items, -1);
  IdMap items;
  Sequences seqs;
  seqs.items.reserve(data.seqs.items.size());
  for (int32_t u = 0; u < n_users; ++u) {
    if (!user_kept[u]) continue;
    for (int64_t p = data.seqs.offsets[u]; p < data.seqs.offsets[u + 1]; ++p) {
      if (!alive[p]) continue;
      int32_t i = data.seqs.items[p];
      if (item_new[i] < 0) item_new[i] = items.get_or_add(data.items.token(i));
      seqs.items.push_back(item_new[i]);
    }
    seqs.offsets.push_back(static_cast<int64_t>(seqs.items.size()));
  }
  data.users = data.users.filtered(user_kept);
  data.items = std::move(items);
  data.seqs = std::move(seqs);
}
}  // namespace

int64_t dedup_first(UserSequences& data) {
  std::vector<bool> alive(data.seqs.total(), true);
  std::vector<int32_t> last_seen(data.items.size(), -1);
  int64_t removed = 0;
  for (size_t u = 0; u < data.seqs.size(); ++u)
    for (int64_t p = data.seqs.offsets[u]; p < data.seqs.offsets[u + 1]; ++p) {
      int32_t i = data.seqs.items[p];
      if (last_seen[i] == static_cast<int32_t>(u)) {
        alive[p] = false;
        ++removed;
      }
      last_seen[i] = static_cast<int32_t>(u);
    }
  if (removed > 0) compact(data, alive);
  return removed;
}

int64_t k_core(UserSequences& data, int64_t user_k, int64_t item_k) {
  if (user_k <= 1 && item_k <= 1) return 0;
  const size_t n_users = data.seqs.size();
  std::vector<bool> alive(data.seqs.total(), true);
  std::vector<int64_t> user_count(n_users), item_count(data.items.size());
  int64_t removed = 0;
  for (bool changed = true; changed;) {
    changed = false;
    std::fill(user_count.begin(), user_count.end(), 0);
    std::fill(item_count.begin(), item_count.end(), 0);
    for (size_t u = 0; u < n_users; ++u)
      for (int64_t p = data.seqs.offsets[u]; p < data.seqs.offsets[u + 1]; ++p)
        if (alive[p]) ++user_count[u], ++item_count[data.seqs.items[p]];
    for (size_t u = 0; u < n_users; ++u)
      for (int64_t p = data.seqs.offsets[u]; p < data.seqs.offsets[u + 1]; ++p)
        if (alive[p] && (user_count[u] < user_k || item_count[data.seqs.items[p]] < item_k)) {
          alive[p] = false;
          ++removed;
          changed = true;
        }
  }
  if (removed > 0) compact(data, alive);
  return removed;
}

}  // namespace pocketrec::data
