/*
 * PocketRec on-device runtime: the whole public contract, valid C99 and C++.
 *
 * A model (.pocket file, docs/format.md) is loaded once into an immutable pocketrec_model that any
 * number of threads may share; each thread scores through its own pocketrec_context, which owns
 * every scratch buffer, so pocketrec_recommend allocates nothing.
 *
 *   pocketrec_model* model = NULL;
 *   pocketrec_model_params mp = pocketrec_model_default_params();
 *   if (pocketrec_model_load_file("student.pocket", &mp, &model) != POCKETREC_STATUS_OK)
 *     fprintf(stderr, "%s\n", pocketrec_last_error());
 *   pocketrec_context* ctx = NULL;
 *   pocketrec_context_init(model, &ctx);
 *   int64_t history[] = {12, 55, 7}, items[10];
 *   float scores[10];
 *   size_t n = 0;
 *   pocketrec_recommend(ctx, history, 3, 10, 1, items, scores, &n);
 *   pocketrec_context_free(ctx);
 *   pocketrec_model_free(model);
 *
 * Item ids are the dataset's original (integer) ids, as in the training files. Errors: every
 * fallible call returns a pocketrec_status and sets a thread-local message (pocketrec_last_error).
 */
#ifndef POCKETREC_POCKETREC_H_
#define POCKETREC_POCKETREC_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define POCKETREC_API __declspec(dllexport)
#else
#define POCKETREC_API __attribute__((visibility("default")))
#endif

/** Status codes; values are stable. */
typedef enum pocketrec_status {
  POCKETREC_STATUS_OK = 0,
  POCKETREC_STATUS_INVALID_ARGUMENT = 1,    /**< NULL pointer, k = 0, unknown item id, ... */
  POCKETREC_STATUS_NOT_FOUND = 2,           /**< the model file does not exist */
  POCKETREC_STATUS_IO = 3,                  /**< read failure */
  POCKETREC_STATUS_BAD_FORMAT = 4,          /**< not a .pocket file, truncated, inconsistent header */
  POCKETREC_STATUS_UNSUPPORTED_VERSION = 5, /**< written by a newer format version */
  POCKETREC_STATUS_CHECKSUM_MISMATCH = 6,   /**< corrupt file */
  POCKETREC_STATUS_OUT_OF_MEMORY = 7,
  POCKETREC_STATUS_INTERNAL = 8
} pocketrec_status;

/** How the item table is scored (the session vector against every item). */
typedef enum pocketrec_scoring {
  POCKETREC_SCORING_AUTO = 0,       /**< CORES for a compressed table, FP32_TABLE for a dense one */
  POCKETREC_SCORING_CORES = 1,      /**< straight from the compressed table (tensor-train cores, or PQ codes
                                         through a lookup table), never decompressed */
  POCKETREC_SCORING_FP32_TABLE = 2, /**< an n_items x d fp32 table (rebuilt from the cores at load) */
  POCKETREC_SCORING_INT8_TABLE = 3  /**< the table quantised to int8 with one fp32 scale per row */
} pocketrec_scoring;

typedef struct pocketrec_model_params {
  pocketrec_scoring scoring;
  /* New fields are only ever appended. */
} pocketrec_model_params;

/** An immutable loaded model; thread-safe to share. */
typedef struct pocketrec_model pocketrec_model;
/** One thread's scratch for scoring; use from one thread at a time. */
typedef struct pocketrec_context pocketrec_context;

POCKETREC_API const char* pocketrec_version(void);
/** The newest .pocket format version this runtime reads. */
POCKETREC_API uint32_t pocketrec_format_version_max(void);
/**
 * The instruction set of the scoring kernels this process uses: "baseline" (the target's portable
 * one), "avx2" or "avx512" (x86-64), the widest the CPU supports unless the environment variable
 * POCKETREC_RUNTIME_ISA names a narrower one. Chosen once per process.
 */
POCKETREC_API const char* pocketrec_kernel_isa(void);
POCKETREC_API const char* pocketrec_status_name(pocketrec_status status);
/** The message of the last failed call on this thread; valid until the next call on this thread. */
POCKETREC_API const char* pocketrec_last_error(void);

