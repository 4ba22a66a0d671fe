// The gradient all-reduce of a distributed step on loopback, 2 ranks (forked), 1 thread each:
// DataParallel::reduce_gradients on a module shaped like the OD-Rec Tmall teacher (an item table of
// 40,728 x 128 and 137,984 other parameters), next to c10d's bare all-reduce of the same number of
// floats in fp32 (as one call, and as the table and the rest in two calls, the way reduce_gradients
// issues them) and in fp16 (the compression a gradient could travel in). The variants alternate
// call by call; prints the median milliseconds per call of each. docs/distributed.md reads them as
// the communication floor of a 2-rank step.
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
double time_once_ms(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
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

  pocketrec::train::DistOptions options;
  options.world_size = 2;
  options.rank = rank;
  options.master = "127.0.0.1:" + std::to_string(port);
  options.timeout_s = 120;
  pocketrec::train::DataParallel dp(options);
  TeacherShaped module;
  // Zeros: an in-place sum of zeros stays finite however many calls run (the time does not depend
  // on the values).
  for (auto& p : module.parameters()) p.mutable_grad() = torch::zeros_like(p);
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
  std::vector<torch::Tensor> fp32{torch::zeros({floats})}, fp16{torch::zeros({floats}, torch::kHalf)};
  std::vector<torch::Tensor> table{torch::zeros({kItemRows * kDim})}, rest{torch::zeros({kOtherParams + 2})};
  // The variants alternate call by call, so a change of the machine's load reaches all of them.
  std::vector<double> reduce, bare32, split32, bare16;
  for (int i = 0; i <= reps; ++i) {  // call 0 warms up connections and buffers
    const double r = time_once_ms([&] { dp.reduce_gradients(module, 50, 1.0); });
    const double b = time_once_ms([&] { pg->allreduce(fp32)->wait(); });
    const double s = time_once_ms([&] {
      auto w = pg->allreduce(table);
      pg->allreduce(rest)->wait();
      w->wait();
    });
    const double h = time_once_ms([&] { pg->allreduce(fp16)->wait(); });
    if (i == 0) continue;
    reduce.push_back(r);
    bare32.push_back(b);
    split32.push_back(s);
    bare16.push_back(h);
  }
  if (rank == 0) {
    std::printf("floats per step: %lld (%zu bytes)\n", static_cast<long long>(floats), dp.bytes_per_step());
    std::printf("reduce_gradients (in place + packed bucket): %.2f ms\n", median_ms(reduce));
    std::printf("c10d all-reduce fp32, one call: %.2f ms\n", median_ms(bare32));
    std::printf("c10d all-reduce fp32, the table and the rest as two calls: %.2f ms\n", median_ms(split32));
    std::printf("c10d all-reduce fp16, one call: %.2f ms\n", median_ms(bare16));
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
