// Top-20 latency per query on one thread, Tmall-sized catalogue (40,727 items, OD-Rec shapes:
// d = 128, max_len 40, 1 layer; student item table = STT cores [[169,241],[16,8]] R = 60 t = 2),
// all in one run on the same 1,000 random histories (lengths 1..40):
//   (a) the teacher in LibTorch          session vector, then scores against its dense table, topk
//   (b) the student in LibTorch          the same, against its table reconstructed once and cached
//   (c) the student in the runtime       scored straight from the cores
//   (d) the student in the runtime       against an int8 table (rebuilt and quantised at load)
//   (e) the student in the runtime       against a dense fp32 table of the same logical size
// plus the peak RSS of a process doing only (a), only (b) (this binary again, --torch-rss), or only
// one runtime mode (runtime_rss, which links nothing but the runtime); the stripped size of the
// runtime library; and the model files: the teacher at fp32, the student at fp32, fp16 and int8.
// Weights are random: latency does not depend on them.
//   build/bench/bench_runtime [rounds=3]
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/config.h"
#include "core/log.h"
#include "data/dataset.h"
#include "export/export_model.h"
#include "models/sasrec.h"
#include "models/torch_models.h"
#include "pocketrec/pocketrec.h"

using namespace pocketrec;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kItems = 40727, kMaxLen = 40, kQueries = 1000, kK = 20;

Config odrec_config(bool stt) {
  Config c;
  c.set("model.name", "sasrec", "b");
  c.set("model.sasrec_variant", "odrec", "b");
  c.set("model.dim", 128, "b");
  c.set("model.inner", 128, "b");
  c.set("model.max_len", kMaxLen, "b");
  c.set("model.layers", 1, "b");
  if (stt) {
    c.set("model.item_table", "stt", "b");
    c.set("model.stt_items", nlohmann::json::array({169, 241}), "b");
    c.set("model.stt_dims", nlohmann::json::array({16, 8}), "b");
    c.set("model.stt_rank", 60, "b");
    c.set("model.stt_t", 2, "b");
  }
  return c;
}

struct Latency {
  std::string name;
  std::vector<double> us;
  double pct(double p) {
    std::sort(us.begin(), us.end());
    return us[static_cast<size_t>(p * static_cast<double>(us.size() - 1))];
  }
};

// LibTorch: what a server or PyTorch-Mobile deployment runs per query.
struct TorchScorer {
  models::SessionEncoder* enc;
  torch::Tensor table;
  TorchScorer(models::SessionEncoder* e) : enc(e) {
    torch::NoGradGuard g;
    enc->encoder_module().eval();
    table = enc->item_table().contiguous();
  }
  int64_t query(const std::vector<int64_t>& h) {
    torch::NoGradGuard g;
    std::vector<int64_t> seq(kMaxLen, kItems);
    std::copy(h.begin(), h.end(), seq.begin());
    const torch::Tensor ids = torch::tensor(seq).view({1, kMaxLen});
    torch::Tensor s = enc->session_vectors(ids, torch::tensor({static_cast<int64_t>(h.size())}),
                                           enc->item_rows(ids, table));
    auto top = torch::topk(torch::mv(table, s[0]), kK);
    return std::get<1>(top)[0].item<int64_t>();
  }
};

long peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss * 1024L;
}

size_t file_size(const std::string& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : static_cast<size_t>(n);
}

}  // namespace

