// The runtime's product-quantised tables: scoring from codes against the dense product of the
// rebuilt table, the pruned top-k against the full scan, refusal of bad codes and shapes, and the
// format version a PQ file needs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "item_scorer.h"
#include "pocket_file.h"
#include "pocketrec/pocketrec.h"
#include "runtime/loaded_model.h"
#include "runtime/tiny_pocket.h"
#include "simd/kernel_table.h"
#include "topk.h"

using namespace pocketrec;
using pocketrec::testing::Loaded;
using pocketrec::testing::reseal;
using pocketrec::testing::TinySasRec;
// A product-quantised table scored from its codes through the lookup table equals the dense product
// with the table rebuilt from the same codes (codewords gathered by hand here), with and without a
// rotation; the fp32 and int8 table modes rebuild the same rows; the history rows are the rebuilt rows.
TEST(PqScoring, LookupTableEqualsTheDenseProductOfTheRebuiltTable) {
  for (const int64_t K : {int64_t{8}, int64_t{40}})  // the 4-bit block scan (K <= 16) and the byte scan
    for (bool rotation : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "K=" << K << " rotation=" << rotation);
      TinySasRec spec;
      spec.pq = true, spec.pq_rotation = rotation, spec.M = 4, spec.K = K;
      const std::string bytes = spec.bytes();
      Loaded codes(bytes, POCKETREC_SCORING_CORES), fp32(bytes, POCKETREC_SCORING_FP32_TABLE),
          autom(bytes, POCKETREC_SCORING_AUTO);
      ASSERT_EQ(codes.status, POCKETREC_STATUS_OK) << codes.error;
      ASSERT_EQ(fp32.status, POCKETREC_STATUS_OK) << fp32.error;
      const std::vector<int64_t> h = {1000, 1070, 1007};
      const std::vector<float> a = codes.scores(h), b = fp32.scores(h), c = autom.scores(h);
      EXPECT_EQ(a, c);  // auto = scoring from the codes
      for (size_t v = 0; v < a.size(); ++v) EXPECT_NEAR(a[v], b[v], 1e-5) << "rotation " << rotation << " item " << v;
      // The rebuilt rows by hand: row(v) = [codebook[m][code[v][m]]] R.
      runtime::PocketFile f;
      ASSERT_TRUE(
          runtime::PocketFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t", &f).ok());
      const runtime::TensorView *cb = nullptr, *cd = nullptr;
      ASSERT_TRUE(f.get_tensor("pq_item.codebooks", {4, static_cast<uint64_t>(K), 2}, &cb).ok());
      ASSERT_TRUE(f.get_tensor("pq_item.codes", format::TensorType::kU8, {30, 4}, &cd).ok());
      const float* C = reinterpret_cast<const float*>(cb->data);
      const uint8_t* code = cd->data;
      std::vector<double> row(8);
      for (int64_t v : {0, 13, 29}) {
        for (int64_t m = 0; m < 4; ++m)
          for (int64_t j = 0; j < 2; ++j) row[m * 2 + j] = C[(m * K + code[v * 4 + m]) * 2 + j];
        if (rotation) {  // the writer's rotation maps (x_j, x_j+1) to (-x_j+1, x_j)
          for (int64_t j = 0; j < 8; j += 2) {
            const double x = row[j], y = row[j + 1];
            row[j] = -y, row[j + 1] = x;
          }
        }
        runtime::PqTable pq{4, K, 2, C, code, nullptr};
        std::vector<float> plain(8);
        pq.row(v, plain.data());
        if (!rotation)
          for (int64_t j = 0; j < 8; ++j) EXPECT_EQ(plain[j], row[j]);
        const std::vector<float> table = runtime::ItemScorer::rebuild_table(pq, 30, 8);
        if (!rotation) EXPECT_EQ(std::vector<float>(table.begin() + v * 8, table.begin() + v * 8 + 8), plain);
      }
    }
}

