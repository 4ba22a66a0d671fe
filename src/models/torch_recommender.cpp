#include "models/torch_recommender.h"

#include "core/array_archive.h"
#include "core/error.h"

namespace pocketrec::models {

void TorchRecommender::fit(const data::Dataset& data, const FitContext& ctx) {
  fit_task(data, ctx, make_task(data, ctx.config));
}

void TorchRecommender::fit_task(const data::Dataset& data, const FitContext& ctx, train::TrainTask task) {
  task.data_fingerprint = data_fingerprint(data);
  summary_ = train::run_training(task, *this, ctx).to_json();
}

void TorchRecommender::save(const std::string& path) const {
  ArrayArchive ar;
  ar.meta["model"] = model_name();
  for (const auto& p : module().named_parameters()) {
    std::vector<uint64_t> shape(p.value().sizes().begin(), p.value().sizes().end());
    ar.add(p.key(), to_float_vector(p.value()).data(), shape);
  }
  for (const auto& b : module().named_buffers()) {  // int64 index buffers (an STT table's item order)
    PR_CHECK(b.value().scalar_type() == torch::kInt64, ErrorCode::kInternal, "save: buffer '{}' is not int64", b.key());
    const torch::Tensor t = b.value().contiguous();
    ar.add(b.key(), t.data_ptr<int64_t>(), std::vector<uint64_t>(t.sizes().begin(), t.sizes().end()));
  }
  ar.save(path);
}

void TorchRecommender::load(const std::string& path) {
  ArrayArchive ar = ArrayArchive::load(path);
  PR_CHECK(ar.meta.value("model", "") == model_name(), ErrorCode::kBadFormat, "{}: not a {} model (found '{}')", path,
           model_name(), ar.meta.value("model", ""));
  torch::NoGradGuard g;
  for (auto& p : module().named_parameters()) {
    std::vector<uint64_t> shape(p.value().sizes().begin(), p.value().sizes().end());
    std::vector<float> v = ar.get_vector<float>(p.key(), shape);
    p.value().copy_(torch::from_blob(v.data(), p.value().sizes()));
  }
  for (auto& b : module().named_buffers()) {
    std::vector<int64_t> v = ar.get_vector<int64_t>(b.key(), std::vector<uint64_t>(b.value().sizes().begin(), b.value().sizes().end()));
    b.value().copy_(torch::from_blob(v.data(), b.value().sizes(), torch::kInt64));
  }
}

int64_t TorchRecommender::n_parameters() const {
  int64_t n = 0;
  for (const auto& p : module().parameters()) n += p.numel();
  return n;
}

std::string data_fingerprint(const data::Dataset& d) {
  std::string s;
  for (int32_t i = 0; i < d.item_ids.size(); ++i) s += d.item_ids.token(i) + '\n';
  s += '|';
  for (int32_t u = 0; u < d.user_ids.size(); ++u) s += d.user_ids.token(u) + '\n';
  return fmt::format("items={} users={} train={} crc={:08x}", d.n_items, d.n_users, d.train.total(),
                     crc32_of(s.data(), s.size()));
}

std::vector<float> to_float_vector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().contiguous().to(torch::kFloat32);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

torch::Tensor int64_tensor(const std::vector<int64_t>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<int64_t*>(v.data()), shape, torch::kInt64).clone();
}

torch::Tensor activation(const std::string& name, const torch::Tensor& x) {
  if (name == "iden") return x;
  if (name == "relu") return torch::relu(x);
  if (name == "tanh") return torch::tanh(x);
  if (name == "sigm") return torch::sigmoid(x);
  if (name == "gelu") return torch::gelu(x);
  PR_FAIL(ErrorCode::kInvalidArgument, "unknown activation '{}' (iden, relu, tanh, sigm, gelu)", name);
}

}  // namespace pocketrec::models
