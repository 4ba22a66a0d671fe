#include "app/repro_report.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "app/workflows.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/text.h"

namespace pocketrec::app {
namespace {

const nlohmann::json* find_row(const nlohmann::json& results, const std::string& model) {
  for (const auto& row : results["rows"])
    if (row["model"] == model) return &row;
  return nullptr;
}

std::string count_or_dash(const nlohmann::json& row, const char* key) {
  return row.contains(key) ? fmt::format("{}", row[key].get<int64_t>()) : "–";
}

std::string metric_or_dash(const nlohmann::json& metrics, const std::string& name) {
  return metrics.contains(name) ? fmt::format("{:.4f}", metrics[name].get<double>()) : "–";
}

// A row's metric, "mean ± sample deviation" when the row is averaged over seeds.
std::string row_metric(const nlohmann::json& row, const std::string& split, const std::string& name) {
  const std::string value = metric_or_dash(row[split], name);
  const std::string std_key = split + "_std";
  if (!row.contains(std_key) || !row[std_key].contains(name)) return value;
  return fmt::format("{} ± {:.4f}", value, row[std_key][name].get<double>());
}

// The training method, and whether the test metrics are a refitted model's (docs/protocol.md).
std::string method_text(const nlohmann::json& row) {
  return row["method"].get<std::string>() + (row.value("refitted", false) ? " (refitted)" : "");
}

// The metrics the student tables compare: the selection metric, then the usual headline ones.
std::vector<std::string> headline_metrics(const nlohmann::json& results) {
  std::vector<std::string> names = {results["valid_metric"].get<std::string>()};
  for (const auto& m : results["metrics"]) {
    const std::string name = m.get<std::string>();
    for (const char* h : {"hr@20", "mrr@20", "ndcg@10", "prec@10"})
      if (name == h && name != names.front()) names.push_back(name);
  }
  return names;
}

std::string models_table(const nlohmann::json& results) {
  const std::string vm = results["valid_metric"];
  std::string md = fmt::format(
      "| model | role | method | seeds | parameters | item table (bytes) | .pocket file (bytes) | query p50 (µs) | "
      "best epoch | valid {} |",
      vm);
  std::string sep = "|---|---|---|---|---|---|---|---|---|---|";
  for (const auto& m : results["metrics"]) md += " test " + m.get<std::string>() + " |", sep += "---|";
  md += "\n" + sep + "\n";
  for (const auto& row : results["rows"]) {
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |", row["model"].get<std::string>(),
                      row["role"].get<std::string>(), method_text(row),
                      row.contains("seeds") ? row["seeds"].size() : size_t{1}, count_or_dash(row, "params"),
                      count_or_dash(row, "table_bytes"), count_or_dash(row, "file_bytes"),
                      row.contains("query_us") ? fmt::format("{:.0f}", row["query_us"]["p50"].get<double>()) : "–",
                      row["best_epoch"].get<int64_t>() > 0 ? std::to_string(row["best_epoch"].get<int64_t>()) : "–",
                      row_metric(row, "valid", vm));
    for (const auto& m : results["metrics"]) md += " " + row_metric(row, "test", m.get<std::string>()) + " |";
    md += "\n";
  }
  return md;
}

std::string students_table(const nlohmann::json& results) {
  const std::vector<std::string> metrics = headline_metrics(results);
  std::string md = "| student | teacher | parameters (x smaller) | query time (x the teacher's) |";
  std::string sep = "|---|---|---|---|";
  for (const auto& m : metrics) md += " test " + m + " (% of the teacher's) |", sep += "---|";
  md += "\n" + sep + "\n";
  bool any = false;
  for (const auto& row : results["rows"]) {
    if (!row.contains("teacher")) continue;
    const nlohmann::json* t = find_row(results, row["teacher"]);
    if (t == nullptr) continue;
    any = true;
    auto ratio = [](double a, double b) { return b > 0 ? fmt::format("{:.2f}", a / b) : std::string("–"); };
    const std::string time_ratio =
        row.contains("query_us") && t->contains("query_us")
            ? ratio(row["query_us"]["p50"].get<double>(), (*t)["query_us"]["p50"].get<double>())
            : "–";
    md += fmt::format("| {} | {} | {} | {} |", row["model"].get<std::string>(), (*t)["model"].get<std::string>(),
                      ratio((*t)["params"].get<double>(), row["params"].get<double>()), time_ratio);
    for (const auto& m : metrics) {
      const bool both = row["test"].contains(m) && (*t)["test"].contains(m) && (*t)["test"][m].get<double>() > 0;
      md += both ? fmt::format(" {:.1f}% |", 100 * row["test"][m].get<double>() / (*t)["test"][m].get<double>())
                 : std::string(" – |");
    }
    md += "\n";
  }
  return any ? md : "";
}

// Every exported file (results.json "exports"): its size, how far the runtime's scores on it are from
// LibTorch's model, and its query time. A run exported more than once shows the file sizes against its
// first file; a student's files also against its teacher's file of the same weight type.
std::string exports_table(const nlohmann::json& results) {
  if (!results.contains("exports") || results["exports"].empty()) return "";
  std::map<std::string, double> first_bytes, typed_bytes;  // by run; by run and weight type
  for (const auto& x : results["exports"]) {
    first_bytes.emplace(x["run"].get<std::string>(), x["bytes"].get<double>());
    typed_bytes.emplace(x["run"].get<std::string>() + "/" + x["weight_type"].get<std::string>(),
                        x["bytes"].get<double>());
  }
  std::string md =
      "| run | weights | bytes | x smaller than the run's first file | x smaller than the teacher's (same weights) "
      "| queries | max abs score diff | identical top-20 | top-20 overlap | HR@20 runtime / LibTorch | query p50 / p99 "
      "(µs) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& x : results["exports"]) {
    const std::string run = x["run"];
    const double bytes = x["bytes"].get<double>();
    const nlohmann::json* row = find_row(results, run);
    std::string vs_teacher = "–";
    if (row != nullptr && row->contains("teacher"))
      if (const auto it =
              typed_bytes.find((*row)["teacher"].get<std::string>() + "/" + x["weight_type"].get<std::string>());
          it != typed_bytes.end())
        vs_teacher = fmt::format("{:.1f}", it->second / bytes);
    md += fmt::format("| {} | {} | {} | {:.1f} | {} |", run, x["weight_type"].get<std::string>(),
                      x["bytes"].get<int64_t>(), first_bytes.at(run) / bytes, vs_teacher);
    if (!x.contains("verify")) {
      md += " – | – | – | – | – | – |\n";
      continue;
    }
    const nlohmann::json& v = x["verify"];
    md += fmt::format(" {} | {:.2g} | {:.4f} | {:.4f} | {:.4f} / {:.4f} | {:.0f} / {:.0f} |\n",
                      v["queries"].get<int64_t>(), v["max_abs_score_diff"].get<double>(),
                      v["top20_identical"].get<double>(), v["top20_overlap"].get<double>(),
                      v["hr@20_runtime"].get<double>(), v["hr@20_libtorch"].get<double>(),
                      v["query_us"]["p50"].get<double>(), v["query_us"]["p99"].get<double>());
  }
  return md;
}

