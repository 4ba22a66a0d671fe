// The on-device runtime without LibTorch: the .pocket reader against every truncation, flipped bytes,
// newer versions and inconsistent headers; scoring from STT cores against an explicit Kronecker-
// product reconstruction; top-k; the C API's errors, history exclusion, batch calls, threads; and
// no allocation per query.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <numeric>
#include <random>
#include <thread>

#include "fp_env.h"
#include "item_scorer.h"
#include "kernels.h"
#include "pocket_file.h"
#include "pocketrec/pocketrec.h"
#include "runtime/loaded_model.h"
#include "runtime/tiny_pocket.h"
#include "test_util.h"
#include "topk.h"

// Counts every operator new in this binary (for the no-allocation-per-query test). Not under ASan,
// which replaces the allocation functions itself (tools/runtime_sanitize.sh).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POCKETREC_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define POCKETREC_UNDER_ASAN 1
#endif
static std::atomic<long> g_news{0};
#ifndef POCKETREC_UNDER_ASAN
void* operator new(size_t n) {
  ++g_news;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
#endif

using namespace pocketrec;
using pocketrec::testing::Loaded;
using pocketrec::testing::reseal;
using pocketrec::testing::TinySasRec;

namespace {

// exp_approx against exp in double over its whole range and around 0 (relative error), its clamps
// (normal floats, finite) and NaN.
TEST(Kernels, ExpWithoutLibmIsWithinItsStatedError) {
  double worst = 0, worst_at = 0;
  for (double x = -87.3; x <= 88.0; x += 1e-3) {
    const double rel = std::fabs(runtime::exp_approx(static_cast<float>(x)) / std::exp(double(float(x))) - 1.0);
    if (rel > worst) worst = rel, worst_at = x;
  }
  EXPECT_LT(worst, 1e-7) << "at x = " << worst_at;
  for (float x : {0.0f, 1e-6f, -1e-6f, 0.34657f, -0.34657f, 1.0f, -1.0f})
    EXPECT_NEAR(runtime::exp_approx(x) / std::exp(double(x)), 1.0, 1e-7) << x;
  EXPECT_EQ(runtime::exp_approx(0.0f), 1.0f);
  EXPECT_TRUE(std::isnormal(runtime::exp_approx(-1000.0f)));
  EXPECT_LT(runtime::exp_approx(-1000.0f), 1.3e-38f);
  EXPECT_TRUE(std::isfinite(runtime::exp_approx(1000.0f)));
  EXPECT_GT(runtime::exp_approx(1000.0f), 1e38f);
  EXPECT_TRUE(std::isnan(runtime::exp_approx(NAN)));
}

TEST(Kernels, TanhAndGeluThroughExpMatchTheLibmFunctions) {
  double tanh_err = 0, gelu_err = 0;
  for (double x = -30; x <= 30; x += 1e-3) {
    const float f = static_cast<float>(x);
    tanh_err = std::max(tanh_err, std::fabs(runtime::tanh_approx(f) - std::tanh(x)));
    // GELU(x) ~ x for large x, where a float's own rounding is ~6e-8 |x|: error relative to max(1, |x|).
    gelu_err = std::max(gelu_err, std::fabs(runtime::gelu(f) - 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)))) /
                                      std::max(1.0, std::fabs(x)));
  }
  EXPECT_LT(tanh_err, 3e-7);
  EXPECT_LT(gelu_err, 5e-7);
  EXPECT_EQ(runtime::tanh_approx(100.0f), 1.0f);  // exp_approx clamps at e^88: still exact at the limits
  EXPECT_EQ(runtime::tanh_approx(-100.0f), -1.0f);
  EXPECT_TRUE(std::isnan(runtime::tanh_approx(NAN)));
}

