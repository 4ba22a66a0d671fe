// `pocketrec launch -n N -- train|distill ...`: N local ranks of one data-parallel run on loopback
// (the torchrun pattern). Each rank is this executable again with the dist.* keys added; their
// stdout and stderr come back line by line with a "[rank r] " prefix; when a rank fails, the others
// are stopped and the launcher exits with the failed rank's code.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "app/workflows.h"
#include "core/error.h"

namespace pocketrec::app {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
void on_signal(int sig) {
  g_stop_signal = sig;
}

// A TCP port on loopback that was free a moment ago (the rendezvous binds it again at once).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  PR_CHECK(fd >= 0, ErrorCode::kIo, "launch: socket(): {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  PR_CHECK(ok, ErrorCode::kIo, "launch: no free port on 127.0.0.1: {}", std::strerror(errno));
  return ntohs(addr.sin_port);
}

bool has_key(const std::vector<std::string>& args, const std::string& key) {
  for (const auto& a : args)
    if (a.rfind("--" + key + "=", 0) == 0) return true;
  return false;
}

struct Rank {
  pid_t pid = -1;
  int out = -1;         // read end of its stdout + stderr
  std::string pending;  // a line not yet complete
  int status = -1;      // exit code once it has ended
};

// The child's command line: the workflow's arguments plus this rank's dist.* keys, one compute
// thread per core share unless threads.torch is given, and no progress bars (interleaved \r lines).
std::vector<std::string> rank_args(const LaunchRequest& r, int rank, int port) {
  std::vector<std::string> a = {r.executable};
  a.insert(a.end(), r.args.begin(), r.args.end());
  a.push_back("--dist.world_size=" + std::to_string(r.n_ranks));
  a.push_back("--dist.rank=" + std::to_string(rank));
  a.push_back("--dist.master=127.0.0.1:" + std::to_string(port));
  if (!has_key(r.args, "threads.torch")) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    a.push_back("--threads.torch=" + std::to_string(std::max<unsigned>(1, cores / static_cast<unsigned>(r.n_ranks))));
  }
  if (!has_key(r.args, "output.progress")) a.push_back("--output.progress=false");
  return a;
}

Rank start_rank(const LaunchRequest& r, int rank, int port) {
  int fds[2];
  PR_CHECK(::pipe(fds) == 0, ErrorCode::kIo, "launch: pipe(): {}", std::strerror(errno));
  const std::vector<std::string> args = rank_args(r, rank, port);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  PR_CHECK(pid >= 0, ErrorCode::kIo, "launch: fork(): {}", std::strerror(errno));
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "launch: cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  Rank k;
  k.pid = pid;
  k.out = fds[0];
  return k;
}

// Prints the complete lines of `text` with the rank prefix; keeps the rest for later.
void forward(Rank& k, int rank, const char* text, size_t n, bool flush) {
  k.pending.append(text, n);
  size_t start = 0;
  for (size_t nl; (nl = k.pending.find('\n', start)) != std::string::npos; start = nl + 1)
    std::printf("[rank %d] %.*s\n", rank, static_cast<int>(nl - start), k.pending.c_str() + start);
  k.pending.erase(0, start);
  if (flush && !k.pending.empty()) {
    std::printf("[rank %d] %s\n", rank, k.pending.c_str());
    k.pending.clear();
  }
  std::fflush(stdout);
}

// Reads whatever the ranks wrote within `timeout_ms`; closes the pipes that reached end of file.
void pump(std::vector<Rank>& ranks, int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<int> which;
  for (size_t i = 0; i < ranks.size(); ++i)
    if (ranks[i].out >= 0) fds.push_back({ranks[i].out, POLLIN, 0}), which.push_back(static_cast<int>(i));
  if (fds.empty() || ::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  char buf[4096];
  for (size_t j = 0; j < fds.size(); ++j) {
    if (!(fds[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    Rank& k = ranks[static_cast<size_t>(which[j])];
    const ssize_t got = ::read(k.out, buf, sizeof buf);
    if (got > 0) {
      forward(k, which[j], buf, static_cast<size_t>(got), false);
    } else {
      forward(k, which[j], "", 0, true);
      ::close(k.out);
      k.out = -1;
    }
  }
}

}  // namespace

int launch(const LaunchRequest& r) {
  PR_CHECK(r.n_ranks >= 1, ErrorCode::kInvalidArgument, "launch: -n must be at least 1");
  PR_CHECK(!r.args.empty() && (r.args[0] == "train" || r.args[0] == "distill"), ErrorCode::kInvalidArgument,
           "launch: the command to run must be train or distill (pocketrec launch -n N -- train -c CONFIG)");
  PR_CHECK(!has_key(r.args, "dist.world_size") && !has_key(r.args, "dist.rank") && !has_key(r.args, "dist.master"),
           ErrorCode::kInvalidArgument, "launch: sets dist.world_size, dist.rank and dist.master itself");
  const int port = r.port > 0 ? r.port : free_port();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::vector<Rank> ranks;
  for (int i = 0; i < r.n_ranks; ++i) ranks.push_back(start_rank(r, i, port));
  int code = 0, running = r.n_ranks;
  bool stopping = false;
  while (running > 0) {
    pump(ranks, 200);
    if (g_stop_signal && !stopping) stopping = true, code = 128 + g_stop_signal;
    for (int i = 0; i < r.n_ranks; ++i) {
      Rank& k = ranks[static_cast<size_t>(i)];
      int status = 0;
      if (k.status >= 0 || ::waitpid(k.pid, &status, WNOHANG) != k.pid) continue;
      k.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      --running;
      if (k.status != 0 && code == 0) {
        std::fprintf(stderr, "launch: rank %d failed (exit %d); stopping the other ranks\n", i, k.status);
        code = k.status;
        stopping = true;
      }
    }
    if (stopping)
      for (Rank& k : ranks)
        if (k.status < 0) ::kill(k.pid, SIGTERM);
  }
  while (std::any_of(ranks.begin(), ranks.end(), [](const Rank& k) { return k.out >= 0; })) pump(ranks, 200);
  return code;
}

}  // namespace pocketrec::app
