#include "models/torch_model.h"

#include "core/array_archive.h"
#include "core/error.h"

namespace pocketrec::models {

train::TrainTask TorchModel::training_task(const data::Dataset& data) {
  train::TrainTask task = make_task(data);
  task.data_fingerprint = data_fingerprint(data);
  return task;
}

const data::NegativeSampler& TorchModel::negative_sampler(const data::Dataset& data, const SamplingOptions& sampling) {
  if (!sampler_) sampler_ = std::make_unique<data::NegativeSampler>(data.train, data.n_items, sampling.exclude_history);
  return *sampler_;
}

void TorchModel::save(const std::string& path) const {
  ArrayArchive ar;
  ar.meta["model"] = model_name();
  for (const auto& p : module().named_parameters()) {
    std::vector<uint64_t> shape(p.value().sizes().begin(), p.value().sizes().end());
    ar.add(p.key(), to_float_vector(p.value()).data(), shape);
  }
  // Buffers: int64 indices (an STT item order, PQ codes) and fixed float arrays (a PQ rotation).
  for (const auto& b : module().named_buffers()) {
    const torch::Tensor t = b.value().contiguous();
    const std::vector<uint64_t> shape(t.sizes().begin(), t.sizes().end());
    if (t.scalar_type() == torch::kInt64)
      ar.add(b.key(), t.data_ptr<int64_t>(), shape);
    else if (t.scalar_type() == torch::kFloat32)
      ar.add(b.key(), t.data_ptr<float>(), shape);
    else
      PR_FAIL(ErrorCode::kInternal, "save: buffer '{}' is neither int64 nor float", b.key());
  }
  ar.save(path);
}

void TorchModel::load(const std::string& path) {
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
    const std::vector<uint64_t> shape(b.value().sizes().begin(), b.value().sizes().end());
    if (b.value().scalar_type() == torch::kInt64) {
      std::vector<int64_t> v = ar.get_vector<int64_t>(b.key(), shape);
      b.value().copy_(torch::from_blob(v.data(), b.value().sizes(), torch::kInt64));
    } else {
      std::vector<float> v = ar.get_vector<float>(b.key(), shape);
      b.value().copy_(torch::from_blob(v.data(), b.value().sizes()));
    }
  }
}

int64_t TorchModel::n_parameters() const {
  int64_t n = 0;
  for (const auto& p : module().parameters()) n += p.numel();
  return n;
}

int64_t copy_weights_outside_item_table(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard g;
  const auto source = from.named_parameters();
  int64_t copied = 0;
  for (auto& p : to.named_parameters()) {
    const std::string& name = p.key();
    if (name.rfind("item.", 0) == 0 || name.rfind("stt_item.", 0) == 0 || name.rfind("pq_item.", 0) == 0) continue;
    const torch::Tensor* t = source.find(name);
    if (t == nullptr || t->sizes() != p.value().sizes()) continue;
    p.value().copy_(*t);
    copied += p.value().numel();
  }
  return copied;
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
