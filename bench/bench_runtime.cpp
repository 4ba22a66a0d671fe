// Top-20 latency per query on one thread, Tmall-sized catalogue (40,727 items, OD-Rec shapes:
// d = 128, max_len 40, 1 layer; STT student item table = cores [[169,241],[16,8]] R = 60 t = 2; PQ
// student item table = M = 16 sub-spaces of K = 256 codewords, and of K = 16 for (i); M = 32 of K = 16
// for (j)), all in one run on the same 1,000 random histories (lengths 1..40):
//   (a) the teacher in LibTorch          session vector, then scores against its dense table, topk
//   (b) the STT student in LibTorch      the same, against its table reconstructed once and cached
//   (c) the STT student in the runtime   scored straight from the cores
//   (d) the STT student in the runtime   against an int8 table (rebuilt and quantised at load)
//   (e) the STT student in the runtime   against a dense fp32 table of the same logical size
//   (f) the PQ student in LibTorch       against its table reconstructed once and cached
//   (g) the PQ student in the runtime    scored from the codes (a lookup table per query)
//   (h) the PQ student in the runtime    against its table rebuilt as dense fp32 at load
//   (i) a PQ student, M = 16, K = 16     in the runtime, from its 4-bit codes (the LUT in registers
//                                        where the CPU has AVX2 or AVX-512)
//   (j) a PQ student, M = 32, K = 16     the same (as many code bytes as (g) once packed)
// plus the peak RSS of a process doing only (a), (b) or (f) (this binary again, --torch-rss), or only
// one runtime mode (runtime_rss, which links nothing but the runtime); the stripped size of the
// runtime library; and the model files: the teacher at fp32, the students at fp32 (STT also fp16
// and int8).
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

#include "app/options.h"
#include "app/run_directory.h"
#include "bench_util.h"
#include "core/config.h"
#include "core/log.h"
#include "data/dataset.h"
#include "export/exporter.h"
#include "models/session_encoder.h"
#include "pocketrec/pocketrec.h"
#include "train/process_setup.h"

using namespace pocketrec;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kItems = 40727, kMaxLen = 40, kQueries = 1000, kK = 20;

enum class Table { kDense, kStt, kPq, kPq16x16, kPq32x16 };

