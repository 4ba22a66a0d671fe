// The gradient all-reduce of a distributed step on loopback, 2 ranks (forked), 1 thread each:
// DataParallel::reduce_gradients on a module shaped like the OD-Rec Tmall teacher (an item table of
// 40,728 x 128 and 137,984 other parameters), next to c10d's bare all-reduce of the same number of
// floats in fp32 and in fp16 (the compression a gradient could travel in). Prints the median
// milliseconds per call of each; docs/distributed.md reads them as the communication floor.
//
//   build/bench/bench_allreduce [repetitions=20] [port=29597]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "train/data_parallel.h"

namespace {

constexpr int64_t kItemRows = 40728, kDim = 128, kOtherParams = 137984;

double median_ms(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

template <class F>
double time_ms(int reps, F&& f) {
  f();  // warm-up: connections, buffers
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median_ms(ms);
}

struct TeacherShaped : torch::nn::Module {
  TeacherShaped() {
    item_table = register_parameter("item_table", torch::zeros({kItemRows, kDim}));
    others = register_parameter("others", torch::zeros({kOtherParams}));
  }
  torch::Tensor item_table, others;
};

int run_rank(int rank, int reps, int port) {
  at::set_num_threads(1);
  const int64_t floats = kItemRows * kDim + kOtherParams;
  torch::manual_seed(rank);

  pocketrec::train::DistOptions options;
  options.world_size = 2;
  options.rank = rank;
  options.master = "127.0.0.1:" + std::to_string(port);
  options.timeout_s = 120;
  pocketrec::train::DataParallel dp(options);
  TeacherShaped module;
  for (auto& p : module.parameters()) p.mutable_grad() = torch::rand_like(p);
  const double reduce = time_ms(reps, [&] { dp.reduce_gradients(module, 50, 1.0); });

  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(port + 1);
  store_options.isServer = rank == 0;
  store_options.numWorkers = 2;
  store_options.timeout = std::chrono::seconds(120);
  auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", store_options);
  auto gloo = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(120));
  gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  gloo->threads = 1;
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, 2, gloo);
  std::vector<torch::Tensor> fp32{torch::rand({floats})}, fp16{torch::rand({floats}).to(torch::kHalf)};
  const double bare32 = time_ms(reps, [&] { pg->allreduce(fp32)->wait(); });
  const double bare16 = time_ms(reps, [&] { pg->allreduce(fp16)->wait(); });
  if (rank == 0) {
    std::printf("floats per step: %lld (%zu bytes)\n", static_cast<long long>(floats), dp.bytes_per_step());
    std::printf("reduce_gradients (in place + packed bucket): %.2f ms\n", reduce);
    std::printf("c10d all-reduce fp32: %.2f ms\n", bare32);
    std::printf("c10d all-reduce fp16: %.2f ms\n", bare16);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 20;
  const int port = argc > 2 ? std::atoi(argv[2]) : 29597;
  if (reps < 1 || port < 1 || port > 65534) {
    std::fprintf(stderr, "usage: bench_allreduce [repetitions >= 1] [port]\n");
    return 2;
  }
  const pid_t child = fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  try {
    run_rank(child == 0 ? 1 : 0, reps, port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", child == 0 ? 1 : 0, e.what());
    if (child == 0) std::_Exit(1);
    waitpid(child, nullptr, 0);
    return 1;
  }
  if (child == 0) std::_Exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