// The scorer over 100 items (three whole blocks of the 4-bit scan and a partial fourth) at K = 5 and
// K = 16 (a LUT row with and without zero padding) and at K = 17 (the byte scan): scores equal the
// sums of the codewords' dot products with q in double; the scorer's own copies (the codebooks
// transposed, the codes re-laid out) count in owned_bytes() and the 4-bit scan's whole blocks in
// output_floats().
TEST(PqScoring, ScorerOverSeveralBlocksEqualsTheCodewordSums) {
  const int64_t n = 100, M = 3, s = 2, d = M * s;
  for (const int64_t K : {int64_t{5}, int64_t{16}, int64_t{17}}) {
    SCOPED_TRACE(::testing::Message() << "K=" << K);
    std::mt19937 rng(static_cast<uint32_t>(K));
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> books(static_cast<size_t>(M * K * s)), q(static_cast<size_t>(d));
    for (float& x : books) x = u(rng);
    for (float& x : q) x = u(rng);
    std::vector<uint8_t> codes(static_cast<size_t>(n * M));
    for (uint8_t& c : codes) c = static_cast<uint8_t>(rng() % static_cast<uint32_t>(K));
    runtime::PqTable pq{M, K, s, books.data(), codes.data(), nullptr};
    runtime::ItemScorer scorer;
    ASSERT_TRUE(scorer.init_pq(pq, n, d).ok());
    const bool blocks = K <= 16 && runtime::kernels().pq_scan16 != nullptr;
    const bool bytes64 = K > 16 && runtime::kernels().pq_scan_u8 != nullptr;
    EXPECT_EQ(scorer.output_floats(), blocks ? 128u : 100u);
    // The transposed codebooks, and 4 blocks x M sub-spaces x 16 bytes; for top_k's pruned scan,
    // 2 blocks x M x 64 bytes
    EXPECT_EQ(scorer.owned_bytes(), size_t(M * K * s) * 4 + (blocks ? 4u * M * 16 : bytes64 ? 2u * M * 64 : 0u));
    std::vector<float> scratch(scorer.scratch_floats()), out(scorer.output_floats());
    scorer.score(q.data(), scratch.data(), out.data());
    for (int64_t v = 0; v < n; ++v) {
      double ref = 0;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t j = 0; j < s; ++j) ref += double(books[(m * K + codes[v * M + m]) * s + j]) * q[m * s + j];
      EXPECT_NEAR(out[v], ref, 1e-5) << "item " << v;
    }
  }
}

namespace {

// A PQ scorer with its top-k and query buffers, as a C API context holds them.
struct PqQuery {
  runtime::ItemScorer scorer;
  runtime::TopKBuffers buf;
  std::vector<float> scratch, out;
  PqQuery(const runtime::PqTable& pq, int64_t n, int64_t d) {
    EXPECT_TRUE(scorer.init_pq(pq, n, d).ok());
    scorer.prepare(buf);
    scratch.resize(scorer.scratch_floats());
    out.resize(scorer.output_floats());
  }
  std::vector<float> all(const float* q) {  // every item's score
    std::vector<float> s(scorer.output_floats());
    scorer.score(q, scratch.data(), s.data());
    return s;
  }
  template <typename Excluded>
  size_t top_k(const float* q, size_t k, const Excluded& excluded, int64_t* idx, float* val) {
    return scorer.top_k(q, k, excluded, scratch.data(), out.data(), buf, idx, val);
  }
};

}  // namespace