// Each probe of the suite (results.json "probes") as its own section: pq_probe's table.
std::string probes_sections(const nlohmann::json& results) {
  std::string md;
  for (const auto& p : results.value("probes", nlohmann::json::array()))
    md += fmt::format(
        "\n## PQ ceiling (teacher's table quantised, nothing retrained): {}\n\n"
        "The run's model selected on validation (before any refit) with its item table replaced by the PQ "
        "reconstruction of that table (k-means codes, K = {} codewords per sub-space; OPQ in the rows marked "
        "rotation), every other weight unchanged: how much of the teacher's accuracy a table of that size keeps "
        "before any training (docs/design/pq.md §5). The first row is that model with its own table: compare the PQ "
        "rows with it, not with the run's row above, which for a refitted run is the model refitted on the validation "
        "sessions too. Metrics in %.\n\n{}",
        p["run"].get<std::string>(), p["settings"]["codewords"].get<int64_t>(), pq_probe_table(p));
  return md;
}

// The suite's goals: each measured ratio against its threshold, met or missed.
std::string goals_table(const nlohmann::json& results) {
  if (!results.contains("goals") || results["goals"].empty()) return "";
  std::string md = "| model | of | test metric | ratio | goal | verdict |\n|---|---|---|---|---|---|\n";
  for (const auto& g : results["goals"])
    md += fmt::format("| {} | {} | {} | {:.3f} | ≥ {} | {} |\n", g["model"].get<std::string>(),
                      g["of"].get<std::string>(), g["metric"].get<std::string>(), g["ratio"].get<double>(),
                      g["at_least"].get<double>(), g["met"].get<bool>() ? "met" : "**missed**");
  return md;
}

