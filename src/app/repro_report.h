// The pages of a reproduction suite, generated from its results.json alone (the schema is in
// docs/results/README.md): table.md, and plots rendered by gnuplot as PNG and SVG: the test
// metric against model size, and each trained run's loss and validation metric per epoch.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace pocketrec::app {

// table.md: every row's sizes, query time and metrics; each student against its teacher; the
// exported files; the PQ ceilings; the target groups; the runtime's answer to the suite's query.
std::string suite_table_markdown(const nlohmann::json& results);

// Writes <dir>/size.{dat,png,svg}, curves.{dat,png,svg} when a run has a training curve, table.md,
// then results.json; every file atomically. Error(kIo) naming the plot when gnuplot fails.
void write_suite_pages(const nlohmann::json& results, const std::string& dir);

}  // namespace pocketrec::app