// `--torch-rss teacher|student`: only build that LibTorch model and answer 1,000 queries, then print
// "<peak RSS bytes> <RSS before building>" (the parent runs this in a child process).
int torch_rss(const std::string& which) {
  torch::set_num_threads(1);
  set_log_level(LogLevel::kWarn);
  const long before = peak_rss_bytes();
  data::Dataset d;
  for (int i = 0; i < kItems; ++i) d.item_ids.get_or_add(std::to_string(i));
  d.n_items = kItems;
  d.has_users = false;
  auto model = models::default_model_registry().get("sasrec").create(odrec_config(which == "student"), d);
  TorchScorer scorer(dynamic_cast<models::SessionEncoder*>(model.get()));
  std::mt19937 rng(1);
  std::uniform_int_distribution<int64_t> item(0, kItems - 1);
  int64_t sink = 0;
  for (int q = 0; q < 1000; ++q) sink += scorer.query({item(rng), item(rng), item(rng), item(rng), item(rng)});
  std::printf("%ld %ld\n", peak_rss_bytes(), before);
  return sink < 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--torch-rss") return torch_rss(argv[2]);
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  torch::set_num_threads(1);
  set_log_level(LogLevel::kWarn);
  data::Dataset d;
  d.name = "tmall-sized";
  for (int i = 0; i < kItems; ++i) d.item_ids.get_or_add(std::to_string(i));
  d.n_items = kItems;
  d.has_users = false;
  auto reg = models::default_model_registry();
  Config tc = odrec_config(false), sc = odrec_config(true);
  auto teacher = reg.get("sasrec").create(tc, d);
  auto student = reg.get("sasrec").create(sc, d);
  auto* t_enc = dynamic_cast<models::SessionEncoder*>(teacher.get());
  auto* s_enc = dynamic_cast<models::SessionEncoder*>(student.get());
  const std::string dir = std::filesystem::temp_directory_path() / "pocketrec_bench_runtime";
  std::filesystem::create_directories(dir);
  const std::string s_path = dir + "/student.pocket", t_path = dir + "/teacher.pocket";
  exporter::model_pocket(*student, sc, d, {}).save(s_path);
  exporter::model_pocket(*teacher, tc, d, {}).save(t_path);
  exporter::model_pocket(*student, sc, d, {}, exporter::WeightType::kF16).save(dir + "/student-fp16.pocket");
  exporter::model_pocket(*student, sc, d, {}, exporter::WeightType::kI8).save(dir + "/student-int8.pocket");

  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> item(0, kItems - 1);
  std::uniform_int_distribution<int> len(1, kMaxLen);
  std::vector<std::vector<int64_t>> hist(kQueries);
  for (auto& h : hist) {
    h.resize(static_cast<size_t>(len(rng)));
    for (auto& x : h) x = item(rng);
  }

  TorchScorer ta(t_enc), tb(s_enc);
  struct Rt {
    pocketrec_model* m = nullptr;
    pocketrec_context* c = nullptr;
  };
  auto open = [&](pocketrec_scoring mode) {
    Rt r;
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = mode;
    if (pocketrec_model_load_file(s_path.c_str(), &p, &r.m) != POCKETREC_STATUS_OK ||
        pocketrec_context_init(r.m, &r.c) != POCKETREC_STATUS_OK) {
      std::fprintf(stderr, "%s\n", pocketrec_last_error());
      std::exit(1);
    }
    return r;
  };
  Rt rc = open(POCKETREC_SCORING_CORES), rd = open(POCKETREC_SCORING_INT8_TABLE), re = open(POCKETREC_SCORING_FP32_TABLE);
  int64_t items[kK];
  float scores[kK];
  size_t n_out = 0;
  auto rt_query = [&](Rt& r, const std::vector<int64_t>& h) {
    pocketrec_recommend(r.c, h.data(), h.size(), kK, 0, items, scores, &n_out);
    return items[0];
  };
  std::vector<Latency> lat = {{"(a) teacher, LibTorch", {}},
                              {"(b) student, LibTorch (cached table)", {}},
                              {"(c) student, runtime, from the STT cores", {}},
                              {"(d) student, runtime, int8 table", {}},
                              {"(e) student, runtime, fp32 table", {}}};
  int64_t sink = 0;
  auto run = [&](int which, const std::vector<int64_t>& h) {
    switch (which) {
      case 0: return ta.query(h);
      case 1: return tb.query(h);
      case 2: return rt_query(rc, h);
      case 3: return rt_query(rd, h);
      default: return rt_query(re, h);
    }
  };
  for (int w = 0; w < 5; ++w)
    for (int q = 0; q < 50; ++q) sink += run(w, hist[static_cast<size_t>(q)]);  // warm-up
  for (int r = 0; r < rounds; ++r)
    for (int w = 0; w < 5; ++w)
      for (const auto& h : hist) {
        const auto t0 = Clock::now();
        sink += run(w, h);
        lat[static_cast<size_t>(w)].us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }

  // Resident memory of the runtime alone, per scoring mode.
  const std::string bin = POCKETREC_BENCH_DIR;
  auto rss = [&](const char* mode) {
    const std::string out = dir + "/rss.txt";
    const std::string cmd = bin + "/runtime_rss " + s_path + " " + mode + " > " + out;
    if (std::system(cmd.c_str()) != 0) return std::string("?");
    long peak = 0, base = 0;
    size_t weights = 0;
    FILE* f = std::fopen(out.c_str(), "r");
    if (!f || std::fscanf(f, "%ld %ld %zu", &peak, &base, &weights) != 3) return std::string("?");
    std::fclose(f);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.1f MB peak RSS (%.2f MB of weights)", peak / 1e6, weights / 1e6);
    return std::string(buf);
  };
  auto torch_rss_of = [&](const char* which) {
    const std::string out = dir + "/torch_rss.txt";
    const std::string cmd = bin + "/bench_runtime --torch-rss " + which + " > " + out;
    long peak = 0, base = 0;
    FILE* f = std::system(cmd.c_str()) == 0 ? std::fopen(out.c_str(), "r") : nullptr;
    if (!f || std::fscanf(f, "%ld %ld", &peak, &base) != 2) return std::string("?");
    std::fclose(f);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.1f MB peak RSS", peak / 1e6);
    return std::string(buf);
  };
  const std::string mem[5] = {torch_rss_of("teacher"), torch_rss_of("student"), rss("cores"), rss("int8"),
                              rss("fp32")};

  const double b50 = lat[1].pct(0.5), e50 = lat[4].pct(0.5), c50 = lat[2].pct(0.5);
  std::printf("| method | p50 µs | p99 µs | memory |\n|---|---|---|---|\n");
  for (int w = 0; w < 5; ++w) {
    auto& l = lat[static_cast<size_t>(w)];
    std::string m = mem[w];
    if (w == 0) m += " (" + std::to_string(teacher->n_parameters() * 4 / 1000) + " kB of weights)";
    if (w == 1) m += " (" + std::to_string((student->n_parameters() + static_cast<int64_t>(kItems) * 128) * 4 / 1000) +
                     " kB of weights + cached table)";
    std::printf("| %s | %.0f | %.0f | %s |\n", l.name.c_str(), l.pct(0.5), l.pct(0.99), m.c_str());
  }
  std::printf("\nratios of p50: (c)/(b) = %.3f (goal <= 0.5), (c)/(e) = %.3f (goal <= 0.5)\n", c50 / b50, c50 / e50);
  const std::string lib = bin + "/../runtime/libpocketrec_runtime.a", stripped = dir + "/stripped.a";
  const std::string strip = "strip --strip-unneeded -o " + stripped + " " + lib;
  if (std::system(strip.c_str()) == 0)
    std::printf("runtime static library: %zu bytes (%zu stripped); shared: %zu bytes (stripped)\n", file_size(lib),
                file_size(stripped), file_size(bin + "/../runtime/libpocketrec_runtime.so"));
  const double teacher_bytes = static_cast<double>(file_size(t_path));
  std::printf("model files: teacher (fp32) %zu bytes; student", file_size(t_path));
  for (const char* type : {"", "-fp16", "-int8"}) {
    const size_t n = file_size(dir + "/student" + type + ".pocket");
    std::printf("%s %s %zu bytes (%.1fx smaller)", *type ? "," : "", *type ? type + 1 : "fp32", n,
                teacher_bytes / static_cast<double>(n));
  }
  std::printf("\n");
  std::printf("(checksum %lld)\n", static_cast<long long>(sink));
  return 0;
}