// The paper's numbers beside ours (the suite's "paper"), labelled with where they come from.
std::string paper_table(const nlohmann::json& results) {
  if (!results.contains("paper")) return "";
  std::string md =
      results["paper"]["note"].get<std::string>() + "\n\n| model | metric | ours (test) | paper |\n|---|---|---|---|\n";
  for (const auto& [model, metrics] : results["paper"]["rows"].items()) {
    const nlohmann::json* row = find_row(results, model);
    for (const auto& [metric, value] : metrics.items())
      md += fmt::format("| {} | {} | {} | {:.4f} |\n", model, metric,
                        row != nullptr ? row_metric(*row, "test", metric) : "–", value.get<double>());
  }
  return md;
}

std::string groups_table(const nlohmann::json& results) {
  std::string md;
  for (const auto& row : results["rows"]) {
    if (!row.contains("test_groups")) continue;
    if (md.empty()) {
      md = "| model | target group |";
      std::string sep = "|---|---|";
      for (const auto& m : results["metrics"]) md += " test " + m.get<std::string>() + " |", sep += "---|";
      md += "\n" + sep + "\n";
    }
    for (const auto& [group, metrics] : row["test_groups"].items()) {
      const nlohmann::json queries = row.value("test_group_queries", nlohmann::json::object());
      md += fmt::format("| {} | {}{} |", row["model"].get<std::string>(), group,
                        queries.contains(group) ? fmt::format(" ({} queries)", queries[group].get<int64_t>()) : "");
      for (const auto& m : results["metrics"]) md += " " + metric_or_dash(metrics, m.get<std::string>()) + " |";
      md += "\n";
    }
  }
  return md;
}

// Whether a refitted run has a grid (its combinations are tested before the refit, the row after).
bool refitted_grid(const nlohmann::json& results) {
  for (const auto& row : results["rows"])
    if (row.contains("grid") && row.value("refitted", false)) return true;
  return false;
}

// Every run's grid: each combination's validation value of the selection metric and, to draw the
// sweep figures, its test value (never used to choose); the selected combination in bold.
std::string grids_table(const nlohmann::json& results) {
  const std::string vm = results["valid_metric"];
  std::string md;
  for (const auto& row : results["rows"]) {
    if (!row.contains("grid")) continue;
    if (md.empty())
      md = fmt::format("| model | combination | valid {0} | test {0} (not used to choose) |\n|---|---|---|---|\n", vm);
    const size_t selected = row.value("selected", size_t{0});
    for (size_t i = 0; i < row["grid"].size(); ++i) {
      const nlohmann::json& g = row["grid"][i];
      std::string set;
      for (const auto& o : g["set"]) set += (set.empty() ? "" : " ") + o.get<std::string>();
      md += fmt::format("| {} | {}`{}`{} | {} | {} |\n", row["model"].get<std::string>(), i == selected ? "**" : "",
                        set, i == selected ? "** (selected)" : "", metric_or_dash(g["valid"], vm),
                        g.contains("test") ? metric_or_dash(g["test"], vm) : "–");
    }
  }
  return md;
}