TEST(PocketFile, RoundTripOfMetadataAndAlignedTensors) {
  exporter::PocketWriter w;
  w.set_i64("a", -5);
  w.set_f64("b", 0.25);
  w.set_string("c", "hello");
  w.set_i64_array("d", {1, 2, 3});
  const float x[6] = {1, 2, 3, 4, 5, 6};
  const int64_t y[2] = {7, -8};
  w.add_f32("x", x, {2, 3});
  w.add_i64("y", y, {2});
  const std::string bytes = w.bytes();
  runtime::PocketFile f;
  ASSERT_TRUE(runtime::PocketFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t", &f).ok());
  int64_t a = 0;
  double b = 0;
  std::string c;
  std::vector<int64_t> d;
  ASSERT_TRUE(f.get_i64("a", &a).ok() && f.get_f64("b", &b).ok() && f.get_string("c", &c).ok() &&
              f.get_i64_array("d", &d).ok());
  EXPECT_EQ(a, -5);
  EXPECT_EQ(b, 0.25);
  EXPECT_EQ(c, "hello");
  EXPECT_EQ(d, (std::vector<int64_t>{1, 2, 3}));
  const runtime::TensorView* t = nullptr;
  ASSERT_TRUE(f.get_tensor("x", format::TensorType::kF32, {2, 3}, &t).ok());
  EXPECT_EQ((t->data - reinterpret_cast<const uint8_t*>(bytes.data())) % format::kAlignment, 0);
  EXPECT_EQ(std::memcmp(t->data, x, sizeof x), 0);
  ASSERT_TRUE(f.get_tensor("y", format::TensorType::kI64, {2}, &t).ok());
  EXPECT_EQ(std::memcmp(t->data, y, sizeof y), 0);
  runtime::Status s = f.get_tensor("x", format::TensorType::kF32, {3, 2}, &t);
  EXPECT_EQ(s.message, "t: tensor 'x' has shape [2,3], expected [3,2]");
  EXPECT_EQ(f.get_tensor("y", format::TensorType::kF32, {2}, &t).message, "t: tensor 'y' has type i64, expected f32");
  EXPECT_EQ(f.get_i64("c", &a).message, "t: metadata 'c' is string, expected i64");
  EXPECT_EQ(f.get_i64("zz", &a).message, "t: metadata key 'zz' is missing");
}

// f16 and i8 weights decode to fp32: i8 as scale[row] * q with the scale from quantize_row_i8 (so
// within half a step of the original), f16 exactly; an i8 weight needs its scales, an i64 is no weight.
TEST(PocketFile, WeightsDecodeFromF16AndI8) {
  const float x[2][4] = {{0.5f, -1.0f, 0.25f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
  const uint16_t h[3] = {0x3C00, 0xB800, 0x0001};  // 1, -0.5, 2^-24
  const int64_t ids[2] = {4, 5};
  exporter::PocketWriter w;
  w.add_i8_rows("q", &x[0][0], {2, 4});
  w.add_f16("h", h, {3});
  w.add_i8_rows("no_scale", &x[0][0], {2, 4});
  w.add_i64("ids", ids, {2});
  std::string bytes = w.bytes();
  runtime::PocketFile f;
  ASSERT_TRUE(runtime::PocketFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t", &f).ok());
  runtime::WeightStore store;
  const float* v = nullptr;
  ASSERT_TRUE(f.get_weight("q", {2, 4}, &store, &v).ok());
  const float s = 1.0f / 127.0f;  // max |row 0| = 1
  EXPECT_EQ(v[0], 64 * s);        // 0.5 / s = 63.5 rounds away from zero
  EXPECT_EQ(v[1], -127 * s);
  EXPECT_EQ(v[2], 32 * s);  // 31.75 -> 32
  EXPECT_EQ(v[3], 0.0f);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(v[4 + j], 0.0f);  // an all-zero row (scale 1)
  ASSERT_TRUE(f.get_weight("h", {3}, &store, &v).ok());
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -0.5f);
  EXPECT_EQ(v[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(store.decoded.size(), 2u);
  // The file holds "no_scale.scale" too (the writer always adds it); drop it by renaming in place.
  const size_t at = bytes.find("no_scale.scale");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'N';
  reseal(bytes);
  ASSERT_TRUE(runtime::PocketFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t", &f).ok());
  EXPECT_EQ(f.get_weight("no_scale", {2, 4}, &store, &v).message, "t: tensor 'no_scale.scale' is missing");
  EXPECT_EQ(f.get_weight("ids", {2}, &store, &v).message, "t: weight 'ids' is stored as i64 (expected f32, f16 or i8)");
}

TEST(PocketFile, EveryTruncationIsRefusedWithoutACrash) {
  const std::string bytes = TinySasRec{}.bytes();
  ASSERT_EQ(Loaded(bytes).status, POCKETREC_STATUS_OK);
  for (size_t len = 0; len < bytes.size(); ++len) {
    Loaded l(bytes.substr(0, len));
    ASSERT_EQ(l.status, POCKETREC_STATUS_BAD_FORMAT) << len << ": " << l.error;
  }
  EXPECT_EQ(Loaded(bytes.substr(0, 100)).error, "<buffer>: header says " + std::to_string(bytes.size()) +
                                                    " bytes but the file has 100 (truncated or padded)");
}

TEST(PocketFile, FlippedBytesAreAChecksumMismatch) {
  const std::string bytes = TinySasRec{}.bytes();
  for (size_t pos = 40; pos < bytes.size(); pos += 97) {
    std::string b = bytes;
    b[pos] ^= 0x10;
    Loaded l(b);
    ASSERT_EQ(l.status, POCKETREC_STATUS_CHECKSUM_MISMATCH) << pos;
    EXPECT_NE(l.error.find("checksum mismatch"), std::string::npos) << l.error;
  }
}

TEST(PocketFile, BadMagicNewerVersionAndInconsistentHeadersAreRefused) {
  const std::string good = TinySasRec{}.bytes();
  std::string b = good;
  b[1] = 'X';
  EXPECT_EQ(Loaded(b).error, "<buffer>: not a .pocket model file (bad magic)");
  b = good;
  const uint32_t v3 = 3;
  std::memcpy(b.data() + 8, &v3, 4);
  reseal(b);
  Loaded l(b);
  EXPECT_EQ(l.status, POCKETREC_STATUS_UNSUPPORTED_VERSION);
  EXPECT_EQ(l.error, "<buffer>: file format version 3 is newer than this runtime (max 2)");
  b = good;
  const uint32_t many = 0x7fffffff;
  std::memcpy(b.data() + 36, &many, 4);  // n_tensors
  reseal(b);
  EXPECT_NE(Loaded(b).error.find("cannot fit in a"), std::string::npos);
  b = good;
  const uint64_t huge = 1ull << 40;
  std::memcpy(b.data() + 24, &huge, 8);  // header_size
  reseal(b);
  EXPECT_NE(Loaded(b).error.find("header size"), std::string::npos);
}

TEST(PocketFile, WrongArchitectureOrShapesNameTheProblem) {
  auto w = TinySasRec{}.writer();
  w.set_string("pocketrec.architecture", "gru4rec");
  EXPECT_EQ(Loaded(w.bytes()).error,
            "<buffer>: architecture 'gru4rec' is not supported by this runtime (sasrec, sasrec-odrec, caser, fossil)");
  w.set_string("pocketrec.architecture", "caser");  // a SASRec's file read as a Caser
  EXPECT_EQ(Loaded(w.bytes()).error, "<buffer>: metadata key 'pocketrec.n_users' is missing");
  TinySasRec dense;
  dense.stt = false;
  auto w2 = dense.writer();
  w2.set_i64("sasrec.dim", 16);
  EXPECT_EQ(Loaded(w2.bytes()).error, "<buffer>: tensor 'item.weight' has shape [31,8], expected [31,16]");
  auto w3 = TinySasRec{}.writer();
  w3.set_string("stt.layout", "flat");
  EXPECT_NE(Loaded(w3.bytes()).error.find("2 cores in the canonical layout"), std::string::npos);
}

TEST(SttScoring, CoresEqualAnExplicitKroneckerReconstruction) {
  for (int64_t t : {1, 2, 4}) {
    const int64_t I1 = 3, I2 = 5, J1 = 2, J2 = 4, R = 8, n = 14, d = J1 * J2;
    std::mt19937 rng(static_cast<uint32_t>(t));
    std::normal_distribution<float> g;
    std::vector<float> c0(I1 * J1 * R), c1((R / t) * (I2 * J2 / t)), q(d);
    for (auto* v : {&c0, &c1, &q})
      for (auto& x : *v) x = g(rng);
    // M = core0 (B ⊗ I_t): (I1 J1) x (I2 J2); E[i1 I2 + i2, j1 J2 + j2] = M[i1 J1 + j1, i2 J2 + j2].
    std::vector<double> E(static_cast<size_t>(I1 * I2 * d), 0.0);
    for (int64_t r = 0; r < I1 * J1; ++r)
      for (int64_t col = 0; col < I2 * J2; ++col) {
        double m = 0;
        for (int64_t p = 0; p < R; ++p) {
          const int64_t p1 = p / t, p2 = p % t, c1i = col / t, c2 = col % t;
          if (p2 == c2) m += static_cast<double>(c0[r * R + p]) * c1[p1 * (I2 * J2 / t) + c1i];
        }
        const int64_t i1 = r / J1, j1 = r % J1, i2 = col / J2, j2 = col % J2;
        E[(i1 * I2 + i2) * d + j1 * J2 + j2] = m;
      }
    runtime::SttCores cores{I1, I2, J1, J2, R, t, c0.data(), c1.data()};
    std::vector<float> table = runtime::ItemScorer::rebuild_table(cores, n);
    for (int64_t i = 0; i < n * d; ++i) ASSERT_NEAR(table[i], E[i], 1e-4) << "t=" << t << " i=" << i;
    runtime::ItemScorer s;
    ASSERT_TRUE(s.init_stt(cores, n, d).ok());
    std::vector<float> scratch(s.scratch_floats()), out(s.output_floats());
    s.score(q.data(), scratch.data(), out.data());
    for (int64_t v = 0; v < n; ++v) {
      double ref = 0;
      for (int64_t j = 0; j < d; ++j) ref += E[v * d + j] * q[j];
      EXPECT_NEAR(out[v], ref, 1e-4) << "t=" << t << " item " << v;
    }
    // With an item order item v reads slot slot_of_item[v], in the rebuilt table and in the scores.
    std::vector<int64_t> slot(I1 * I2);
    for (int64_t v = 0; v < I1 * I2; ++v) slot[v] = (v * 7 + 2) % (I1 * I2);  // 7 is prime to 15
    runtime::SttCores ordered = cores;
    ordered.slot_of_item = slot.data();
    std::vector<float> permuted = runtime::ItemScorer::rebuild_table(ordered, n);
    const std::vector<float> all_slots = runtime::ItemScorer::rebuild_table(cores, I1 * I2);
    runtime::ItemScorer so;
    ASSERT_TRUE(so.init_stt(ordered, n, d).ok());
    std::vector<float> scratch_o(so.scratch_floats()), out_o(so.output_floats());
    so.score(q.data(), scratch_o.data(), out_o.data());
    for (int64_t v = 0; v < n; ++v) {
      for (int64_t j = 0; j < d; ++j) EXPECT_EQ(permuted[v * d + j], all_slots[slot[v] * d + j]);
      EXPECT_FLOAT_EQ(out_o[v], out[slot[v]]) << "t=" << t << " item " << v;
    }
    slot[3] = slot[4];
    EXPECT_EQ(so.init_stt(ordered, n, d).code, POCKETREC_STATUS_BAD_FORMAT);
  }
}

TEST(TopK, MatchesASortWithTiesToTheSmallerIndexAndSkipsExcluded) {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> u(0, 9);  // many ties
  std::vector<float> s(200);
  for (auto& x : s) x = static_cast<float>(u(rng));
  s[3] = -INFINITY;
  std::vector<int32_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return s[a] > s[b]; });
  for (size_t k : {1u, 7u, 50u, 199u, 300u}) {
    std::vector<int64_t> idx(k);
    std::vector<float> val(k);
    const size_t n = runtime::top_k(s.data(), s.size(), k, idx.data(), val.data());
    ASSERT_EQ(n, std::min<size_t>(k, 199));
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(idx[i], order[i]) << k << " " << i;
  }
}

// Past the first k items, scores are offered to the heap 16 at a time, a block only when one of its
// scores beats the worst held: against a stable sort of many random score lists with ties, NaN and
// -inf anywhere (where blocks start depends on k), for every k from 0 to past n.
TEST(TopK, RandomScoresWithTiesNaNAndExcludedMatchAStableSort) {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = rng() % 151;
    std::vector<float> s(n);
    for (auto& x : s) {
      const unsigned r = rng() % 10;
      x = r == 0 ? NAN : r == 1 ? -INFINITY : static_cast<float>(rng() % 8);  // many ties
    }
    std::vector<int32_t> order;
    for (int32_t v = 0; v < static_cast<int32_t>(n); ++v)
      if (!std::isnan(s[v]) && s[v] != -INFINITY) order.push_back(v);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return s[a] > s[b]; });
    for (size_t k = 0; k <= n + 2; ++k) {
      std::vector<int64_t> idx(k + 1);
      std::vector<float> val(k + 1);
      const size_t got = runtime::top_k(s.data(), n, k, idx.data(), val.data());
      ASSERT_EQ(got, std::min(k, order.size())) << "trial " << trial << " k " << k;
      for (size_t i = 0; i < got; ++i) ASSERT_EQ(idx[i], order[i]) << "trial " << trial << " k " << k << " " << i;
    }
  }
}

TEST(CApi, ErrorsNameTheProblem) {
  Loaded l(TinySasRec{}.bytes());
  ASSERT_EQ(l.status, POCKETREC_STATUS_OK) << l.error;
  int64_t items[5];
  float scores[5];
  size_t n = 0;
  const int64_t bad[] = {1000, 5};
  EXPECT_EQ(pocketrec_recommend(l.ctx, bad, 2, 5, 1, items, scores, &n), POCKETREC_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(pocketrec_last_error(), "history[1]: unknown item id 5");
  EXPECT_EQ(pocketrec_recommend(l.ctx, bad, 0, 5, 1, items, scores, &n), POCKETREC_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(pocketrec_last_error(), "empty history: at least one item is needed");
  EXPECT_EQ(pocketrec_recommend(l.ctx, bad, 1, 0, 1, items, scores, &n), POCKETREC_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(pocketrec_recommend(nullptr, bad, 1, 5, 1, items, scores, &n), POCKETREC_STATUS_INVALID_ARGUMENT);
  pocketrec_model* m = nullptr;
  EXPECT_EQ(pocketrec_model_load_file("/nonexistent/x.pocket", nullptr, &m), POCKETREC_STATUS_NOT_FOUND);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(pocketrec_last_error()).find("/nonexistent/x.pocket: cannot open"), std::string::npos);
  EXPECT_STREQ(pocketrec_status_name(POCKETREC_STATUS_CHECKSUM_MISMATCH), "CHECKSUM_MISMATCH");
  TinySasRec dense;
  dense.stt = false;
  Loaded cores_of_dense(dense.bytes(), POCKETREC_SCORING_CORES);
  EXPECT_EQ(cores_of_dense.status, POCKETREC_STATUS_INVALID_ARGUMENT);
  pocketrec_model_free(nullptr);  // no-ops
  pocketrec_context_free(nullptr);
}

// Every NULL pointer and malformed argument the C API can be handed: INVALID_ARGUMENT and a message
// naming it, never a crash (tools/runtime_sanitize.sh runs this under ASan + UBSan).
TEST(CApi, BadArgumentsReturnInvalidArgumentAndNameTheProblem) {
  Loaded l(TinySasRec{}.bytes());
  ASSERT_EQ(l.status, POCKETREC_STATUS_OK) << l.error;
  const int64_t h[] = {1000, 1007, 1014};
  int64_t items[8];
  float scores[8];
  size_t n = 99, n3[3] = {9, 9, 9};
  auto expect = [](pocketrec_status s, const char* message) {
    EXPECT_EQ(s, POCKETREC_STATUS_INVALID_ARGUMENT) << message;
    EXPECT_STREQ(pocketrec_last_error(), message);
  };
  expect(pocketrec_recommend(l.ctx, h, 3, 4, 1, nullptr, scores, &n), "out_items, out_scores or out_n is NULL");
  expect(pocketrec_recommend(l.ctx, h, 3, 4, 1, items, nullptr, &n), "out_items, out_scores or out_n is NULL");
  expect(pocketrec_recommend(l.ctx, h, 3, 4, 1, items, scores, nullptr), "out_items, out_scores or out_n is NULL");
  expect(pocketrec_recommend(l.ctx, nullptr, 3, 4, 1, items, scores, &n), "history is NULL");
  EXPECT_EQ(n, 0u);  // reset before the failure
  expect(pocketrec_recommend(nullptr, h, 3, 4, 1, items, scores, &n), "context is NULL");
  expect(pocketrec_recommend(l.ctx, h, 3, 0, 1, items, scores, &n), "k = 0: at least one item must be asked for");
  expect(pocketrec_score_all(l.ctx, h, 3, nullptr), "out_scores is NULL");
  expect(pocketrec_score_all(l.ctx, nullptr, 2, scores), "history is NULL");

  const size_t offsets[] = {0, 2, 3}, decreasing[] = {0, 2, 1};
  expect(pocketrec_recommend_batch(l.ctx, h, nullptr, 2, 2, 1, items, scores, n3), "offsets is NULL");
  expect(pocketrec_recommend_batch(l.ctx, h, offsets, 2, 2, 1, nullptr, scores, n3),
         "out_items, out_scores or out_n is NULL");
  expect(pocketrec_recommend_batch(l.ctx, h, offsets, 2, 2, 1, items, scores, nullptr),
         "out_items, out_scores or out_n is NULL");
  expect(pocketrec_recommend_batch(l.ctx, h, decreasing, 2, 2, 1, items, scores, n3),
         "offsets[1] = 2 > offsets[2] = 1");
  EXPECT_EQ(n3[0], 0u);  // nothing was recommended: the offsets are checked before any query runs
  expect(pocketrec_recommend_batch(l.ctx, nullptr, offsets, 2, 2, 1, items, scores, n3), "history is NULL");
  expect(pocketrec_recommend_batch(nullptr, h, offsets, 2, 2, 1, items, scores, n3), "query 0: context is NULL");

  expect(pocketrec_context_set_user(nullptr, 3), "context is NULL");
  expect(pocketrec_context_set_user(l.ctx, 3), "this sasrec-odrec model has no user embeddings");
  pocketrec_context* ctx = reinterpret_cast<pocketrec_context*>(&n);  // must be overwritten
  expect(pocketrec_context_init(nullptr, &ctx), "model is NULL");
  EXPECT_EQ(ctx, nullptr);
  expect(pocketrec_context_init(l.model, nullptr), "out_context is NULL");
  pocketrec_model* m = reinterpret_cast<pocketrec_model*>(&n);
  expect(pocketrec_model_load_buffer(nullptr, 16, nullptr, &m), "data is NULL");
  EXPECT_EQ(m, nullptr);
  expect(pocketrec_model_load_buffer(h, sizeof(h), nullptr, nullptr), "out_model is NULL");
  expect(pocketrec_model_load_file(nullptr, nullptr, &m), "path is NULL");
  // Getters that cannot fail answer 0 (or -1, "") for a NULL model.
  EXPECT_EQ(pocketrec_model_n_items(nullptr), 0u);
  EXPECT_EQ(pocketrec_model_item_id(nullptr, 0), -1);
  EXPECT_STREQ(pocketrec_model_architecture(nullptr), "");
}

TEST(CApi, ContiguousIdsComeFromABase) {
  TinySasRec spec;
  spec.id_base = 1;
  Loaded l(spec.bytes());
  ASSERT_EQ(l.status, POCKETREC_STATUS_OK) << l.error;
  EXPECT_EQ(pocketrec_model_item_id(l.model, 0), 1);
  EXPECT_EQ(pocketrec_model_item_id(l.model, 29), 30);
  EXPECT_EQ(pocketrec_model_item_id(l.model, 30), -1);
  Loaded with_tensor(TinySasRec{}.bytes());  // the same weights, ids 1000 + 7 i
  EXPECT_EQ(l.scores({3, 30, 7}), with_tensor.scores({1014, 1203, 1042}));
  const int64_t unknown[] = {31};
  std::vector<float> out(30);
  EXPECT_EQ(pocketrec_score_all(l.ctx, unknown, 1, out.data()), POCKETREC_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(pocketrec_context_set_user(l.ctx, 1), POCKETREC_STATUS_INVALID_ARGUMENT);  // SASRec has no users
  EXPECT_STREQ(pocketrec_last_error(), "this sasrec-odrec model has no user embeddings");
}

TEST(CApi, CaserScoresForTheUserSetOnTheContext) {
  const std::string bytes = pocketrec::testing::TinyCaser{}.bytes();
  Loaded l(bytes);
  ASSERT_EQ(l.status, POCKETREC_STATUS_OK) << l.error;
  EXPECT_STREQ(pocketrec_model_architecture(l.model), "caser");
  EXPECT_EQ(pocketrec_model_n_users(l.model), 6u);
  EXPECT_EQ(pocketrec_model_max_history(l.model), 3u);
  const int64_t h[] = {4, 9};
  std::vector<float> s0(20), s1(20), s0_again(20);
  EXPECT_EQ(pocketrec_score_all(l.ctx, h, 2, s0.data()), POCKETREC_STATUS_INVALID_ARGUMENT);
  ASSERT_EQ(pocketrec_context_set_user(l.ctx, 0), POCKETREC_STATUS_OK);
  ASSERT_EQ(pocketrec_score_all(l.ctx, h, 2, s0.data()), POCKETREC_STATUS_OK);
  ASSERT_EQ(pocketrec_context_set_user(l.ctx, 1), POCKETREC_STATUS_OK);
  ASSERT_EQ(pocketrec_score_all(l.ctx, h, 2, s1.data()), POCKETREC_STATUS_OK);
  ASSERT_EQ(pocketrec_context_set_user(l.ctx, 0), POCKETREC_STATUS_OK);
  ASSERT_EQ(pocketrec_score_all(l.ctx, h, 2, s0_again.data()), POCKETREC_STATUS_OK);
  EXPECT_NE(s0, s1);  // the user embedding is half of the query vector
  EXPECT_EQ(s0, s0_again);
  EXPECT_EQ(pocketrec_context_set_user(l.ctx, 6), POCKETREC_STATUS_INVALID_ARGUMENT);
  for (size_t n = 0; n < bytes.size(); n += 7) EXPECT_NE(Loaded(bytes.substr(0, n)).status, POCKETREC_STATUS_OK);
}

// Subnormal inputs and results are zero inside the runtime's queries and the caller's mode is back
// after them (an app's own arithmetic is not changed by asking for recommendations).
TEST(FpEnv, QueriesFlushSubnormalsAndRestoreTheCallersMode) {
  volatile float tiny = 1e-40f, one = 1.0f;  // volatile: computed at run time, in the current mode
  ASSERT_NE(tiny * one, 0.0f);
  {
    const pocketrec::runtime::FlushSubnormals flush;
#if defined(__SSE2__) || defined(__aarch64__)
    EXPECT_EQ(tiny * one, 0.0f);
#endif
  }
  EXPECT_NE(tiny * one, 0.0f);
  Loaded l(pocketrec::testing::TinyCaser{}.bytes());
  ASSERT_EQ(l.status, POCKETREC_STATUS_OK) << l.error;
  ASSERT_EQ(pocketrec_context_set_user(l.ctx, 0), POCKETREC_STATUS_OK);
  const int64_t h[] = {4, 9};
  int64_t items[3];
  float scores[3];
  size_t n = 0;
  ASSERT_EQ(pocketrec_recommend(l.ctx, h, 2, 3, 1, items, scores, &n), POCKETREC_STATUS_OK);
  EXPECT_NE(tiny * one, 0.0f);
}

TEST(CApi, FossilReadsTheDistinctHistoryAndTheLastItemsInOrder) {
  const std::string bytes = pocketrec::testing::TinyFossil{}.bytes();  // window 2, max_history 8
  Loaded l(bytes);
  ASSERT_EQ(l.status, POCKETREC_STATUS_OK) << l.error;
  EXPECT_STREQ(pocketrec_model_architecture(l.model), "fossil");
  EXPECT_EQ(pocketrec_model_max_history(l.model), 8u);
  ASSERT_EQ(pocketrec_context_set_user(l.ctx, 0), POCKETREC_STATUS_OK);
  auto scores = [&](std::vector<int64_t> h) {
    std::vector<float> s(20);
    EXPECT_EQ(pocketrec_score_all(l.ctx, h.data(), h.size(), s.data()), POCKETREC_STATUS_OK) << pocketrec_last_error();
    return s;
  };
  // {4, 9, 4}: the FISM set is {4, 9} and the last two items are 9, 4, as for {9, 4}.
  EXPECT_EQ(scores({4, 9, 4}), scores({9, 4}));
  EXPECT_NE(scores({4, 9}), scores({9, 4}));                                         // the Markov chain reads the order
  EXPECT_EQ(scores({0, 1, 2, 3, 4, 5, 6, 7, 8}), scores({1, 2, 3, 4, 5, 6, 7, 8}));  // the last 8 only
  const std::vector<float> user0 = scores({9, 4});
  ASSERT_EQ(pocketrec_context_set_user(l.ctx, 1), POCKETREC_STATUS_OK);
  EXPECT_NE(scores({9, 4}), user0);  // per-user Markov weights
  for (size_t n = 0; n < bytes.size(); n += 7) EXPECT_NE(Loaded(bytes.substr(0, n)).status, POCKETREC_STATUS_OK);
}

TEST(CApi, RecommendExcludesHistoryAndBatchesEqualSingleCalls) {
  for (bool odrec : {true, false}) {
    TinySasRec spec;
    spec.odrec = odrec;
    spec.heads = odrec ? 1 : 2;
    Loaded l(spec.bytes());
    ASSERT_EQ(l.status, POCKETREC_STATUS_OK) << l.error;
    // Histories longer than max_len (5) read their last 5 items; exclusion covers all of them.
    const std::vector<int64_t> h = {1000, 1007, 1014, 1021, 1028, 1035, 1042};
    std::vector<float> s = l.scores(h);
    int64_t items[40];
    float scores[40];
    size_t n = 0;
    ASSERT_EQ(pocketrec_recommend(l.ctx, h.data(), h.size(), 40, 1, items, scores, &n), POCKETREC_STATUS_OK);
    EXPECT_EQ(n, 30u - h.size());  // k > catalogue: every item not in the history
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(std::count(h.begin(), h.end(), items[i]), 0);
      EXPECT_EQ(scores[i], s[static_cast<size_t>((items[i] - 1000) / 7)]);
      if (i) EXPECT_GE(scores[i - 1], scores[i]);
    }
    EXPECT_EQ(l.scores(h), l.scores({1014, 1021, 1028, 1035, 1042}));  // only the last max_len items matter
    // Batch = single calls.
    const std::vector<int64_t> flat = {1000, 1007, 1049, 1056, 1063, 1070};
    const size_t offsets[] = {0, 2, 3, 6};
    int64_t bi[12];
    float bs[12];
    size_t bn[3];
    ASSERT_EQ(pocketrec_recommend_batch(l.ctx, flat.data(), offsets, 3, 4, 0, bi, bs, bn), POCKETREC_STATUS_OK);
    for (size_t q = 0; q < 3; ++q) {
      ASSERT_EQ(
          pocketrec_recommend(l.ctx, flat.data() + offsets[q], offsets[q + 1] - offsets[q], 4, 0, items, scores, &n),
          POCKETREC_STATUS_OK);
      ASSERT_EQ(bn[q], 4u);
      for (size_t i = 0; i < 4; ++i) EXPECT_EQ(bi[q * 4 + i], items[i]);
    }
  }
}

TEST(CApi, TableModesAgreeWithTheCores) {
  const std::string bytes = TinySasRec{}.bytes();
  Loaded cores(bytes, POCKETREC_SCORING_CORES), fp32(bytes, POCKETREC_SCORING_FP32_TABLE),
      int8(bytes, POCKETREC_SCORING_INT8_TABLE);
  const std::vector<int64_t> h = {1070, 1000, 1203};
  std::vector<float> a = cores.scores(h), b = fp32.scores(h), c = int8.scores(h);
  float scale = 0;
  for (float x : a) scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], 1e-5);
    EXPECT_NEAR(a[i], c[i], 0.02 * scale);  // int8 rows: about 1/127 of each row's range
  }
}

