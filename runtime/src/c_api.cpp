// The C boundary: every exported function is noexcept, maps failures to a pocketrec_status and sets
// the thread-local message. Loading allocates; pocketrec_recommend and friends never do.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "fp_env.h"
#include "next_item_model.h"
#include "pocket_file.h"
#include "pocketrec/pocketrec.h"
#include "simd/kernel_table.h"
#include "topk.h"
#include "version.h"

using pocketrec::runtime::make_status;
using pocketrec::runtime::Status;

namespace pocketrec::runtime {

// Original ids <-> model indices, from the i64 tensor "<name>" or, for ids base, base + 1, ..., from
// the metadata "<name>.base" (what the exporter writes for contiguous ids).
struct IdIndex {
  std::vector<int64_t> ids;                        // index -> original id
  std::vector<std::pair<int64_t, int32_t>> by_id;  // sorted (original id, index)

  Status load(const PocketFile& f, const std::string& name, int64_t n) {
    ids.resize(static_cast<size_t>(n));
    int64_t base = 0;
    if (f.has_tensor(name)) {
      const TensorView* t = nullptr;
      RT_TRY(f.get_tensor(name, format::TensorType::kI64, {static_cast<uint64_t>(n)}, &t));
      std::memcpy(ids.data(), t->data, t->n_bytes);
    } else {
      RT_TRY(f.get_i64(name + ".base", &base));
      RT_CHECK(base >= 0 && base <= (int64_t{1} << 62), POCKETREC_STATUS_BAD_FORMAT, "%s: %s.base %lld is out of range",
               f.source().c_str(), name.c_str(), static_cast<long long>(base));
      for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = base + i;
    }
    by_id.clear();
    for (size_t i = 0; i < ids.size(); ++i) by_id.emplace_back(ids[i], static_cast<int32_t>(i));
    std::sort(by_id.begin(), by_id.end());
    for (size_t i = 1; i < by_id.size(); ++i)
      RT_CHECK(by_id[i].first != by_id[i - 1].first, POCKETREC_STATUS_BAD_FORMAT, "%s: id %lld appears twice in %s",
               f.source().c_str(), static_cast<long long>(by_id[i].first), name.c_str());
    return Status::Ok();
  }
  // The index of an original id, or -1.
  int32_t find(int64_t id) const {
    auto it = std::lower_bound(by_id.begin(), by_id.end(), std::make_pair(id, int32_t{0}));
    return it != by_id.end() && it->first == id ? it->second : -1;
  }
};

}  // namespace pocketrec::runtime

struct pocketrec_model {
  std::vector<uint64_t> storage;  // the file's bytes, 8-byte aligned
  pocketrec::runtime::PocketFile file;
  std::unique_ptr<pocketrec::runtime::NextItemModel> net;
  pocketrec::runtime::IdIndex items, users;
  size_t file_bytes = 0;
};

struct pocketrec_context {
  const pocketrec_model* model;
  int32_t user = -1;  // the user index set by pocketrec_context_set_user (models with user embeddings)
  std::vector<float> scratch, scores, q;
  std::vector<int32_t> history;  // indices of the current query's history
  pocketrec::runtime::TopKBuffers top_k;
};

namespace {

thread_local std::string g_last_error;

pocketrec_status fail(const Status& s) {
  g_last_error = s.message;
  return s.code;
}

#define API_BEGIN try {
#define API_END                                                                          \
  }                                                                                      \
  catch (const std::bad_alloc&) {                                                        \
    return fail(make_status(POCKETREC_STATUS_OUT_OF_MEMORY, "out of memory"));           \
  }                                                                                      \
  catch (const std::exception& e) {                                                      \
    return fail(make_status(POCKETREC_STATUS_INTERNAL, "internal error: %s", e.what())); \
  }                                                                                      \
  catch (...) {                                                                          \
    return fail(make_status(POCKETREC_STATUS_INTERNAL, "internal error"));               \
  }