// One axis of a row's grid: the combinations that differ from the selected one only in `key`, with
// the key's (numeric) value, the validation and the test value of the selection metric.
struct Sweep {
  std::string key;
  std::vector<std::array<double, 3>> points;  // value, valid, test; by value
};

// The sweeps of every numeric axis of a row's grid around its selected combination (the first with
// the best validation value), each with at least two points.
std::vector<Sweep> grid_sweeps(const nlohmann::json& row, const std::string& vm) {
  if (!row.contains("grid")) return {};
  std::vector<std::map<std::string, std::string>> sets;  // key -> value text, per combination
  const size_t selected = row.value("selected", size_t{0});
  for (size_t i = 0; i < row["grid"].size(); ++i) {
    const nlohmann::json& g = row["grid"][i];
    if (!g.contains("test")) return {};
    sets.emplace_back();
    for (const auto& o : g["set"]) {  // --key=value
      const std::string text = o.get<std::string>();
      const size_t eq = text.find('=');
      if (text.rfind("--", 0) == 0 && eq != std::string::npos)
        sets.back()[text.substr(2, eq - 2)] = text.substr(eq + 1);
    }
  }
  std::vector<Sweep> sweeps;
  for (const auto& [key, unused] : sets[selected]) {
    Sweep sweep{key, {}};
    for (size_t i = 0; i < sets.size(); ++i) {
      auto others = sets[i];
      others[key] = sets[selected].at(key);
      char* end = nullptr;
      const std::string& text = sets[i].count(key) ? sets[i].at(key) : "";
      const double value = std::strtod(text.c_str(), &end);
      if (others != sets[selected] || text.empty() || *end != '\0') continue;
      const nlohmann::json& g = row["grid"][i];
      sweep.points.push_back({value, g["valid"][vm].get<double>(), g["test"].value(vm, 0.0)});
    }
    std::sort(sweep.points.begin(), sweep.points.end());
    if (sweep.points.size() >= 2) sweeps.push_back(sweep);
  }
  return sweeps;
}

// The plot file of one sweep: sweep-<model>-<key>.
std::string sweep_name(const nlohmann::json& row, const Sweep& sweep) {
  return "sweep-" + row["model"].get<std::string>() + "-" + sweep.key;
}

bool has_curves(const nlohmann::json& results) {
  for (const auto& row : results["rows"])
    if (row.contains("curve")) return true;
  return false;
}

// Renders `script` (gnuplot commands without a terminal) to <base>.png and <base>.svg; gnuplot reads
// the script from a file and its messages go to another, quoted when it fails.
void render(const std::string& script, const std::string& base) {
  const std::string script_path = base + ".gp.tmp", log_path = base + ".gnuplot.tmp";
  for (const auto& [terminal, ext] :
       {std::pair{"pngcairo noenhanced size 1000,700", "png"}, std::pair{"svg noenhanced size 1000,700", "svg"}}) {
    const std::string target = base + "." + ext, tmp = target + ".tmp";
    write_file_atomic(script_path,
                      fmt::format("set terminal {}\nset output '{}'\n{}\nset output\n", terminal, tmp, script));
    const int status = std::system(fmt::format("gnuplot '{}' > '{}' 2>&1", script_path, log_path).c_str());
    const bool ok = status == 0 && std::filesystem::exists(tmp);
    const std::string messages = ok || !std::filesystem::exists(log_path) ? "" : read_file(log_path);
    std::filesystem::remove(script_path);
    std::filesystem::remove(log_path);
    if (!ok) std::filesystem::remove(tmp);
    PR_CHECK(ok, ErrorCode::kIo, "repro: gnuplot failed to write {} (exit status {}): {}", target, status, messages);
    std::filesystem::rename(tmp, target);
  }
}