POCKETREC_API pocketrec_model_params pocketrec_model_default_params(void);
POCKETREC_API pocketrec_status pocketrec_model_load_file(const char* path, const pocketrec_model_params* params,
                                                         pocketrec_model** out_model);
/** Copies the bytes: the buffer may be freed as soon as the call returns. */
POCKETREC_API pocketrec_status pocketrec_model_load_buffer(const void* data, size_t size,
                                                           const pocketrec_model_params* params,
                                                           pocketrec_model** out_model);
/** NULL is a no-op. Free every context of the model first. */
POCKETREC_API void pocketrec_model_free(pocketrec_model* model);

POCKETREC_API size_t pocketrec_model_n_items(const pocketrec_model* model);
POCKETREC_API size_t pocketrec_model_dim(const pocketrec_model* model);
/** The most history items the model reads; longer histories use their last max_history items. */
POCKETREC_API size_t pocketrec_model_max_history(const pocketrec_model* model);
/** Users with their own parameters (Caser, Fossil); 0 for models that read only the history (SASRec). */
POCKETREC_API size_t pocketrec_model_n_users(const pocketrec_model* model);
/** "sasrec", "sasrec-odrec", "caser" or "fossil"; owned by the model. */
POCKETREC_API const char* pocketrec_model_architecture(const pocketrec_model* model);
/** Bytes of weights the model holds in memory (including any rebuilt or quantised table). */
POCKETREC_API size_t pocketrec_model_weight_bytes(const pocketrec_model* model);
/** Bytes of the .pocket file the model was loaded from. */
POCKETREC_API size_t pocketrec_model_file_bytes(const pocketrec_model* model);
/**
 * A string in the file's metadata (docs/format.md), e.g. "pocketrec.weights" (fp32, fp16, int8) or
 * "sasrec.item_table" (dense, stt, pq); NULL when the key is absent or not a string. Owned by the model.
 */
POCKETREC_API const char* pocketrec_model_meta_string(const pocketrec_model* model, const char* key);
/** How this model scores its item table: CORES, FP32_TABLE or INT8_TABLE (AUTO resolved at load). */
POCKETREC_API pocketrec_scoring pocketrec_model_scoring(const pocketrec_model* model);

/** The context borrows the model: free it before the model. */
POCKETREC_API pocketrec_status pocketrec_context_init(const pocketrec_model* model, pocketrec_context** out_context);
POCKETREC_API void pocketrec_context_free(pocketrec_context* context);
/**
 * For models with user embeddings (pocketrec_model_n_users > 0): the user (original id) every later
 * query of this context scores for. Such models refuse queries until it is set; others refuse it.
 */
POCKETREC_API pocketrec_status pocketrec_context_set_user(pocketrec_context* context, int64_t user_id);

/**
 * The k best items after history[0..n_history) (oldest first), best first.
 * exclude_history != 0 leaves the history's items out. out_items and out_scores hold k entries;
 * *out_n receives how many were written (k, or fewer if the catalogue is smaller). Allocates nothing.
 */
POCKETREC_API pocketrec_status pocketrec_recommend(pocketrec_context* context, const int64_t* history, size_t n_history,
                                                   size_t k, int exclude_history, int64_t* out_items, float* out_scores,
                                                   size_t* out_n);

/**
 * n_queries histories in one call: query q reads history[offsets[q] .. offsets[q+1]) (offsets has
 * n_queries + 1 entries) and writes k slots at out_items + q*k, out_scores + q*k, out_n[q].
 */
POCKETREC_API pocketrec_status pocketrec_recommend_batch(pocketrec_context* context, const int64_t* history,
                                                         const size_t* offsets, size_t n_queries, size_t k,
                                                         int exclude_history, int64_t* out_items, float* out_scores,
                                                         size_t* out_n);

/** Every item's score, out_scores[n_items] in the model's item order (pocketrec_model_item_id). */
POCKETREC_API pocketrec_status pocketrec_score_all(pocketrec_context* context, const int64_t* history, size_t n_history,
                                                   float* out_scores);
/** The original id of the item at position index (0 <= index < n_items), or -1. */
POCKETREC_API int64_t pocketrec_model_item_id(const pocketrec_model* model, size_t index);

#ifdef __cplusplus
}
#endif

#endif /* POCKETREC_POCKETREC_H_ */