// ItemScorer::top_k against what it stands for: every item scored, the excluded ones at -inf, then
// runtime::top_k. Indices and scores must be identical (the pruned scan rescores its candidates with
// the byte scan's own sums), over 20,003 items (313 blocks of 64, the last in part; not a multiple
// of the byte scan's four items either):
//   - codebooks uniform in [-1, 1], K = 256 and K = 40 (LUT rows padded to 256);
//   - codebooks of three values, so that hundreds of items tie at the k-th score (ties go to the
//     smaller index, which the candidates must keep);
//   - codebooks of 1000 plus noise below 1e-3, where the fp32 error of a sum is as large as the
//     quantisation step (the bound's float term);
//   - the best ten items of the full scan excluded, and a history repeating an item;
//   - k = 1, 20 and 78 (pruned) and 79 and 500 (above a quarter of the blocks: every item scored).
// Where pruning applies (this CPU has pq_scan_u8, uniform codebooks) its first pass must have run
// (the sums are not all zero) and scored under a quarter of the items exactly.
TEST(PqScoring, PrunedTopKEqualsTheFullScan) {
  const int64_t n = 20003, s = 2;
  enum Books { kUniform, kThreeValues, kLargeOffset };
  for (const auto& [M, K] : {std::pair<int64_t, int64_t>{16, 256}, {8, 40}})
    for (const Books books_kind : {kUniform, kThreeValues, kLargeOffset}) {
      const int64_t d = M * s;
      std::mt19937 rng(static_cast<uint32_t>(M * 1000 + K + books_kind));
      std::uniform_real_distribution<float> u(-1, 1);
      std::vector<float> books(static_cast<size_t>(M * K * s)), q(static_cast<size_t>(d));
      for (float& x : books)
        x = books_kind == kUniform       ? u(rng)
            : books_kind == kThreeValues ? 0.5f * static_cast<float>(static_cast<int>(rng() % 3) - 1)
                                         : 1000.0f + 1e-3f * u(rng);
      for (float& x : q) x = books_kind == kThreeValues ? 1.0f : u(rng);
      std::vector<uint8_t> codes(static_cast<size_t>(n * M));
      for (uint8_t& c : codes) c = static_cast<uint8_t>(rng() % static_cast<uint32_t>(K));
      PqQuery query(runtime::PqTable{M, K, s, books.data(), codes.data(), nullptr}, n, d);
      runtime::TopKBuffers& buf = query.buf;
      const std::vector<float> all = query.all(q.data());
      std::vector<int64_t> best(10);  // the full scan's best ten, the items excluded below
      std::vector<float> best_val(10);
      ASSERT_EQ(runtime::top_k(all.data(), n, 10, best.data(), best_val.data()), 10u);
      const std::vector<int64_t> history = {best[0], 7,       best[3], 7,       best[9], best[1],
                                            best[2], best[4], best[5], best[6], best[7], best[8]};
      for (const bool exclude : {false, true})
        for (const size_t k : {size_t{1}, size_t{20}, size_t{78}, size_t{79}, size_t{500}}) {
          SCOPED_TRACE(::testing::Message()
                       << "M=" << M << " K=" << K << " books=" << books_kind << " exclude=" << exclude << " k=" << k);
          std::vector<float> ref_scores = all;
          if (exclude)
            for (int64_t v : history) ref_scores[static_cast<size_t>(v)] = -INFINITY;
          std::vector<int64_t> ref_idx(k), idx(k, -1);
          std::vector<float> ref_val(k), val(k, 0.0f);
          const size_t ref_n = runtime::top_k(ref_scores.data(), n, k, ref_idx.data(), ref_val.data());
          std::fill(buf.sums.begin(), buf.sums.end(), uint16_t{0});
          const auto excluded = [&](const auto& f) {
            if (exclude)
              for (int64_t v : history) f(v);
          };
          const size_t got = query.top_k(q.data(), k, excluded, idx.data(), val.data());
          ASSERT_EQ(got, ref_n);
          EXPECT_EQ(idx, ref_idx);
          for (size_t i = 0; i < got; ++i)
            EXPECT_EQ(std::memcmp(&val[i], &ref_val[i], sizeof(float)), 0) << "rank " << i;
          const bool pruned = std::any_of(buf.sums.begin(), buf.sums.end(), [](uint16_t x) { return x != 0; });
          if (runtime::kernels().pq_scan_u8 && books_kind == kUniform) {
            EXPECT_EQ(pruned, k <= runtime::pq_u8_blocks(n) / 4) << "the pruned scan ran (or not) as its rule says";
            if (pruned) EXPECT_LT(buf.scored, static_cast<size_t>(n) / 4) << "and scored few items exactly";
          }
          if (!pruned) EXPECT_EQ(buf.scored, static_cast<size_t>(n));
        }
    }
}