// <dir>/<name>.dat, then the plot of `script` (which reads it) as <dir>/<name>.png and .svg.
void write_plot(const std::string& dir, const std::string& name, const std::string& dat, const std::string& script) {
  write_file_atomic(dir + "/" + name + ".dat", dat);
  render(script, dir + "/" + name);
}

void write_size_plot(const nlohmann::json& results, const std::string& dir) {
  const std::string vm = results["valid_metric"];
  std::string dat = fmt::format("# parameters, test {}, model; one block per role\n", vm);
  int blocks = 0;
  for (const char* role : {"teacher", "student", "baseline"}) {
    std::string block;
    for (const auto& row : results["rows"])
      if (row["role"] == role && row["test"].contains(vm) && row["params"].get<int64_t>() > 0)
        block += fmt::format("{} {:.6f} {}\n", row["params"].get<int64_t>(), row["test"][vm].get<double>(),
                             row["model"].get<std::string>());
    if (block.empty()) continue;
    dat += fmt::format("\"{}\"\n{}\n\n", role, block);
    ++blocks;
  }
  write_plot(
      dir, "size", dat,
      fmt::format(
          "set logscale x\nset xlabel 'parameters (log scale)'\nset ylabel 'test {0}'\nset grid\nset key outside right "
          "top\nset title '{1}: test {0} against model size'\nset offsets graph 0.05, graph 0.15, graph 0.05, graph "
          "0.05\nplot for [i=0:{2}] '{3}/size.dat' index i using 1:2 with points pointsize 1.6 pointtype 7 title "
          "columnheader(1), for [i=0:{2}] '{3}/size.dat' index i using 1:2:3 with labels offset 0,1 notitle",
          vm, results["dataset"].get<std::string>(), blocks - 1, dir));
}

void write_curves_plot(const nlohmann::json& results, const std::string& dir) {
  const std::string vm = results["valid_metric"];
  std::string dat = fmt::format("# epoch, training loss, valid {}; one block per run\n", vm);
  int blocks = 0;
  for (const auto& row : results["rows"]) {
    if (!row.contains("curve")) continue;
    dat += fmt::format("\"{}\"\n", row["model"].get<std::string>());
    for (const auto& p : row["curve"])
      dat += fmt::format(
          "{} {} {}\n", p["epoch"].get<int64_t>(),
          p["loss"].is_number() ? fmt::format("{:.6f}", p["loss"].get<double>()) : "NaN",
          p.contains("valid") && p["valid"].contains(vm) ? fmt::format("{:.6f}", p["valid"][vm].get<double>()) : "NaN");
    dat += "\n\n";
    ++blocks;
  }
  write_plot(
      dir, "curves", dat,
      fmt::format(
          "set grid\nset key outside right top\nset xlabel 'epoch'\nset multiplot layout 2,1 title '{0}: training "
          "curves'\nset ylabel 'training loss'\nplot for [i=0:{1}] '{2}/curves.dat' index i using 1:2 with linespoints "
          "title columnheader(1)\nset ylabel 'valid {3}'\nplot for [i=0:{1}] '{2}/curves.dat' index i using 1:3 with "
          "linespoints title columnheader(1)\nunset multiplot",
          results["dataset"].get<std::string>(), blocks - 1, dir, vm));
}

// The metric of the item-table and target-group plots: HR@20 when the suite reports it (the session
// data's headline, docs/design/pq.md), else the selection metric.
std::string headline_metric(const nlohmann::json& results) {
  for (const auto& m : results["metrics"])
    if (m == "hr@20") return "hr@20";
  return results["valid_metric"];
}

