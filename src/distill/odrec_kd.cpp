#include "distill/odrec_kd.h"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "core/error.h"
#include "data/popularity.h"
#include "kernels/full_softmax_cross_entropy.h"
#include "kernels/parallel_linear.h"

namespace pocketrec::distill {

namespace F = torch::nn::functional;

torch::Tensor info_nce_sum(const torch::Tensor& u, const torch::Tensor& v, double tau) {
  torch::Tensor un = F::normalize(u, F::NormalizeFuncOptions().dim(1));
  torch::Tensor vn = F::normalize(v, F::NormalizeFuncOptions().dim(1));
  torch::Tensor sim = torch::matmul(un, vn.t()) / tau;
  return (torch::logsumexp(sim, 1) - sim.diagonal()).sum();
}

HotColdBatch split_hot_cold(const torch::Tensor& seq, const torch::Tensor& lengths, const torch::Tensor& is_hot,
                            int64_t pad) {
  const int64_t B = seq.size(0), L = seq.size(1);
  torch::Tensor valid = seq.ne(pad);
  torch::Tensor hot = is_hot.index_select(0, seq.reshape({-1})).view({B, L}).logical_and(valid);
  torch::Tensor cold = valid.logical_and(hot.logical_not());
  torch::Tensor n_hot = hot.sum(1), n_cold = cold.sum(1), eligible = lengths.gt(1);
  HotColdBatch out;
  out.mixed = torch::nonzero(eligible & n_hot.gt(0) & n_cold.gt(0)).view({-1});
  out.cold_only = torch::nonzero(eligible & n_hot.eq(0)).view({-1});
  out.hot_only = torch::nonzero(eligible & n_cold.eq(0)).view({-1});
  torch::Tensor items = seq.index_select(0, out.mixed);
  // Order-preserving subsequence: item l goes to column (number of flagged items before it);
  // unflagged items go to a spare column L that is dropped.
  auto subsequence = [&](const torch::Tensor& flag) {
    torch::Tensor f = flag.index_select(0, out.mixed);
    torch::Tensor column = torch::where(f, f.cumsum(1) - 1, torch::full_like(items, L));
    torch::Tensor dst = torch::full({items.size(0), L + 1}, pad, items.options());
    return dst.scatter_(1, column, items).slice(1, 0, L);
  };
  out.hot_seq = subsequence(hot);
  out.cold_seq = subsequence(cold);
  out.hot_len = n_hot.index_select(0, out.mixed);
  out.cold_len = n_cold.index_select(0, out.mixed);
  return out;
}

OdRecKdHeadsImpl::OdRecKdHeadsImpl(int64_t d) {
  student_hot = register_module("student_hot", models::SoftAttentionReadout(d));
  student_cold = register_module("student_cold", models::SoftAttentionReadout(d));
  teacher_hot = register_module("teacher_hot", models::SoftAttentionReadout(d));
  teacher_cold = register_module("teacher_cold", models::SoftAttentionReadout(d));
  auto projection = [&](const char* name) {
    return register_module(name, torch::nn::Linear(torch::nn::LinearOptions(2 * d, d).bias(false)));
  };
  mlp = projection("mlp");
  mlp1 = projection("mlp1");
  mlp2 = projection("mlp2");
  mlp3 = projection("mlp3");
  torch::NoGradGuard g;
  for (auto& p : parameters()) p.uniform_(-0.1, 0.1);  // the reference's initialisation
}

OdRecKdLosses odrec_kd_losses(models::SessionEncoder& teacher, models::SessionEncoder& student, OdRecKdHeads& heads,
                              const torch::Tensor& is_hot, const train::Batch& batch, const OdRecKdOptions& o) {
  const torch::Tensor &seq = batch[0], &lengths = batch[1], &y = batch[2];
  OdRecKdLosses l;
  // Without the self-supervised terms there are no hot/cold views and no heads, and the teacher may
  // have another dimension: only the inputs' rows are gathered.
  const bool views = o.self_supervised();
  const int64_t B = seq.size(0);
  const HotColdBatch g = views ? split_hot_cold(seq, lengths, is_hot, is_hot.size(0) - 1) : HotColdBatch{};
  const int64_t M = views ? g.mixed.size(0) : 0;
  // The rows of the inputs and of the mixed sessions' hot and cold sub-sessions, in one gather from
  // each table: three separate gathers made the step about 10% slower (TrainStep/odrec_sskd_tmall
  // against TrainStep/sasrec_odrec_tmall in the same run).
  const torch::Tensor ids = views ? torch::cat({seq, g.hot_seq, g.cold_seq}) : seq;
  auto split = [&](const torch::Tensor& rows) {
    return std::make_tuple(rows.slice(0, 0, B), rows.slice(0, B, B + M), rows.slice(0, B + M));
  };
  torch::Tensor E_s = student.item_table();
  const auto [x_s, hot_s, cold_s] = split(student.item_rows(ids, E_s));
  torch::Tensor s_s = student.session_vectors(seq, lengths, x_s);
  torch::Tensor E_t, s_t, logits_t, x_t, hot_t, cold_t;
  {
    torch::NoGradGuard no_grad;  // the teacher is frozen (and in eval mode)
    E_t = teacher.item_table();
    std::tie(x_t, hot_t, cold_t) = split(teacher.item_rows(ids, E_t));
    s_t = teacher.session_vectors(seq, lengths, x_t);
    logits_t = kernels::parallel_linear(s_t, E_t, torch::Tensor());
  }
  // L_rec and L_kd over the student's scores s_s E_s^T, in one pass (the KL times T^2, see there).
  kernels::FullSoftmaxDistillation rec_kd = kernels::full_softmax_distillation(s_s, E_s, y, logits_t, o.temperature);
  l.rec = rec_kd.cross_entropy;
  l.kd = rec_kd.kl;
  if (!views) {
    l.cl = l.pred = torch::zeros({}, s_s.options());
    l.total = (1 - o.para) * l.rec + o.para * l.kd;
    return l;
  }
  const int64_t pad = is_hot.size(0) - 1;

  std::vector<torch::Tensor> u{}, v{}, u2{}, v2{}, ys{};
  if (M > 0) {
    torch::Tensor hot_valid = g.hot_seq.ne(pad), cold_valid = g.cold_seq.ne(pad);
    torch::Tensor z_s_hot = heads->student_hot(hot_s, hot_valid, g.hot_len);
    torch::Tensor z_s_cold = heads->student_cold(cold_s, cold_valid, g.cold_len);
    torch::Tensor z_t_hot = heads->teacher_hot(hot_t, hot_valid, g.hot_len);
    torch::Tensor z_t_cold = heads->teacher_cold(cold_t, cold_valid, g.cold_len);
    torch::Tensor student_hot_teacher_cold = torch::cat({z_s_hot, z_t_cold}, 1);
    torch::Tensor teacher_hot_student_cold = torch::cat({z_t_hot, z_s_cold}, 1);
    u.push_back(heads->mlp(student_hot_teacher_cold));
    v.push_back(heads->mlp1(teacher_hot_student_cold));
    u2.push_back(heads->mlp2(student_hot_teacher_cold));
    v2.push_back(heads->mlp3(teacher_hot_student_cold));
    ys.push_back(y.index_select(0, g.mixed));
  }
  auto pick = [](const torch::Tensor& s, const torch::Tensor& idx) { return s.index_select(0, idx); };
  // The pure sessions: the teacher's view against the student's.
  u.insert(u.end(), {pick(s_t, g.cold_only), pick(s_t, g.hot_only)});
  v.insert(v.end(), {pick(s_s, g.cold_only), pick(s_s, g.hot_only)});
  ys.insert(ys.end(), {y.index_select(0, g.cold_only), y.index_select(0, g.hot_only)});
  if (o.as_published) {  // docs/design/odrec.md §3.3.4: rows A are [s^S[hot-only]; s^T[cold-only]]
    u2.insert(u2.end(), {pick(s_s, g.hot_only), pick(s_t, g.cold_only)});
    v2.insert(v2.end(), {pick(s_s, g.cold_only), pick(s_t, g.hot_only)});
  } else {
    u2.insert(u2.end(), {pick(s_t, g.cold_only), pick(s_t, g.hot_only)});
    v2.insert(v2.end(), {pick(s_s, g.cold_only), pick(s_s, g.hot_only)});
  }
  torch::Tensor U = torch::cat(u), V = torch::cat(v), Y = torch::cat(ys);
  if (U.size(0) > 0) {
    l.cl = info_nce_sum(U, V, o.tau);
    auto unit = [](const torch::Tensor& x) { return F::normalize(x, F::NormalizeFuncOptions().dim(1)); };
    l.pred = kernels::full_softmax_cross_entropy(unit(torch::cat(u2)), E_s, Y) +
             kernels::full_softmax_cross_entropy(unit(torch::cat(v2)), E_t, Y);
  } else {
    l.cl = l.pred = torch::zeros({}, s_s.options());
  }
  l.total = (1 - o.para) * l.rec + o.para * l.kd + o.beta * l.cl + o.alpha * l.pred;
  return l;
}

namespace {

struct KdModule : torch::nn::Module {
  KdModule(std::shared_ptr<torch::nn::Module> student, OdRecKdHeads heads) {
    register_module("student", std::move(student));
    if (heads) register_module("heads", std::move(heads));
  }
};

}  // namespace

OdRecKdTask make_odrec_kd_task(models::SessionEncoder& teacher, models::SessionEncoder& student,
                               const train::TrainTask& student_task, const data::Dataset& data,
                               const OdRecKdOptions& options) {
  // The recombined views (docs/design/odrec.md §3.3) mix teacher and student rows: one dimension.
  PR_CHECK(!options.self_supervised() || teacher.dim() == student.dim(), ErrorCode::kInvalidArgument,
           "distill: the teacher's dimension {} differs from the student's {} (the contrastive and predictive terms "
           "need one; distill.beta=0 and distill.alpha=0 train with the KL term only)",
           teacher.dim(), student.dim());
  teacher.encoder_module().eval();
  torch::Tensor is_hot;  // the hot/cold views' item split; the plain KD has none
  if (options.self_supervised()) {
    std::vector<uint8_t> hot = data::hot_items(data.train, data.n_items, options.hot_fraction);
    is_hot = torch::from_blob(hot.data(), {static_cast<int64_t>(hot.size())}, torch::kUInt8).to(torch::kBool);
  }
  OdRecKdHeads heads = options.self_supervised() ? OdRecKdHeads(student.dim()) : OdRecKdHeads(nullptr);
  auto module = std::make_shared<KdModule>(student.encoder_module().shared_from_this(), heads);
  auto loss = [&teacher, &student, heads, is_hot, options](const train::Batch& b) mutable {
    return odrec_kd_losses(teacher, student, heads, is_hot, b, options).total;
  };
  OdRecKdTask t{module, heads, is_hot,
                train::TrainTask{*module, student_task.n_samples, student_task.make_batch, loss, ""}};
  return t;
}

}  // namespace pocketrec::distill