// The bound's worst case, built by hand (M = 16, s = 1, q = 1, so LUT = codebooks; entries 0 and 255
// in every sub-space make the step exactly 1). The winner's entries lie just below a half step
// (11.499, then 15 x 10.499: score 168.984, byte sum 11 + 150 = 161), one loser per block's just
// above (16 x 10.501: score 168.016, byte sum 176). The best sum is a loser's, 15 units above the
// winner's (M - 1, the most two items' rounding can differ by), so a margin of 14 or less loses the
// winner; the scorer's (M + 1 + the float term) keeps it. Also k = 2: the winner, then the first loser.
TEST(PqScoring, PrunedTopKKeepsAnItemAtTheEdgeOfItsBound) {
  const int64_t n = 64 * 40, M = 16, K = 256;
  std::vector<float> books(static_cast<size_t>(M * K), 0.0f);
  for (int64_t m = 0; m < M; ++m) {
    float* b = books.data() + m * K;
    b[1] = 255.0f, b[2] = 10.499f, b[3] = 11.499f, b[4] = 10.501f;
    for (int64_t c = 5; c < K; ++c) b[c] = static_cast<float>(c % 7);  // the others: far below
  }
  std::vector<uint8_t> codes(static_cast<size_t>(n * M));
  std::mt19937 rng(3);
  for (uint8_t& c : codes) c = static_cast<uint8_t>(5 + rng() % 251);
  const int64_t winner = 1234;
  for (int64_t m = 0; m < M; ++m) codes[static_cast<size_t>(winner * M + m)] = m == 0 ? 3 : 2;
  for (int64_t b = 0; b < n / 64; ++b)
    if (b != winner / 64)
      for (int64_t m = 0; m < M; ++m) codes[static_cast<size_t>((b * 64 + 5) * M + m)] = 4;
  const std::vector<float> q(static_cast<size_t>(M), 1.0f);
  PqQuery query(runtime::PqTable{M, K, 1, books.data(), codes.data(), nullptr}, n, M);
  const runtime::TopKBuffers& buf = query.buf;
  std::vector<float> val(2);
  std::vector<int64_t> idx(2);
  const auto none = [](const auto&) {};
  ASSERT_EQ(query.top_k(q.data(), 2, none, idx.data(), val.data()), 2u);
  EXPECT_EQ(idx, (std::vector<int64_t>{winner, 5}));
  EXPECT_NEAR(val[0], 168.984f, 1e-3);
  EXPECT_NEAR(val[1], 168.016f, 1e-3);
  if (runtime::kernels().pq_scan_u8) {  // the sums the bound had to bridge
    EXPECT_EQ(buf.sums[static_cast<size_t>(winner)], 161);
    EXPECT_EQ(buf.sums[5], 176);
  }
}

// When fewer than k blocks hold a positive sum, the k-th best block maximum is 0 and every item is
// scored exactly, the excluded ones too, which must then be set to -inf among the candidates: 512
// items (8 blocks) whose sums are 0 except in block 3, k = 2, the best items of that block excluded.
TEST(PqScoring, PrunedTopKKeepingEveryItemStillExcludesTheHistory) {
  const int64_t n = 512, M = 4, K = 32;
  std::vector<float> books(static_cast<size_t>(M * K), 0.0f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < K; ++c) books[static_cast<size_t>(m * K + c)] = 0.25f * static_cast<float>(c % 5);
  std::vector<uint8_t> codes(static_cast<size_t>(n * M), 0);
  for (int64_t v = 3 * 64; v < 4 * 64; ++v)
    for (int64_t m = 0; m < M; ++m) codes[static_cast<size_t>(v * M + m)] = static_cast<uint8_t>((v * 7 + m) % K);
  const std::vector<float> q(static_cast<size_t>(M), 1.0f);
  PqQuery query(runtime::PqTable{M, K, 1, books.data(), codes.data(), nullptr}, n, M);
  const std::vector<float> all = query.all(q.data());
  std::vector<int64_t> best(3);
  std::vector<float> best_val(3);
  ASSERT_EQ(runtime::top_k(all.data(), n, 3, best.data(), best_val.data()), 3u);
  std::vector<float> masked = all;
  masked[static_cast<size_t>(best[0])] = masked[static_cast<size_t>(best[2])] = -INFINITY;
  std::vector<int64_t> ref(2), idx(2);
  std::vector<float> ref_val(2), val(2);
  ASSERT_EQ(runtime::top_k(masked.data(), n, 2, ref.data(), ref_val.data()), 2u);
  const auto excluded = [&](const auto& f) { f(best[0]), f(best[2]); };
  ASSERT_EQ(query.top_k(q.data(), 2, excluded, idx.data(), val.data()), 2u);
  EXPECT_EQ(idx, ref);
  EXPECT_EQ(val, ref_val);
  EXPECT_EQ(idx[0], best[1]);
  if (runtime::kernels().pq_scan_u8) EXPECT_EQ(query.buf.scored, static_cast<size_t>(n)) << "every item kept";
}

