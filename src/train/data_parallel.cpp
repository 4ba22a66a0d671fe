#include "train/data_parallel.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <exception>
#include <unordered_set>

#include "core/error.h"
#include "core/log.h"

namespace pocketrec::train {
namespace {

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
  torch::Tensor bucket;  // the small gradients, packed; allocated at the first step
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
    // Gloo connects the ranks pair by pair; the constructor can return on one rank while another is
    // still completing its side. The barrier makes joining mean that every rank has joined, so a
    // rank that leaves at once (closing its connections) cannot fail another's join.
    group_->pg->barrier()->wait();
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

double DataParallel::reduce_gradients(torch::nn::Module& module, int64_t count, double loss) {
  torch::NoGradGuard no_grad;
  // Every gradient is checked and made dense and contiguous before the first collective starts, so
  // a refusal never leaves the other ranks waiting on a half-issued step. A parameter registered
  // twice is reduced once. Which gradients go in place and which are packed depends only on the
  // shapes, so every rank issues the same collectives in the same order.
  std::vector<torch::Tensor> params;
  std::unordered_set<const void*> seen;
  int64_t total = 0, packed = 2;  // the bucket ends with the sample count and the weighted loss
  for (auto& p : module.parameters()) {
    if (!seen.insert(p.unsafeGetTensorImpl()).second) continue;
    torch::Tensor& g = p.mutable_grad();
    if (!g.defined()) g = torch::zeros_like(p);
    PR_CHECK(g.scalar_type() == torch::kFloat && g.layout() == torch::kStrided, ErrorCode::kInvalidArgument,
             "distributed training: dense float gradients only");
    if (!g.is_contiguous()) g = g.contiguous();
    total += p.numel();
    if (p.numel() < kDirectFloats) packed += p.numel();
    params.push_back(p);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto& bucket = group_->bucket;
  if (bucket.numel() != packed) bucket = torch::empty({packed}, torch::kFloat32);
  float* at = bucket.data_ptr<float>();
  for (auto& p : params)
    if (p.numel() < kDirectFloats) {
      std::copy_n(p.grad().data_ptr<float>(), p.numel(), at);
      at += p.numel();
    }
  at[0] = static_cast<float>(count);
  at[1] = static_cast<float>(static_cast<double>(count) * loss);

  // Every started collective is waited for, even after a failure, so none still writes into the
  // gradients or the bucket once the error leaves this function; the first failure is reported.
  std::vector<c10::intrusive_ptr<c10d::Work>> work;
  std::exception_ptr failure;
  try {
    collective(options_, "the gradient all-reduce", [&] {
      for (auto& p : params)
        if (p.numel() >= kDirectFloats) {
          std::vector<torch::Tensor> in_place{p.grad()};  // the sum lands in the gradient itself
          work.push_back(group_->pg->allreduce(in_place));
        }
      std::vector<torch::Tensor> packed_small{bucket};
      work.push_back(group_->pg->allreduce(packed_small));
    });
  } catch (...) {
    failure = std::current_exception();
  }
  for (auto& w : work) {
    try {
      collective(options_, "the gradient all-reduce", [&] { w->wait(); });
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);

  const float* from = bucket.data_ptr<float>();
  for (auto& p : params)
    if (p.numel() < kDirectFloats) {
      std::copy_n(from, p.numel(), p.mutable_grad().data_ptr<float>());
      from += p.numel();
    }
  PR_CHECK(from[0] > 0, ErrorCode::kInternal, "distributed training: a global batch without samples");
  bytes_per_step_ = static_cast<size_t>(total + 2) * sizeof(float);
  comm_seconds_ += seconds_since(t0);
  return from[1] / static_cast<double>(from[0]);
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