pocketrec_status load(std::vector<uint64_t> storage, size_t size, const std::string& source,
                      const pocketrec_model_params* params, pocketrec_model** out) {
  if (!out) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "out_model is NULL"));
  *out = nullptr;
  const pocketrec_model_params p = params ? *params : pocketrec_model_default_params();
  auto m = std::make_unique<pocketrec_model>();
  m->storage = std::move(storage);
  m->file_bytes = size;
  const auto* bytes = reinterpret_cast<const uint8_t*>(m->storage.data());
  Status s = pocketrec::runtime::PocketFile::parse(bytes, size, source, &m->file);
  if (!s.ok()) return fail(s);
  s = pocketrec::runtime::make_model(m->file, p.scoring, &m->net);
  if (!s.ok()) return fail(s);
  s = m->items.load(m->file, "item_ids", m->net->n_items());
  if (s.ok() && m->net->needs_user()) s = m->users.load(m->file, "user_ids", m->net->n_users());
  if (!s.ok()) return fail(s);
  *out = m.release();
  return POCKETREC_STATUS_OK;
}

// Maps the history to item indices and writes the query vector into ctx->q.
pocketrec_status query_history(pocketrec_context* ctx, const int64_t* history, size_t n) {
  if (!ctx) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "context is NULL"));
  if (!history && n > 0) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "history is NULL"));
  if (n == 0) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "empty history: at least one item is needed"));
  const pocketrec_model* m = ctx->model;
  if (m->net->needs_user() && ctx->user < 0)
    return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT,
                            "this %s model scores for a user: call pocketrec_context_set_user first",
                            m->net->architecture().c_str()));
  const size_t keep = std::min(n, static_cast<size_t>(m->net->max_history()));
  for (size_t i = 0; i < n; ++i) {  // every id is checked, also those older than max_history
    const int32_t index = m->items.find(history[i]);
    if (index < 0)
      return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "history[%zu]: unknown item id %lld", i,
                              static_cast<long long>(history[i])));
    if (i >= n - keep) ctx->history[i - (n - keep)] = index;
  }
  m->net->query_vector(ctx->history.data(), keep, ctx->user, ctx->scratch.data(), ctx->q.data());
  return POCKETREC_STATUS_OK;
}

pocketrec_status recommend_one(pocketrec_context* ctx, const int64_t* history, size_t n, size_t k, int exclude,
                               int64_t* out_items, float* out_scores, size_t* out_n) {
  const pocketrec::runtime::FlushSubnormals flush;
  pocketrec_status s = query_history(ctx, history, n);
  if (s != POCKETREC_STATUS_OK) return s;
  const pocketrec_model* m = ctx->model;
  // Every history item, also those older than max_history (all known: query_history checked them).
  const auto history_items = [&](const auto& f) {
    if (exclude)
      for (size_t i = 0; i < n; ++i) f(m->items.find(history[i]));
  };
  const size_t got = m->net->scorer().top_k(ctx->q.data(), k, history_items, ctx->scratch.data(), ctx->scores.data(),
                                            ctx->top_k, out_items, out_scores);
  for (size_t i = 0; i < got; ++i) out_items[i] = m->items.ids[static_cast<size_t>(out_items[i])];
  *out_n = got;
  return POCKETREC_STATUS_OK;
}

}  // namespace

