#include "train/data_parallel.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

#include "core/error.h"
#include "core/log.h"

namespace pocketrec::train {
namespace {

// Gradients travel in buckets of at most this many floats (16 MB): each bucket's all-reduce starts
// as soon as it is packed, so packing the next overlaps the network.
constexpr int64_t kBucketFloats = int64_t{4} << 20;

std::pair<std::string, uint16_t> split_host_port(const std::string& master) {
  const size_t colon = master.rfind(':');
  PR_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < master.size(), ErrorCode::kInvalidArgument,
           "dist.master: '{}' is not HOST:PORT", master);
  const std::string host = master.substr(0, colon), port_text = master.substr(colon + 1);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(port_text, &used);
    PR_CHECK(used == port_text.size(), ErrorCode::kInvalidArgument, "dist.master: '{}': bad port", master);
  } catch (const std::logic_error&) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("dist.master: '{}': bad port", master));
  }
  PR_CHECK(port > 0 && port < 65536, ErrorCode::kInvalidArgument, "dist.master: port {} is out of range", port);
  return {host, static_cast<uint16_t>(port)};
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct DataParallel::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::vector<torch::Tensor> buckets;  // flat gradient buffers, allocated at the first step
};

uint64_t step_seed(uint64_t seed, int64_t rank, int64_t step) {
  auto mix = [](uint64_t z) {  // SplitMix64's finaliser
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ static_cast<uint64_t>(rank)) ^ static_cast<uint64_t>(step));
}

// Runs one collective and turns every c10d / Gloo failure into an Error that says which rank and
// which operation failed, and the likely cause.
template <typename F>
void collective(const DistOptions& o, const char* what, F f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (const size_t nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw Error(ErrorCode::kIo, fmt::format("distributed training: {} failed on rank {} of {}: {} (another rank died, "
                                            "or did not answer within dist.timeout_s = {} s)",
                                            what, o.rank, o.world_size, msg, o.timeout_s));
  }
}

DataParallel::DataParallel(const DistOptions& o) : options_(o), group_(std::make_unique<Group>()) {
  PR_CHECK(o.world_size >= 2, ErrorCode::kInvalidArgument, "dist.world_size: {} (data parallelism needs >= 2)",
           o.world_size);
  PR_CHECK(o.rank >= 0 && o.rank < o.world_size, ErrorCode::kInvalidArgument,
           "dist.rank: {} is not in [0, dist.world_size = {})", o.rank, o.world_size);
  PR_CHECK(o.timeout_s > 0, ErrorCode::kInvalidArgument, "dist.timeout_s: must be > 0");
  const auto [host, port] = split_host_port(o.master);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  log_info("distributed: rank {} of {}, rendezvous at {}:{}", o.rank, o.world_size, host, port);
  try {
    c10d::TCPStoreOptions so;
    so.port = port;
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<size_t>(o.world_size);
    so.timeout = timeout;
    group_->store = c10::make_intrusive<c10d::TCPStore>(host, so);
    auto po = c10d::ProcessGroupGloo::Options::create(timeout);
    // On one host every rank binds to loopback; across hosts, to the address of its own hostname.
    po->devices.push_back(is_loopback(host) ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                            : c10d::ProcessGroupGloo::createDefaultDevice());
    po->threads = 1;
    group_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, static_cast<int>(o.rank),
                                                             static_cast<int>(o.world_size), po);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (const size_t nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw Error(ErrorCode::kIo, fmt::format("distributed training: rank {} could not join the group at dist.master = "
                                            "{} within dist.timeout_s = {} s: {}",
                                            o.rank, o.master, o.timeout_s, msg));
  }
}

DataParallel::~DataParallel() = default;

