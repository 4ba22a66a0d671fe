// Process-wide set-up of a binary that trains or scores with LibTorch (docs/design/platform.md §3).
#pragma once

namespace pocketrec::app {

// First line of main(): malloc settings that keep LibTorch's per-step temporaries from
// page-faulting on every step.
void prepare_process();

}  // namespace pocketrec::app