extern "C" {

const char* pocketrec_version(void) {
  return POCKETREC_VERSION_STRING;
}
uint32_t pocketrec_format_version_max(void) {
  return pocketrec::format::kVersion;
}
const char* pocketrec_kernel_isa(void) {
  return pocketrec::runtime::kernels().isa;
}
const char* pocketrec_last_error(void) {
  return g_last_error.c_str();
}

const char* pocketrec_status_name(pocketrec_status status) {
  switch (status) {
    case POCKETREC_STATUS_OK: return "OK";
    case POCKETREC_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case POCKETREC_STATUS_NOT_FOUND: return "NOT_FOUND";
    case POCKETREC_STATUS_IO: return "IO";
    case POCKETREC_STATUS_BAD_FORMAT: return "BAD_FORMAT";
    case POCKETREC_STATUS_UNSUPPORTED_VERSION: return "UNSUPPORTED_VERSION";
    case POCKETREC_STATUS_CHECKSUM_MISMATCH: return "CHECKSUM_MISMATCH";
    case POCKETREC_STATUS_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case POCKETREC_STATUS_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN";
}

pocketrec_model_params pocketrec_model_default_params(void) {
  pocketrec_model_params p;
  p.scoring = POCKETREC_SCORING_AUTO;
  return p;
}

pocketrec_status pocketrec_model_load_file(const char* path, const pocketrec_model_params* params,
                                           pocketrec_model** out_model) {
  API_BEGIN
  if (out_model) *out_model = nullptr;
  if (!path) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "path is NULL"));
  std::FILE* f = std::fopen(path, "rb");
  if (!f) return fail(make_status(POCKETREC_STATUS_NOT_FOUND, "%s: cannot open: %s", path, std::strerror(errno)));
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size < 0) {
    std::fclose(f);
    return fail(make_status(POCKETREC_STATUS_IO, "%s: cannot read its size", path));
  }
  std::vector<uint64_t> storage((static_cast<size_t>(size) + 7) / 8);
  const size_t got = std::fread(storage.data(), 1, static_cast<size_t>(size), f);
  std::fclose(f);
  if (got != static_cast<size_t>(size))
    return fail(make_status(POCKETREC_STATUS_IO, "%s: read %zu of %ld bytes", path, got, size));
  return load(std::move(storage), static_cast<size_t>(size), path, params, out_model);
  API_END
}

pocketrec_status pocketrec_model_load_buffer(const void* data, size_t size, const pocketrec_model_params* params,
                                             pocketrec_model** out_model) {
  API_BEGIN
  if (out_model) *out_model = nullptr;
  if (!data && size > 0) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "data is NULL"));
  std::vector<uint64_t> storage((size + 7) / 8);
  if (size > 0) std::memcpy(storage.data(), data, size);
  return load(std::move(storage), size, "<buffer>", params, out_model);
  API_END
}

void pocketrec_model_free(pocketrec_model* model) {
  delete model;
}

size_t pocketrec_model_n_items(const pocketrec_model* m) {
  return m ? static_cast<size_t>(m->net->n_items()) : 0;
}
size_t pocketrec_model_n_users(const pocketrec_model* m) {
  return m ? static_cast<size_t>(m->net->n_users()) : 0;
}
size_t pocketrec_model_dim(const pocketrec_model* m) {
  return m ? static_cast<size_t>(m->net->dim()) : 0;
}
size_t pocketrec_model_max_history(const pocketrec_model* m) {
  return m ? static_cast<size_t>(m->net->max_history()) : 0;
}
const char* pocketrec_model_architecture(const pocketrec_model* m) {
  return m ? m->net->architecture().c_str() : "";
}
size_t pocketrec_model_weight_bytes(const pocketrec_model* m) {
  return m ? m->net->weight_bytes() : 0;
}
size_t pocketrec_model_file_bytes(const pocketrec_model* m) {
  return m ? m->file_bytes : 0;
}
const char* pocketrec_model_meta_string(const pocketrec_model* m, const char* key) {
  if (!m || !key) return nullptr;
  const pocketrec::runtime::MetaValue* v = m->file.find_meta(key);
  return v && v->type == pocketrec::format::MetaType::kString ? v->str.c_str() : nullptr;
}
pocketrec_scoring pocketrec_model_scoring(const pocketrec_model* m) {
  using Kind = pocketrec::runtime::ItemScorer::Kind;
  if (!m) return POCKETREC_SCORING_AUTO;
  switch (m->net->scorer().kind()) {
    case Kind::kFp32Table: return POCKETREC_SCORING_FP32_TABLE;
    case Kind::kInt8Table: return POCKETREC_SCORING_INT8_TABLE;
    case Kind::kSttCores:
    case Kind::kPqCodes: return POCKETREC_SCORING_CORES;
  }
  return POCKETREC_SCORING_AUTO;
}
int64_t pocketrec_model_item_id(const pocketrec_model* m, size_t index) {
  return m && index < m->items.ids.size() ? m->items.ids[index] : -1;
}