// The rows that report their item table's bytes and the headline test metric.
std::vector<const nlohmann::json*> table_rows(const nlohmann::json& results) {
  const std::string metric = headline_metric(results);
  std::vector<const nlohmann::json*> rows;
  for (const auto& row : results["rows"])
    if (row.contains("table_bytes") && row["test"].contains(metric)) rows.push_back(&row);
  return rows;
}

// The item tables' Pareto picture: test metric (and, with target groups, the metric on targets not in
// the history) against the item table's bytes, one labelled point per row and one colour per table
// family (the first word of the table's description: dense, stt, pq; tt for an STT table with t = 1).
void write_tables_plot(const nlohmann::json& results, const std::string& dir) {
  const std::string metric = headline_metric(results);
  std::map<std::string, std::string> blocks;  // family -> its points
  bool new_targets = false;
  for (const nlohmann::json* row : table_rows(results)) {
    const std::string table = row->value("table", std::string("table"));
    const nlohmann::json groups = row->value("test_groups", nlohmann::json::object());
    const bool has_new = groups.contains("new") && groups["new"].contains(metric);
    new_targets = new_targets || has_new;
    // A semi-tensor-train table with t = 1 is a plain tensor train, a family of its own.
    const std::string family = table.substr(0, table.find(' '));
    blocks[family == "stt" && table.find(" t=1 ") != std::string::npos ? "tt" : family] +=
        fmt::format("{} {:.6f} {} {}\n", (*row)["table_bytes"].get<int64_t>(), (*row)["test"][metric].get<double>(),
                    has_new ? fmt::format("{:.6f}", groups["new"][metric].get<double>()) : "NaN",
                    (*row)["model"].get<std::string>());
  }
  std::string dat = fmt::format(
      "# item table bytes, test {0}, test {0} on new targets (NaN: not reported), model; one block per table family\n",
      metric);
  for (const auto& [family, points] : blocks) dat += fmt::format("\"{}\"\n{}\n\n", family, points);
  const std::string panel =
      "plot for [i=0:{2}] '{0}/tables.dat' index i using 1:{1} with points pointsize 1.6 pointtype 7 title "
      "columnheader(1), for [i=0:{2}] '{0}/tables.dat' index i using 1:{1}:4 with labels offset 0,1 font ',9' "
      "notitle\n";
  std::string script = fmt::format(
      "set logscale x\nset xlabel 'item table bytes (log scale)'\nset grid\nset key outside right top\nset offsets "
      "graph 0.05, graph 0.15, graph 0.1, graph 0.1\n{}set title '{}: test {} against item table bytes'\nset "
      "ylabel 'test {}'\n",
      new_targets ? "set multiplot layout 2,1\n" : "", results["dataset"].get<std::string>(), metric, metric);
  script += fmt::format(fmt::runtime(panel), dir, 2, blocks.size() - 1);
  if (new_targets)
    script += fmt::format("set title 'targets not in the history'\nset ylabel 'test {} on new targets'\n", metric) +
              fmt::format(fmt::runtime(panel), dir, 3, blocks.size() - 1) + "unset multiplot\n";
  write_plot(dir, "tables", dat, script);
}

// The test target groups (eval.repeat_split: repeat / new; eval.popularity_split: hot / cold) of
// every row that reports them: clustered bars of the headline metric.
const std::array<const char*, 4> kGroups = {"hot", "cold", "repeat", "new"};

bool has_groups(const nlohmann::json& results) {
  for (const auto& row : results["rows"])
    if (row.contains("test_groups")) return true;
  return false;
}