models::ModelOptions odrec_options(Table table) {
  Config c;
  c.set("model.name", "sasrec", "b");
  c.set("model.sasrec_variant", "odrec", "b");
  c.set("model.dim", 128, "b");
  c.set("model.inner", 128, "b");
  c.set("model.max_len", kMaxLen, "b");
  c.set("model.layers", 1, "b");
  if (table == Table::kPq || table == Table::kPq16x16 || table == Table::kPq32x16) {
    c.set("model.item_table", "pq", "b");
    c.set("model.pq_subspaces", table == Table::kPq32x16 ? 32 : 16, "b");
    c.set("model.pq_codewords", table == Table::kPq ? 256 : 16, "b");
    c.set("model.pq_codes", "random", "b");  // latency does not depend on the codes
  }
  if (table == Table::kStt) {
    c.set("model.item_table", "stt", "b");
    c.set("model.stt_items", nlohmann::json::array({169, 241}), "b");
    c.set("model.stt_dims", nlohmann::json::array({16, 8}), "b");
    c.set("model.stt_rank", 60, "b");
    c.set("model.stt_t", 2, "b");
  }
  return app::run_settings(c).model;
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
    torch::Tensor s =
        enc->session_vectors(ids, torch::tensor({static_cast<int64_t>(h.size())}), enc->item_rows(ids, table));
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

Table table_of(const std::string& which) {
  return which == "teacher" ? Table::kDense : which == "pq" ? Table::kPq : Table::kStt;
}

// `--torch-rss teacher|student|pq`: only build that LibTorch model and answer 1,000 queries, then print
// "<peak RSS bytes> <RSS before building>" (the parent runs this in a child process).
int torch_rss(const std::string& which) {
  set_log_level(LogLevel::kWarn);
  set_compute_threads(1, 1);
  const long before = peak_rss_bytes();
  data::Dataset d;
  for (int i = 0; i < kItems; ++i) d.item_ids.get_or_add(std::to_string(i));
  d.n_items = kItems;
  d.has_users = false;
  auto model = app::create_model(odrec_options(table_of(which)), d);
  TorchScorer scorer(model.session_encoder);
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
  set_log_level(LogLevel::kWarn);
  // One thread for LibTorch's rows as for the runtime's: torch's own and OpenBLAS's, which runs
  // LibTorch's matrix-vector product on threads of its own that torch::set_num_threads does not set
  // (left alone, it scans the table on both cores).
  set_compute_threads(1, 1);
  data::Dataset d;
  d.name = "tmall-sized";
  for (int i = 0; i < kItems; ++i) d.item_ids.get_or_add(std::to_string(i));
  d.n_items = kItems;
  d.has_users = false;
  auto teacher = app::create_model(odrec_options(Table::kDense), d);
  auto student = app::create_model(odrec_options(Table::kStt), d);
  auto pq_student = app::create_model(odrec_options(Table::kPq), d);
  auto pq16_student = app::create_model(odrec_options(Table::kPq16x16), d);
  auto pq32_student = app::create_model(odrec_options(Table::kPq32x16), d);
  models::SessionEncoder* t_enc = teacher.session_encoder;
  models::SessionEncoder* s_enc = student.session_encoder;
  const std::string dir = std::filesystem::temp_directory_path() / "pocketrec_bench_runtime";
  std::filesystem::create_directories(dir);
  const std::string s_path = dir + "/student.pocket", t_path = dir + "/teacher.pocket",
                    pq_path = dir + "/student-pq.pocket", pq16_path = dir + "/student-pq-m16-k16.pocket",
                    pq32_path = dir + "/student-pq-m32-k16.pocket";
  exporter::pocket_of(student, d, {}, exporter::WeightType::kF32).save(s_path);
  exporter::pocket_of(pq_student, d, {}, exporter::WeightType::kF32).save(pq_path);
  exporter::pocket_of(pq16_student, d, {}, exporter::WeightType::kF32).save(pq16_path);
  exporter::pocket_of(pq32_student, d, {}, exporter::WeightType::kF32).save(pq32_path);
  exporter::pocket_of(teacher, d, {}, exporter::WeightType::kF32).save(t_path);
  exporter::pocket_of(student, d, {}, exporter::WeightType::kF16).save(dir + "/student-fp16.pocket");
  exporter::pocket_of(student, d, {}, exporter::WeightType::kI8).save(dir + "/student-int8.pocket");

  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> item(0, kItems - 1);
  std::uniform_int_distribution<int> len(1, kMaxLen);
  std::vector<std::vector<int64_t>> hist(kQueries);
  for (auto& h : hist) {
    h.resize(static_cast<size_t>(len(rng)));
    for (auto& x : h) x = item(rng);
  }

  TorchScorer ta(t_enc), tb(s_enc), tf(pq_student.session_encoder);
  struct Rt {
    pocketrec_model* m = nullptr;
    pocketrec_context* c = nullptr;
  };
  auto open = [&](const std::string& path, pocketrec_scoring mode) {
    Rt r;
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = mode;
    if (pocketrec_model_load_file(path.c_str(), &p, &r.m) != POCKETREC_STATUS_OK ||
        pocketrec_context_init(r.m, &r.c) != POCKETREC_STATUS_OK) {
      std::fprintf(stderr, "%s\n", pocketrec_last_error());
      std::exit(1);
    }
    return r;
  };
  Rt rc = open(s_path, POCKETREC_SCORING_CORES), rd = open(s_path, POCKETREC_SCORING_INT8_TABLE),
     re = open(s_path, POCKETREC_SCORING_FP32_TABLE), rg = open(pq_path, POCKETREC_SCORING_CORES),
     rh = open(pq_path, POCKETREC_SCORING_FP32_TABLE), ri = open(pq16_path, POCKETREC_SCORING_CORES),
     rj = open(pq32_path, POCKETREC_SCORING_CORES);
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
                              {"(e) student, runtime, fp32 table", {}},
                              {"(f) PQ student, LibTorch (cached table)", {}},
                              {"(g) PQ student, runtime, from the codes", {}},
                              {"(h) PQ student, runtime, fp32 table", {}},
                              {"(i) PQ student M = 16 K = 16, runtime, from the 4-bit codes", {}},
                              {"(j) PQ student M = 32 K = 16, runtime, from the 4-bit codes", {}}};
  constexpr int kMethods = 10;
  int64_t sink = 0;
  auto run = [&](int which, const std::vector<int64_t>& h) {
    switch (which) {
      case 0: return ta.query(h);
      case 1: return tb.query(h);
      case 2: return rt_query(rc, h);
      case 3: return rt_query(rd, h);
      case 4: return rt_query(re, h);
      case 5: return tf.query(h);
      case 6: return rt_query(rg, h);
      case 7: return rt_query(rh, h);
      case 8: return rt_query(ri, h);
      default: return rt_query(rj, h);
    }
  };
  for (int w = 0; w < kMethods; ++w)
    for (int q = 0; q < 50; ++q) sink += run(w, hist[static_cast<size_t>(q)]);  // warm-up
  for (int r = 0; r < rounds; ++r)
    for (int w = 0; w < kMethods; ++w)
      for (const auto& h : hist) {
        const auto t0 = Clock::now();
        sink += run(w, h);
        lat[static_cast<size_t>(w)].us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }

  // Resident memory of the runtime alone, per scoring mode.
  const std::string bin = POCKETREC_BENCH_DIR;
  auto rss = [&](const std::string& path, const char* mode) {
    const std::string out = dir + "/rss.txt";
    const std::string cmd = bin + "/runtime_rss " + path + " " + mode + " > " + out;
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
  const std::string mem[kMethods] = {torch_rss_of("teacher"), torch_rss_of("student"), rss(s_path, "cores"),
                                     rss(s_path, "int8"),     rss(s_path, "fp32"),     torch_rss_of("pq"),
                                     rss(pq_path, "cores"),   rss(pq_path, "fp32"),    rss(pq16_path, "cores"),
                                     rss(pq32_path, "cores")};

  const double b50 = lat[1].pct(0.5), e50 = lat[4].pct(0.5), c50 = lat[2].pct(0.5);
  const double f50 = lat[5].pct(0.5), g50 = lat[6].pct(0.5), h50 = lat[7].pct(0.5), i50 = lat[8].pct(0.5),
               j50 = lat[9].pct(0.5);
  std::printf("| method | p50 µs | p99 µs | memory |\n|---|---|---|---|\n");
  for (int w = 0; w < kMethods; ++w) {
    auto& l = lat[static_cast<size_t>(w)];
    std::string m = mem[w];
    if (w == 0) m += " (" + std::to_string(teacher->n_parameters() * 4 / 1000) + " kB of weights)";
    if (w == 1)
      m += " (" + std::to_string((student->n_parameters() + static_cast<int64_t>(kItems) * 128) * 4 / 1000) +
           " kB of weights + cached table)";
    if (w == 5)
      m += " (" + std::to_string((pq_student->n_parameters() + static_cast<int64_t>(kItems) * 128) * 4 / 1000) +
           " kB of weights + cached table)";
    std::printf("| %s | %.0f | %.0f | %s |\n", l.name.c_str(), l.pct(0.5), l.pct(0.99), m.c_str());
  }
  std::printf("\nratios of p50: (c)/(b) = %.3f (goal <= 0.5), (c)/(e) = %.3f (goal <= 0.5)\n", c50 / b50, c50 / e50);
  std::printf(
      "PQ: (g)/(h) = %.3f (codes vs the dense product of the same table), (g)/(f) = %.3f (vs LibTorch), "
      "(g)/(c) = %.3f (vs the STT student)\n",
      g50 / h50, g50 / f50, g50 / c50);
  std::printf(
      "PQ, K = 16: (i)/(c) = %.3f and (j)/(c) = %.3f (vs the STT student), (i)/(f) = %.3f and (j)/(f) = %.3f (vs "
      "LibTorch), (i)/(g) = %.3f and (j)/(g) = %.3f\n",
      i50 / c50, j50 / c50, i50 / f50, j50 / f50, i50 / g50, j50 / g50);
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
  std::printf("; PQ students fp32 (one byte per code)");
  for (const auto& [name, path] :
       {std::pair<const char*, std::string>{"M 16 K 256", pq_path}, {"M 16 K 16", pq16_path}, {"M 32 K 16", pq32_path}})
    std::printf(" %s %zu bytes (%.1fx smaller)", name, file_size(path),
                teacher_bytes / static_cast<double>(file_size(path)));
  std::printf("\n");
  std::printf("(checksum %lld)\n", static_cast<long long>(sink));
  return 0;
}