pocketrec_status pocketrec_context_init(const pocketrec_model* model, pocketrec_context** out_context) {
  API_BEGIN
  if (out_context) *out_context = nullptr;
  if (!model) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "model is NULL"));
  if (!out_context) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "out_context is NULL"));
  auto c = std::make_unique<pocketrec_context>();
  c->model = model;
  c->scratch.resize(std::max(model->net->scratch_floats(), model->net->scorer().scratch_floats()));
  c->scores.resize(model->net->scorer().output_floats());
  c->q.resize(model->net->query_floats());
  c->history.resize(static_cast<size_t>(model->net->max_history()));
  model->net->scorer().prepare(c->top_k);
  *out_context = c.release();
  return POCKETREC_STATUS_OK;
  API_END
}

void pocketrec_context_free(pocketrec_context* context) {
  delete context;
}

pocketrec_status pocketrec_context_set_user(pocketrec_context* ctx, int64_t user_id) {
  API_BEGIN
  if (!ctx) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "context is NULL"));
  const pocketrec_model* m = ctx->model;
  if (!m->net->needs_user())
    return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "this %s model has no user embeddings",
                            m->net->architecture().c_str()));
  const int32_t index = m->users.find(user_id);
  if (index < 0)
    return fail(
        make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "unknown user id %lld", static_cast<long long>(user_id)));
  ctx->user = index;
  return POCKETREC_STATUS_OK;
  API_END
}

pocketrec_status pocketrec_recommend(pocketrec_context* ctx, const int64_t* history, size_t n_history, size_t k,
                                     int exclude_history, int64_t* out_items, float* out_scores, size_t* out_n) {
  API_BEGIN
  if (!out_items || !out_scores || !out_n)
    return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "out_items, out_scores or out_n is NULL"));
  *out_n = 0;
  if (k == 0) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "k = 0: at least one item must be asked for"));
  return recommend_one(ctx, history, n_history, k, exclude_history, out_items, out_scores, out_n);
  API_END
}

pocketrec_status pocketrec_recommend_batch(pocketrec_context* ctx, const int64_t* history, const size_t* offsets,
                                           size_t n_queries, size_t k, int exclude_history, int64_t* out_items,
                                           float* out_scores, size_t* out_n) {
  API_BEGIN
  if (!offsets) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "offsets is NULL"));
  if (!out_items || !out_scores || !out_n)
    return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "out_items, out_scores or out_n is NULL"));
  if (k == 0) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "k = 0: at least one item must be asked for"));
  // Checked before any query runs, so that nothing is written for a malformed batch (and a NULL
  // history is never offset into a pointer).
  for (size_t q = 0; q < n_queries; ++q) {
    out_n[q] = 0;
    if (offsets[q + 1] < offsets[q])
      return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "offsets[%zu] = %zu > offsets[%zu] = %zu", q,
                              offsets[q], q + 1, offsets[q + 1]));
  }
  if (!history && n_queries > 0 && offsets[n_queries] > offsets[0])
    return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "history is NULL"));
  for (size_t q = 0; q < n_queries; ++q) {
    pocketrec_status s = recommend_one(ctx, history + offsets[q], offsets[q + 1] - offsets[q], k, exclude_history,
                                       out_items + q * k, out_scores + q * k, out_n + q);
    if (s != POCKETREC_STATUS_OK) {
      g_last_error = "query " + std::to_string(q) + ": " + g_last_error;
      return s;
    }
  }
  return POCKETREC_STATUS_OK;
  API_END
}

pocketrec_status pocketrec_score_all(pocketrec_context* ctx, const int64_t* history, size_t n_history,
                                     float* out_scores) {
  API_BEGIN
  if (!out_scores) return fail(make_status(POCKETREC_STATUS_INVALID_ARGUMENT, "out_scores is NULL"));
  const pocketrec::runtime::FlushSubnormals flush;
  pocketrec_status s = query_history(ctx, history, n_history);
  if (s != POCKETREC_STATUS_OK) return s;
  ctx->model->net->scorer().score(ctx->q.data(), ctx->scratch.data(), ctx->scores.data());
  std::memcpy(out_scores, ctx->scores.data(), static_cast<size_t>(ctx->model->net->n_items()) * sizeof(float));
  return POCKETREC_STATUS_OK;
  API_END
}

}  // extern "C"