std::pair<int64_t, int64_t> DataParallel::shard(int64_t n) const {
  const int64_t N = options_.world_size, r = options_.rank, base = n / N, extra = n % N;
  return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

void DataParallel::broadcast_module(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  for (const auto& p : module.parameters()) flat.push_back(p.detach().reshape(-1));
  for (const auto& b : module.buffers())
    if (b.is_floating_point()) flat.push_back(b.detach().reshape(-1));
  if (flat.empty()) return;
  torch::Tensor all = torch::cat(flat);
  std::vector<torch::Tensor> t{all};
  collective(options_, "broadcasting the initial parameters", [&] { group_->pg->broadcast(t)->wait(); });
  int64_t at = 0;
  auto take = [&](const torch::Tensor& dst) {
    dst.view(-1).copy_(all.slice(0, at, at + dst.numel()));
    at += dst.numel();
  };
  for (const auto& p : module.parameters()) take(p.detach());
  for (const auto& b : module.buffers())
    if (b.is_floating_point()) take(b.detach());
}

double DataParallel::reduce_gradients(torch::nn::Module& module, double weight, double loss) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params = module.parameters();
  int64_t total = 2;  // + the weight and the weighted loss
  for (const auto& p : params) total += p.numel();
  auto& buckets = group_->buckets;
  if (buckets.empty())
    for (int64_t at = 0; at < total; at += kBucketFloats)
      buckets.push_back(torch::empty({std::min(kBucketFloats, total - at)}, torch::kFloat32));
  const auto t0 = std::chrono::steady_clock::now();
  // Pack weight * grad in parameter order, start each bucket's all-reduce once it is full.
  std::vector<c10::intrusive_ptr<c10d::Work>> work;
  size_t bucket = 0;
  int64_t at = 0;  // position in the current bucket
  auto start = [&](size_t b) {
    std::vector<torch::Tensor> t{buckets[b]};
    collective(options_, "the gradient all-reduce", [&] { work.push_back(group_->pg->allreduce(t)); });
  };
  auto put = [&](const float* src, int64_t n) {
    while (n > 0) {
      const int64_t room = buckets[bucket].numel() - at, m = std::min(room, n);
      float* dst = buckets[bucket].data_ptr<float>() + at;
      if (src) {
        for (int64_t i = 0; i < m; ++i) dst[i] = static_cast<float>(weight) * src[i];
        src += m;
      } else {
        std::fill(dst, dst + m, 0.0f);
      }
      at += m;
      n -= m;
      if (at == buckets[bucket].numel()) {
        start(bucket++);
        at = 0;
      }
    }
  };
  for (const auto& p : params) {
    const torch::Tensor& g = p.grad();
    put(g.defined() ? g.contiguous().data_ptr<float>() : nullptr, p.numel());
  }
  const float tail[2] = {static_cast<float>(weight), static_cast<float>(weight * loss)};
  weight = 1.0;  // the tail is packed as is
  put(tail, 2);
  collective(options_, "the gradient all-reduce", [&] {
    for (auto& w : work) w->wait();
  });
  // Unpack: grad = sum_r w_r g_r / sum_r w_r.
  const torch::Tensor& last = buckets.back();
  const float total_weight = last.data_ptr<float>()[last.numel() - 2];
  const double mean_loss = last.data_ptr<float>()[last.numel() - 1] / static_cast<double>(total_weight);
  PR_CHECK(total_weight > 0, ErrorCode::kInternal, "distributed training: a global batch without samples");
  const float inv = 1.0f / total_weight;
  bucket = 0;
  at = 0;
  for (auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    float* dst = p.mutable_grad().data_ptr<float>();
    for (int64_t n = p.numel(); n > 0;) {
      const int64_t m = std::min(buckets[bucket].numel() - at, n);
      const float* src = buckets[bucket].data_ptr<float>() + at;
      for (int64_t i = 0; i < m; ++i) dst[i] = src[i] * inv;
      dst += m;
      at += m;
      n -= m;
      if (at == buckets[bucket].numel()) ++bucket, at = 0;
    }
  }
  bytes_per_step_ = static_cast<size_t>(total) * sizeof(float);
  comm_seconds_ += seconds_since(t0);
  return mean_loss;
}

std::vector<double> DataParallel::broadcast(std::vector<double> values) {
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  std::vector<torch::Tensor> ts{t};
  collective(options_, "broadcasting rank 0's decision", [&] { group_->pg->broadcast(ts)->wait(); });
  for (size_t i = 0; i < values.size(); ++i) values[i] = t[static_cast<int64_t>(i)].item<double>();
  return values;
}

void DataParallel::barrier() {
  collective(options_, "a barrier", [&] { group_->pg->barrier()->wait(); });
}

}  // namespace pocketrec::train