// Through the C API: pocketrec_recommend over a SASRec with a PQ table of K = 64 and 1,000 items
// (16 blocks: k up to 4 prunes on a VBMI CPU) equals pocketrec_score_all with the history masked and
// the top k taken here, with and without excluding the history: the C API's path to
// ItemScorer::top_k and its exclusion of the history (the bound itself is tested above).
TEST(PqScoring, RecommendOfAPrunedTableEqualsTheFullScores) {
  TinySasRec spec;
  spec.pq = true, spec.M = 4, spec.K = 64, spec.n_items = 1000;
  Loaded model(spec.bytes(), POCKETREC_SCORING_CORES);
  ASSERT_EQ(model.status, POCKETREC_STATUS_OK) << model.error;
  for (const std::vector<int64_t>& h : {std::vector<int64_t>{1000, 1070, 1007}, std::vector<int64_t>{1000 + 7 * 999}})
    for (const int exclude : {0, 1})
      for (const size_t k : {size_t{1}, size_t{4}, size_t{5}}) {
        SCOPED_TRACE(::testing::Message() << "history " << h.size() << " exclude " << exclude << " k " << k);
        std::vector<float> s = model.scores(h);
        if (exclude)
          for (int64_t id : h) s[static_cast<size_t>((id - 1000) / 7)] = -INFINITY;
        std::vector<int64_t> ref(k), items(k);
        std::vector<float> ref_val(k), val(k);
        const size_t ref_n = runtime::top_k(s.data(), s.size(), k, ref.data(), ref_val.data());
        size_t got = 0;
        ASSERT_EQ(pocketrec_recommend(model.ctx, h.data(), h.size(), k, exclude, items.data(), val.data(), &got),
                  POCKETREC_STATUS_OK);
        ASSERT_EQ(got, ref_n);
        for (size_t i = 0; i < got; ++i) {
          EXPECT_EQ(items[i], 1000 + 7 * ref[i]) << "rank " << i;
          EXPECT_EQ(val[i], ref_val[i]) << "rank " << i;
        }
      }
}

// Codes that a table cannot have (>= K) are refused at load with BAD_FORMAT naming the item and the
// sub-space; a PQ shape that does not divide the dimension likewise.
TEST(PqScoring, OutOfRangeCodesAndBadShapesAreRefused) {
  TinySasRec spec;
  spec.pq = true, spec.M = 4, spec.K = 8;
  std::string bytes = spec.bytes();
  runtime::PocketFile f;
  ASSERT_TRUE(runtime::PocketFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t", &f).ok());
  const runtime::TensorView* cd = nullptr;
  ASSERT_TRUE(f.get_tensor("pq_item.codes", format::TensorType::kU8, {30, 4}, &cd).ok());
  const size_t at = static_cast<size_t>(cd->data - reinterpret_cast<const uint8_t*>(bytes.data())) + 4 * 5 + 2;
  bytes[at] = static_cast<char>(200);  // item 5, sub-space 2
  reseal(bytes);
  Loaded bad(bytes);
  EXPECT_EQ(bad.status, POCKETREC_STATUS_BAD_FORMAT);
  EXPECT_NE(bad.error.find("PQ code 200 of item 5, sub-space 2, is not below 8"), std::string::npos) << bad.error;
  TinySasRec odd = spec;
  odd.M = 3;  // 3 does not divide 8
  Loaded shape(odd.bytes());
  EXPECT_EQ(shape.status, POCKETREC_STATUS_BAD_FORMAT);
}

// Version 2 has the u8 type: the writer stamps a file without u8 tensors version 1 and a PQ file
// version 2; a dense file stamped either way loads and scores the same; a u8 tensor in a file that
// says version 1 is refused.
TEST(PocketFile, VersionOneFilesStayReadable) {
  const auto version_of = [](const std::string& b) {
    uint32_t v = 0;
    std::memcpy(&v, b.data() + 8, 4);
    return v;
  };
  TinySasRec dense;
  dense.stt = false;
  std::string bytes = dense.bytes();
  EXPECT_EQ(version_of(bytes), 1u);
  Loaded v1(bytes);
  ASSERT_EQ(v1.status, POCKETREC_STATUS_OK) << v1.error;
  const uint32_t one = 1, two = 2;
  std::memcpy(bytes.data() + 8, &two, 4);
  reseal(bytes);
  Loaded v2(bytes);
  ASSERT_EQ(v2.status, POCKETREC_STATUS_OK) << v2.error;
  EXPECT_EQ(v1.scores({1000, 1007}), v2.scores({1000, 1007}));
  TinySasRec pq;
  pq.pq = true;
  std::string pq_bytes = pq.bytes();
  EXPECT_EQ(version_of(pq_bytes), 2u);
  EXPECT_EQ(Loaded(pq_bytes).status, POCKETREC_STATUS_OK);
  std::memcpy(pq_bytes.data() + 8, &one, 4);
  reseal(pq_bytes);
  Loaded refused(pq_bytes);
  EXPECT_EQ(refused.status, POCKETREC_STATUS_BAD_FORMAT);
  EXPECT_NE(refused.error.find("unknown type 4 (format version 1)"), std::string::npos) << refused.error;
}