void write_groups_plot(const nlohmann::json& results, const std::string& dir) {
  const std::string metric = headline_metric(results);
  std::vector<std::string> groups;  // those some row reports, in kGroups' order
  for (const char* g : kGroups)
    for (const auto& row : results["rows"])
      if (row.contains("test_groups") && row["test_groups"].contains(g) &&
          std::find(groups.begin(), groups.end(), g) == groups.end())
        groups.push_back(g);
  std::string dat = "# model";
  for (const std::string& g : groups) dat += " " + g;
  dat += fmt::format(": test {} of the queries whose targets are in each group (NaN: not reported)\n", metric);
  for (const auto& row : results["rows"]) {
    if (!row.contains("test_groups")) continue;
    dat += row["model"].get<std::string>();
    for (const std::string& g : groups) {
      const nlohmann::json& group = row["test_groups"].contains(g) ? row["test_groups"][g] : nlohmann::json::object();
      dat += group.contains(metric) ? fmt::format(" {:.6f}", group[metric].get<double>()) : " NaN";
    }
    dat += "\n";
  }
  std::string plot;
  for (size_t i = 0; i < groups.size(); ++i)
    plot += fmt::format("{}'{}/groups.dat' using {}{} title '{} targets'", i ? ", " : "plot ", dir, i + 2,
                        i ? "" : ":xtic(1)", groups[i]);
  write_plot(
      dir, "groups", dat,
      fmt::format("set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 "
                  "border -1\nset boxwidth 0.9\nset grid ytics\nset key outside right top\nset yrange [0:*]\n"
                  "set xtics rotate by -40\nset ylabel 'test {0}'\nset title '{1}: test {0} by target group'\n{2}",
                  metric, results["dataset"].get<std::string>(), plot));
}

// A plot per grid sweep (e.g. RD's distill.rd_alpha, docs/design/rankdistill.md): validation and test value
// of the selection metric against the key's value, the other keys at their selected values.
void write_sweep_plots(const nlohmann::json& results, const std::string& dir) {
  const std::string vm = results["valid_metric"];
  for (const auto& row : results["rows"])
    for (const Sweep& sweep : grid_sweeps(row, vm)) {
      const std::string name = sweep_name(row, sweep);
      std::string dat = fmt::format("# {}, valid {}, test {}\n", sweep.key, vm, vm);
      for (const auto& [x, valid, test] : sweep.points) dat += fmt::format("{} {:.6f} {:.6f}\n", x, valid, test);
      // A decade or more (0.3 .. 3 too, whatever the rounding of 10 x 0.3): a log scale.
      const bool log_x = sweep.points.front()[0] > 0 && sweep.points.back()[0] >= 9.999 * sweep.points.front()[0];
      write_plot(dir, name, dat,
                 fmt::format("{0}set grid\nset key outside right top\nset xlabel '{1}{2}'\nset ylabel '{3}'\n"
                             "set title '{4}: {5}, {3} against {1} (other settings as selected on valid)'\nset offsets "
                             "graph 0.05, graph 0.05, graph 0.1, graph 0.1\nplot '{6}/{7}.dat' using 1:2 with "
                             "linespoints pointtype 7 title 'valid {3}', '{6}/{7}.dat' using 1:3 with linespoints "
                             "pointtype 5 title 'test {3}'",
                             log_x ? "set logscale x\n" : "", sweep.key, log_x ? " (log scale)" : "", vm,
                             results["dataset"].get<std::string>(), row["model"].get<std::string>(), dir, name));
    }
}

// The Markdown that shows the plots of write_sweep_plots.
std::string sweep_plot_links(const nlohmann::json& results) {
  const std::string vm = results["valid_metric"];
  std::string md;
  for (const auto& row : results["rows"])
    for (const Sweep& sweep : grid_sweeps(row, vm))
      md += fmt::format("\n![{0}: {1} against {2}]({3}.svg)\n", row["model"].get<std::string>(), vm, sweep.key,
                        sweep_name(row, sweep));
  return md;
}

}  // namespace

