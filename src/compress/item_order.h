// Teacher-guided item order for a semi-tensor-train item table (config model.stt_item_order = teacher).
//
// In the canonical layout slot s = g * C + c (C = n_rows / I_1) reads its row through core 0's slice
// g, shared by the C slots of group g, and through the later cores' slices of c, shared by the slots
// at position c of every group. Item ids carry no similarity, so under the identity order (item v at
// slot v) each group holds unrelated items. This order puts the items the teacher's table places
// near each other into one group (balanced k-means into I_1 groups of C) and aligns positions across
// groups (items at one position have similar offsets from their groups' means), so that
//   E[v] ≈ group_mean[g(v)] + position_mean[c(v)]
// holds as well as it can. For 2 cores that additive part of the table has TT rank <= J_1 + J_2
// (24 of Tmall's 60), so the cores can hold it and spend the rest of the rank on the interactions.
// The shapes, hence the parameter count, do not change.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "compress/stt_shape.h"

namespace pocketrec::compress {

struct ItemOrder {
  // A permutation of [0, n_rows): item v's row is slot slot_of_item[v]; the entries from n_items on
  // place the padding rows (never scored).
  std::vector<int64_t> slot_of_item;
  double explained_identity = 0;  // additive_fit() of the teacher table under the identity order
  double explained = 0;           // ... and under slot_of_item
};

// table: the teacher's item rows [n_items, d] (n_items <= shape.n_rows()). Deterministic for a seed.
ItemOrder teacher_guided_item_order(const torch::Tensor& table, const SttShape& shape, uint64_t seed,
                                    int iterations = 10);

// The fraction of the variance of the rows of `table` [n_items, d] explained by group means plus
// position means (slot = group * capacity + position), fitted in that order: 0 = none, 1 = all.
double additive_fit(const torch::Tensor& table, const std::vector<int64_t>& slot_of_item, int64_t capacity);

// Assigns each row of cost [n, G] to a column, at most `capacity` rows per column (n <= G * capacity),
// greedily by ascending cost over all (row, column) pairs. Returns the column of each row.
std::vector<int64_t> balanced_assignment(const torch::Tensor& cost, int64_t capacity);

}  // namespace pocketrec::compress
