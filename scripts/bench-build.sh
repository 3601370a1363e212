#!/usr/bin/env bash
# Benchmark: a fresh-clone `cargo build --release --locked -p pipewright` (an empty target
# folder, so every dependency is compiled), with `--timings`; prints the wall time, the number
# of units compiled, the slowest units, what ran on one core only at the end, and the binary's
# size. Usage:
#   scripts/bench-build.sh                  # builds into a new temporary target folder, removed after
#   scripts/bench-build.sh --report FILE    # only reads an existing cargo-timing.html
# The machine's load is printed too: on a shared machine the wall time counts the others' work.
set -euo pipefail
cd "$(dirname "$0")/.."

report() {
    python3 - "$1" <<'PY'
import json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
total = max(u["start"] + u["duration"] for u in units)
print(f"wall time (cargo's own):   {total:.1f} s ({total / 60:.1f} min)")
print(f"units compiled:            {len(units)} ({len({u['name'] for u in units})} packages)")
print(f"sum of unit times:         {sum(u['duration'] for u in units):.1f} s (the CPU-bound work, both cores)")
print("slowest units:")
for u in sorted(units, key=lambda u: -u["duration"])[:12]:
    target = u.get("target", "").strip() or "lib"
    print(f"  {u['duration']:7.1f} s  {u['name']} {u['version']} {target}")
ours = [u for u in units if u["name"].startswith("pipewright") and "build-script" not in u.get("target", "")]
if ours:
    tail_start = min(u["start"] for u in ours)
    print(f"pipewright's own crates:   from {tail_start:.1f} s to {total:.1f} s ({total - tail_start:.1f} s)")
PY
}

if [ "${1:-}" = "--report" ]; then
    report "$2"
    exit 0
fi

target=$(mktemp -d "${TMPDIR:-/tmp}/pipewright-build.XXXXXX")
trap 'rm -rf "$target"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
CARGO_TARGET_DIR="$target" cargo build --release --locked --timings -p pipewright --bin pipewright
end=$(date +%s)
echo "== fresh release build"
echo "wall time (measured):      $((end - start)) s"
report "$target/cargo-timings/cargo-timing.html"
# The report outlives the temporary target folder, to compare two builds unit by unit.
kept="${TIMINGS_OUT:-${TMPDIR:-/tmp}/pipewright-cargo-timing.html}"
cp "$target/cargo-timings/cargo-timing.html" "$kept"
echo "timing report:             $kept"
echo "binary size:               $(du -b "$target/release/pipewright" | cut -f1) bytes"
echo "load average:              ${load_before} before, $(cut -d' ' -f1-3 /proc/loadavg) after (2 cores)"
