#!/usr/bin/env python3
"""The layering rules of docs/architecture.md, checked on the source tree (run by ctest):
  - no include cycle between the folders of src/; train/ includes nothing from models/; cli/
    includes nothing of PocketRec but app/ and core/; no folder below app/ includes app/ or cli/;
  - no configuration key is read by name below src/app (Config getters outside app/ and core/config);
  - no dynamic_cast in src/ (capabilities come from the registries);
  - no file in src/cli over 150 lines, no function in src/train or src/app over 80 lines;
  - no source, test, tool or config cites a design document outside the repository (../shared/design).
Prints every violation and exits 1 if there is any."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
src = os.path.join(root, "src")
problems = []


def files(folder, exts=(".h", ".cpp", ".hpp", ".c", ".in")):
    for d, _, names in os.walk(folder):
        for n in sorted(names):
            if n.endswith(exts):
                yield os.path.join(d, n)


def rel(p):
    return os.path.relpath(p, root)


folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
graph = {f: set() for f in folders}
include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
for path in files(src):
    folder = os.path.relpath(path, src).split(os.sep)[0]
    for line in open(path, encoding="utf-8"):
        m = include.match(line)
        if m and m.group(1) in graph and m.group(1) != folder:
            graph[folder].add(m.group(1))
            target = m.group(1)
            if folder == "train" and target == "models":
                problems.append(f"{rel(path)}: train/ includes models/ ({line.strip()})")
            if folder == "cli" and target not in ("app", "core"):
                problems.append(f"{rel(path)}: cli/ includes {target}/ ({line.strip()})")
            if folder not in ("app", "cli") and target in ("app", "cli"):
                problems.append(f"{rel(path)}: {folder}/ includes {target}/ ({line.strip()})")

# Cycles in the folder graph (depth-first search).
state = {}


def visit(node, stack):
    state[node] = "open"
    for nxt in sorted(graph[node]):
        if state.get(nxt) == "open":
            cycle = stack[stack.index(nxt):] + [nxt]
            problems.append("include cycle between folders: " + " -> ".join(cycle))
        elif nxt not in state:
            visit(nxt, stack + [nxt])
    state[node] = "done"


for f in folders:
    if f not in state:
        visit(f, [f])

getter = re.compile(r'\.(str|integer|number|boolean|integers|numbers|strings)\("[a-z_]+\.[a-z_.]+"\)')
for path in files(src):
    r = os.path.relpath(path, src)
    if r.startswith("app" + os.sep) or r.startswith(os.path.join("core", "config")):
        continue
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        if getter.search(line):
            problems.append(f"{rel(path)}:{i}: a config key read below src/app: {line.strip()}")
        if "dynamic_cast" in line:
            problems.append(f"{rel(path)}:{i}: dynamic_cast (declare the capability in a registry): {line.strip()}")

for path in files(os.path.join(src, "cli")):
    n = sum(1 for _ in open(path, encoding="utf-8"))
    if n > 150:
        problems.append(f"{rel(path)}: {n} lines (src/cli files stay under 150)")

header = re.compile(r'^(\s*)(?!if\b|for\b|while\b|switch\b|else\b|do\b|catch\b|try\b|namespace\b|struct\b|class\b|enum\b)'
                    r'[^\s=][^=;]*\)\s*(const)?\s*(override)?\s*(noexcept)?\s*\{\s*$')
for folder in ("train", "app"):
    for path in files(os.path.join(src, folder), (".cpp", ".h")):
        lines = open(path, encoding="utf-8").read().split("\n")
        for i, line in enumerate(lines):
            m = header.match(line)
            if not m:
                continue
            indent = m.group(1)
            start = i  # a header broken over lines: the body closes at its first line's indent
            while start > 0 and lines[start - 1].rstrip().endswith(","):
                start -= 1
            if start < i:
                indent = re.match(r"^(\s*)", lines[start]).group(1)
            if line.strip().startswith(":"):  # a constructor's initializer list: the body closes at the header's indent
                indent = re.match(r"^(\s*)", lines[i - 1]).group(1)
            for j in range(i + 1, len(lines)):
                if lines[j].startswith(indent + "}") and not lines[j].startswith(indent + " "):
                    if j - i + 1 > 80:
                        problems.append(f"{rel(path)}:{i + 1}: a function of {j - i + 1} lines (src/{folder} keeps "
                                        f"them under 80)")
                    break

for folder in ("src", "runtime", "tests", "bench", "tools", "configs", "scripts"):
    for path in files(os.path.join(root, folder), (".h", ".cpp", ".c", ".sh", ".py", ".json", ".txt", ".in", ".cmake")):
        if os.path.abspath(path) == os.path.abspath(__file__):
            continue
        for i, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            if "shared/design" in line:
                problems.append(f"{rel(path)}:{i}: cites a document outside the repository: {line.strip()}")

for p in problems:
    print(p)
print(f"check_architecture: {len(problems)} problem(s); folders: " +
      ", ".join(f"{f} -> {{{', '.join(sorted(graph[f]))}}}" for f in folders))
sys.exit(1 if problems else 0)