TEST(CApi, RecommendAllocatesNothingAndContextsShareAModelAcrossThreads) {
  const std::string bytes = TinySasRec{}.bytes();
  const long before_load = g_news.load();
  Loaded l(bytes);
  ASSERT_EQ(l.status, POCKETREC_STATUS_OK);
#ifndef POCKETREC_UNDER_ASAN
  EXPECT_GT(g_news.load() - before_load, 0);  // the counter sees the runtime's allocations (at load)
#endif
  const int64_t h[] = {1000, 1007, 1014};
  int64_t items[10];
  float scores[10];
  size_t n = 0;
  ASSERT_EQ(pocketrec_recommend(l.ctx, h, 3, 10, 1, items, scores, &n), POCKETREC_STATUS_OK);  // warm-up
  const long before = g_news.load();
  for (int r = 0; r < 100; ++r)
    ASSERT_EQ(pocketrec_recommend(l.ctx, h, 3, 10, 1, items, scores, &n), POCKETREC_STATUS_OK);
  EXPECT_EQ(g_news.load() - before, 0);

  std::vector<int64_t> expect(items, items + 10);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      pocketrec_context* ctx = nullptr;
      if (pocketrec_context_init(l.model, &ctx) != POCKETREC_STATUS_OK) {
        ++mismatches;
        return;
      }
      int64_t it[10];
      float sc[10];
      size_t m = 0;
      for (int r = 0; r < 200; ++r) {
        pocketrec_recommend(ctx, h, 3, 10, 1, it, sc, &m);
        if (std::vector<int64_t>(it, it + 10) != expect) ++mismatches;
      }
      pocketrec_context_free(ctx);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(CApi, LoadsAFileWrittenAtomically) {
  pocketrec::testing::TempDir dir;
  const std::string path = dir.path() + "/m.pocket";
  TinySasRec{}.writer().save(path);
  pocketrec_model* m = nullptr;
  ASSERT_EQ(pocketrec_model_load_file(path.c_str(), nullptr, &m), POCKETREC_STATUS_OK) << pocketrec_last_error();
  EXPECT_EQ(pocketrec_model_n_items(m), 30u);
  EXPECT_EQ(pocketrec_model_item_id(m, 2), 1014);
  EXPECT_EQ(pocketrec_model_item_id(m, 30), -1);
  pocketrec_model_free(m);
}

}  // namespace
