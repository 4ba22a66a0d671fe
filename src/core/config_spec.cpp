// The single table of configuration keys. Adding a key here makes it parseable, validated,
// documented (docs/config.md) and readable through Config.
#include "core/config.h"

namespace pocketrec {

const std::vector<ConfigKeySpec>& config_spec() {
  using T = ConfigType;
  using J = nlohmann::json;
  static const std::vector<ConfigKeySpec> spec = {
      // ---- data ----
      {"data.path", T::kString, "", "Dataset file or folder (relative paths are relative to the working directory)."},
      {"data.format", T::kString, "auto",
       "Input format; `auto` detects it from the folder layout (see docs/data.md).",
       {"auto", "triplet", "checkin", "inter", "sequence", "session", "presplit"}},
      {"data.columns", T::kString, "user item rating timestamp",
       "Column names of whitespace `triplet` files, in order; trailing columns are optional. Names: user, item, "
       "rating, timestamp, skip."},
      {"data.min_rating", T::kFloat, 0.0, "Interactions with a rating below this are dropped (files without ratings "
                                          "count every interaction as rating 1)."},
      {"data.dedup", T::kString, "none",
       "Repeated (user, item) pairs: keep all, or keep only the first occurrence in time (Caser's rate_once).",
       {"none", "first"}},
      {"data.user_core", T::kInt, 0, "k-core: users with fewer interactions are removed (iterated with item_core).",
       {}, 0.0},
      {"data.item_core", T::kInt, 0, "k-core: items with fewer interactions are removed (iterated with user_core).",
       {}, 0.0},
      // ---- split ----
      {"split.method", T::kString, "temporal_ratio",
       "How train/validation/test are formed: per-user chronological ratios, leave-one-out (last = test, "
       "second-last = validation), or the files' own train/test split with a validation carve-out from train.",
       {"temporal_ratio", "leave_one_out", "given"}},
      {"split.ratios", T::kFloatList, J::array({0.7, 0.1, 0.2}),
       "train/validation/test fractions of each user's chronological sequence (temporal_ratio).", {}, 0.0, 1.0},
      {"split.valid_source", T::kString, "last",
       "Validation carve-out of a given split: the last sessions (or each user's last interactions) by order, or a "
       "seeded random fraction.",
       {"last", "random"}},
      {"split.valid_fraction", T::kFloat, 0.1, "Fraction of the training part carved out for validation (given split).",
       {}, 0.0, 0.9},
      {"split.seed", T::kInt, 2024, "Seed of the random validation carve-out."},
      // ---- model ----
      {"model.name", T::kString, "pop", "Registered model name (`pocketrec list models`)."},
      {"model.dim", T::kInt, 64, "Embedding dimension of latent-factor models.", {}, 1.0},
      {"model.itemcf_neighbors", T::kInt, 0,
       "ItemCF: keep only the k most similar neighbours per item (0 = all).", {}, 0.0},
      {"model.itemcf_shrink", T::kFloat, 0.0, "ItemCF: shrinkage added to the cosine denominator.", {}, 0.0},
      {"model.bpr_query", T::kString, "auto",
       "BPR query vector: a learned user factor, or the mean of the history's item factors (the GRU4Rec way of "
       "applying BPR-MF to sessions). `auto` uses users when the data has them.",
       {"auto", "user", "mean_items"}},
      {"model.init_std", T::kFloat, 0.1, "Std of the normal initialisation of embedding tables.", {}, 0.0},
      {"model.window", T::kInt, 5, "Caser: the last L items the convolutions see; Fossil: the Markov-chain order L.",
       {}, 1.0},
      {"model.dropout", T::kFloat, 0.5, "Dropout probability (Caser, SASRec).", {}, 0.0, 0.99},
      {"model.caser_nv", T::kInt, 2, "Caser: vertical convolution filters.", {}, 1.0},
      {"model.caser_nh", T::kInt, 16, "Caser: horizontal filters per height 1..L.", {}, 1.0},
      {"model.caser_targets", T::kInt, 1,
       "Caser: T, the next items each training window predicts (the RD reference: 1; caser_pytorch: 3). "
       "train.neg_samples negatives are drawn per target.", {}, 1.0},
      {"model.caser_ac_conv", T::kString, "iden", "Caser: activation after the horizontal convolutions.",
       {"iden", "relu", "tanh", "sigm"}},
      {"model.caser_ac_fc", T::kString, "sigm", "Caser: activation after the fully connected layer.",
       {"iden", "relu", "tanh", "sigm"}},
      {"model.fossil_alpha", T::kFloat, 0.2, "Fossil: exponent of the FISM normalisation |I_u|^-alpha.", {}, 0.0,
       1.0},
      {"model.sasrec_variant", T::kString, "standard",
       "SASRec: the original pre-LN model read at the last position (Kang & McAuley), or the OD-Rec teacher "
       "(post-LN, GELU, soft-attention readout; odrec.md §1).",
       {"standard", "odrec"}},
      {"model.max_len", T::kInt, 50, "SASRec: the most recent items the encoder sees.", {}, 1.0},
      {"model.layers", T::kInt, 2, "SASRec: transformer layers.", {}, 1.0},
      {"model.heads", T::kInt, 1, "SASRec: attention heads (must divide model.dim).", {}, 1.0},
      {"model.inner", T::kInt, 0, "SASRec: feed-forward inner size (0 = model.dim).", {}, 0.0},
      {"model.item_table", T::kString, "dense",
       "SASRec item table: dense, or semi-tensor-train cores (OD-Rec students; the model.stt_* keys).",
       {"dense", "stt"}},
      {"model.stt_items", T::kIntList, J::array(),
       "STT item factors I_1..I_K (their product >= the item count); empty: chosen from the item count.", {}, 1.0},
      {"model.stt_dims", T::kIntList, J::array(),
       "STT dimension factors J_1..J_K (their product = model.dim); empty: the most balanced factorisation.", {},
       1.0},
      {"model.stt_cores", T::kInt, 2, "STT: number of cores when the factors are chosen automatically.", {}, 2.0, 3.0},
      {"model.stt_rank", T::kInt, 60, "STT: tensor-train rank R (divisible by model.stt_t).", {}, 1.0},
      {"model.stt_t", T::kInt, 2, "STT: semi-tensor-product factor t (1 = plain tensor train).", {}, 1.0},
      {"model.stt_layout", T::kString, "canonical",
       "STT item layout: canonical TT-matrix rows (item v = (i_1..i_K) in mixed radix) or the OD-Rec training "
       "code's flat reshape of the core product.",
       {"canonical", "flat"}},
      {"model.stt_item_order", T::kString, "id",
       "STT: which slot each item's row takes. id: item v at slot v; teacher (pocketrec distill only): items "
       "the teacher embeds alike share core slices (compress/item_order.h), computed from the teacher once.",
       {"id", "teacher"}},
      // ---- distillation ----
      {"distill.teacher", T::kString, "", "Run directory of the trained teacher (`pocketrec train` output)."},
      {"distill.method", T::kString, "odrec",
       "Distillation method: OD-Rec self-supervised KD (odrec.md §3) or Ranking Distillation (rankdistill.md §4).",
       {"odrec", "rd"}},
      {"distill.para", T::kFloat, 0.8, "OD-Rec: weight of the teacher-student KL term (the rest goes to the "
                                       "recommendation loss).", {}, 0.0, 1.0},
      {"distill.beta", T::kFloat, 0.2, "OD-Rec: weight of the contrastive (InfoNCE) term.", {}, 0.0},
      {"distill.alpha", T::kFloat, 0.001, "OD-Rec: weight of the predictive term.", {}, 0.0},
      {"distill.tau", T::kFloat, 0.2, "OD-Rec: InfoNCE temperature.", {}, 1e-6},
      {"distill.temperature", T::kFloat, 1.0,
       "OD-Rec: softmax temperature T of the KL term (scaled by T^2, as in Hinton et al.).", {}, 1e-6},
      {"distill.hot_fraction", T::kFloat, 0.2,
       "OD-Rec: fraction of the distinct training items that are hot (by frequency in the input prefixes).", {},
       0.0, 1.0},
      {"distill.as_published", T::kBool, false,
       "OD-Rec: keep the reference code's misaligned predictive-loss targets (odrec.md §3.3.4). RD: the teacher's "
       "top-K excludes only the sample's own target, not all of the user's training items (rankdistill.md §9.4)."},
      {"distill.rd_k", T::kInt, 10, "RD: the teacher's top-K items distilled per training sample.", {}, 1.0},
      {"distill.rd_lambda", T::kFloat, 1.0, "RD: position importance w_r proportional to exp(-r / lambda).", {}, 1e-9},
      {"distill.rd_mu", T::kFloat, 0.1, "RD: ranking discrepancy w_r = max(tanh(mu (rank_student - r)), 0).", {},
       0.0},
      {"distill.rd_alpha", T::kFloat, 1.0,
       "RD: weight of the distillation loss (reference form L_R + alpha L_D; paper form (1 - alpha) L_R + alpha "
       "L_D).", {}, 0.0},
      {"distill.rd_samples", T::kInt, 100, "RD: items sampled per training sample to estimate the student's rank.",
       {}, 1.0},
      {"distill.rd_start_epoch", T::kInt, 10,
       "RD: the ranking-discrepancy weight is used from the epoch after this one (before it, weights are "
       "position or uniform only).", {}, 0.0},
      {"distill.rd_weighting", T::kString, "hybrid",
       "RD: weights of the K distilled items: uniform 1/K, position, discrepancy (uniform x discrepancy), or "
       "hybrid (position x discrepancy).",
       {"uniform", "position", "discrepancy", "hybrid"}},
      {"distill.rd_renormalize", T::kBool, false,
       "RD: renormalise each sample's weights to sum 1 (the paper) instead of not (the reference code)."},
      {"distill.rd_loss_form", T::kString, "reference",
       "RD: reference = L_R + alpha L_D (the code), paper = (1 - alpha) L_R + alpha L_D.", {"reference", "paper"}},
      {"distill.rd_cache", T::kString, "",
       "RD: the teacher top-K cache file; empty = topk_K<k>_<exclusion>.prarr in the teacher's run directory. "
       "Built when missing; refused when it was built from another teacher or data."},
      // ---- training ----
      {"train.epochs", T::kInt, 50, "Maximum number of epochs.", {}, 0.0},
      {"train.batch_size", T::kInt, 1024, "Training mini-batch size.", {}, 1.0},
      {"train.lr", T::kFloat, 1e-3, "Adam learning rate.", {}, 1e-12},
      {"train.l2", T::kFloat, 0.0, "Coupled L2 (Adam weight_decay: added to the gradient) on all parameters.", {},
       0.0},
      {"train.neg_samples", T::kInt, 1, "Negatives per positive for sampled losses.", {}, 1.0},
      {"train.neg_exclude_history", T::kBool, true,
       "Negatives are drawn uniformly from items outside the user's training history (else: any item but the "
       "positive)."},
      {"train.eval_every", T::kInt, 1, "Evaluate on validation every n epochs.", {}, 1.0},
      {"train.patience", T::kInt, 5,
       "Early stopping: stop after this many validation rounds without improvement (0 = never stop early).", {}, 0.0},
      {"train.seed", T::kInt, 2024, "Seed of initialisation, shuffling and sampling."},
      {"train.weight_decay", T::kFloat, 0.0,
       "Decoupled weight decay (AdamW); 0 uses Adam with the coupled train.l2. Setting both is an error.", {}, 0.0},
      {"train.loss", T::kString, "auto",
       "Training loss of models that offer several: full-softmax cross-entropy, or sigmoid BCE with "
       "train.neg_samples sampled negatives; auto = the model's default.",
       {"auto", "ce", "bce"}},
      {"train.resume", T::kBool, false,
       "Continue the run in output.dir from its last checkpoint (same config and data required); the result is "
       "identical to an uninterrupted run."},
      {"train.checkpoint", T::kBool, true,
       "Write checkpoint_last.ckpt (every epoch) and checkpoint_best.ckpt (best validation) into output.dir."},
      // ---- evaluation ----
      {"eval.ks", T::kIntList, J::array({5, 10, 20}), "Cut-offs k of the @k metrics.", {}, 1.0},
      {"eval.metrics", T::kStringList, J::array({"prec", "recall", "hr", "ndcg", "mrr", "map"}),
       "Metrics to report (docs/metrics.md): @k metrics for every k, and `map` over the full ranking.",
       {"prec", "recall", "hr", "ndcg", "ndcg_rd", "mrr", "map", "map_k"}},
      {"eval.valid_metric", T::kString, "ndcg@10", "Validation metric for early stopping and model selection."},
      {"eval.mask_history", T::kBool, true,
       "Exclude the query's history items from its ranking (RD protocol: true; session protocol: false)."},
      {"eval.batch_size", T::kInt, 256, "Queries scored per batch (never changes results).", {}, 1.0},
      {"eval.item_chunk", T::kInt, 2048, "Items scored per chunk (bounds memory; never changes results).", {}, 16.0},
      {"eval.threads", T::kInt, 0, "Evaluation threads (0 = all cores; never changes results).", {}, 0.0},
      {"eval.sampled_negatives", T::kInt, 0,
       "0 = full ranking over all items. n > 0 ranks each target against n sampled items instead; the report then "
       "labels every metric `sampled`.",
       {}, 0.0},
      {"eval.popularity_split", T::kFloat, 0.0,
       "0 = off. f > 0 also reports every metric for the queries whose targets are hot (the top fraction f of "
       "the items by training frequency, the definition distill.hot_fraction uses) and for those whose targets "
       "are cold (the long tail), under `groups` in the results.",
       {}, 0.0, 1.0},
      {"eval.repeat_split", T::kBool, false,
       "Also report every metric for the queries whose targets all occur in their history (`repeat`) and for "
       "those whose targets all do not (`new`), under `groups` in the results."},
      // ---- process ----
      {"threads.torch", T::kInt, 0, "LibTorch intra-op threads (0 = available cores).", {}, 0.0},
      {"threads.blas", T::kInt, 1, "OpenBLAS threads (1 avoids oversubscription with LibTorch's OpenMP).", {}, 1.0},
      // ---- output ----
      {"output.dir", T::kString, "runs/default", "Run directory: model, id maps, resolved config, logs, results."},
      {"output.progress", T::kBool, true, "Show progress bars on stderr."},
  };
  return spec;
}

}  // namespace pocketrec