std::string suite_table_markdown(const nlohmann::json& r) {
  std::string md = fmt::format("# {}\n\n", r["title"].get<std::string>());
  md += fmt::format(
      "Generated by `{}` (suite `{}`) from [results.json](results.json); edit the suite, not this page.\n"
      "Code {}; {}; {:.0f} s of compute over all stages{}.\n\n",
      r["command"].get<std::string>(), r["suite"].get<std::string>(), r["git_rev"].get<std::string>(),
      r["machine"].get<std::string>(), r["wall_s"].get<double>(),
      r["quick"].get<bool>() ? " (quick mode: the suite's smaller budget, not a result)" : "");
  md += fmt::format(
      "Data: {}. Every model is selected on validation {} and its test metrics are read once, after "
      "selection. Query times are the on-device runtime's top-20 query on this machine (one thread, "
      "median over the exported file's check queries).\n\n",
      r["dataset"].get<std::string>(), r["valid_metric"].get<std::string>());
  md += "## Models\n\n" + models_table(r);
  if (const std::string s = students_table(r); !s.empty()) md += "\n## Students against their teachers\n\n" + s;
  if (const std::string x = exports_table(r); !x.empty())
    md +=
        "\n## Exported files\n\nEach file loaded by the on-device runtime and compared with the LibTorch model on "
        "test queries spread over the test split: score differences, the top-20 lists, and HR@20 with nothing "
        "masked (any of the query's test items in the top 20; a check of the runtime against LibTorch, not the "
        "protocol's metric). Query times: one thread, this machine.\n\n" +
        x;
  md += probes_sections(r);
  if (const std::string g = goals_table(r); !g.empty())
    md += "\n## Goals\n\nThe suite's goals, on test metrics (means over seeds where a row has seeds).\n\n" + g;
  if (const std::string p = paper_table(r); !p.empty()) md += "\n## The paper's numbers\n\n" + p;
  if (const std::string g = groups_table(r); !g.empty()) md += "\n## Test targets by group\n\n" + g;
  if (const std::string g = grids_table(r); !g.empty())
    md +=
        "\n## Grids\n\nEach run is the combination with the best validation value; the test column is shown to draw "
        "the sweep plots and was not read to choose" +
        std::string(refitted_grid(r) ? " (for a refitted run, it is each combination's model before the refit)" : "") +
        ".\n\n" + g;
  md += fmt::format("\n## Plots\n\n![test {} against parameters](size.svg)\n", r["valid_metric"].get<std::string>());
  if (has_curves(r)) md += "\n![training loss and validation metric per epoch](curves.svg)\n";
  if (table_rows(r).size() >= 2)
    md += fmt::format("\n![test {} against item table bytes](tables.svg)\n", headline_metric(r));
  if (has_groups(r)) md += fmt::format("\n![test {} by target group](groups.svg)\n", headline_metric(r));
  md += sweep_plot_links(r);
  if (r.contains("query")) {
    const nlohmann::json& q = r["query"];
    std::string history;
    for (const auto& item : q["history"]) history += (history.empty() ? "" : " ") + std::to_string(item.get<int64_t>());
    md += fmt::format(
        "\n## The on-device runtime's answer\n\n`{}` ({}) loaded by the runtime through its C API; history "
        "`{}` (oldest first), the history's items left out:\n\n",
        q["file"].get<std::string>(), q["run"].get<std::string>(), history);
    std::vector<Recommendation> top;
    for (const auto& t : q["top"]) top.push_back({t["item"].get<int64_t>(), t["score"].get<float>()});
    md += recommendations_table(top);
  }
  return md;
}

void write_suite_pages(const nlohmann::json& results, const std::string& dir) {
  make_dirs(dir);
  write_size_plot(results, dir);
  if (has_curves(results)) write_curves_plot(results, dir);
  if (table_rows(results).size() >= 2) write_tables_plot(results, dir);
  if (has_groups(results)) write_groups_plot(results, dir);
  write_sweep_plots(results, dir);
  write_file_atomic(dir + "/table.md", suite_table_markdown(results));
  write_file_atomic(dir + "/results.json", results.dump(2) + "\n");  // last: the page is whole when it exists
}

}  // namespace pocketrec::app
