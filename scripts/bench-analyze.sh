#!/usr/bin/env bash
# Benchmark: `pipewright analyze --json` on a one-file repository, a 500-file app and a
# generated 100,000-file monorepo (warm cache, median of several runs), each against
# `pipewright --version` (the cost of starting the binary) and a plain `find` over the same
# tree, with the ratios; then the peak memory on the large tree. With `nixpacks` on PATH, its
# `detect` on the same trees too.
# With `REAL_REPOS=DIR` (trees of real projects, scripts/fetch-real-repos.sh DIR), each of them
# too: analyze against `nixpacks detect` per tree, the median ratio and how many are slower.
# Usage: scripts/bench-analyze.sh [FILES]   (default 100000). Prints figures; changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
runs=${RUNS:-21}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# `BIN=path` measures another build (say, an older commit's) instead of building this one.
if [ -z "${BIN:-}" ]; then
    cargo build --release -q --locked -p pipewright
fi
built="${BIN:-${CARGO_TARGET_DIR:-target}/release/pipewright}"
# Timed from a copy, as `cargo install` leaves it: the kernel caches a file written in one
# sequential pass in large pages, so a start takes fewer page faults than from the linker's
# output (measured: 220 against 249 faults, 1.9 against 2.3 ms on a 16-file project).
bin="$work/pipewright"
cp "$built" "$bin"

# A tree of services (Python, TypeScript, Go, Python, JavaScript) and docs, `total` files.
generate() {
    python3 - "$1" "$2" <<'PY'
import os, sys
root, total = sys.argv[1], int(sys.argv[2])
services = [("api", "py"), ("web", "ts"), ("billing", "go"), ("worker", "py"), ("ui", "js")]
manifests = {
    "py": ("requirements.txt", "fastapi\nuvicorn\n"),
    "ts": ("package.json", '{"dependencies":{"next":"14.2.0","react":"18.3.1"},"scripts":{"build":"next build","start":"next start"}}'),
    "js": ("package.json", '{"dependencies":{"express":"4.19.2"},"scripts":{"start":"node server.js"}}'),
    "go": ("go.mod", "module example.com/billing\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.10.0\n"),
}
per = total // len(services)
n = 0
for name, ext in services:
    base = os.path.join(root, "services", name)
    os.makedirs(base, exist_ok=True)
    mf, text = manifests[ext]
    open(os.path.join(base, mf), "w").write(text)
    n += 1
    for i in range(per - 1):
        d = os.path.join(base, "src", f"m{i // 200:03d}")
        if i % 200 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}.{ext}"), "w") as f:
            f.write(f"// file {i}\n")
        n += 1
while n < total:
    d = os.path.join(root, "docs", f"d{n // 500}")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, f"p{n}.md"), "w").write("doc\n")
    n += 1
PY
}

mkdir -p "$work/one"
printf 'flask==3.0.3\n' >"$work/one/requirements.txt"
generate "$work/medium" 500
generate "$work/large" "$files"
# Write the new trees out first: the kernel flushing fresh files in the background would
# weigh on whichever runs during it.
sync

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Runs alternate between the commands, so a burst of load elsewhere weighs on all alike;
# each command runs once untimed first (warm cache).
python3 - "$bin" "$runs" "$work" "${REAL_REPOS:-}" <<'PY'
import os, shutil, statistics, subprocess, sys, time
binary, runs, work, real = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
nixpacks = shutil.which("nixpacks")

def median_ms(commands):
    times = {name: [] for name in commands}
    for argv in commands.values():
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}

print(f"{'tree':<22}{'--version':>11}{'find':>10}{'analyze':>10}{'a/version':>11}{'a/find':>9}" + (f"{'nixpacks':>10}{'a/nixpacks':>12}" if nixpacks else ""))
for label, tree in [("one file", "one"), ("500 files", "medium"), (f"large", "large")]:
    path = f"{work}/{tree}"
    commands = {
        "version": [binary, "--version"],
        "find": ["find", path, "-type", "f"],
        "analyze": [binary, "analyze", "--json", path],
    }
    if nixpacks:
        commands["nixpacks"] = [nixpacks, "detect", path]
    m = median_ms(commands)
    row = f"{label:<22}{m['version']:>9.1f}ms{m['find']:>8.1f}ms{m['analyze']:>8.1f}ms{m['analyze'] / m['version']:>10.2f}x{m['analyze'] / m['find']:>8.2f}x"
    if nixpacks:
        row += f"{m['nixpacks']:>8.1f}ms{m['analyze'] / m['nixpacks']:>11.2f}x"
    print(row, flush=True)
if not nixpacks:
    print("(nixpacks not on PATH: no `nixpacks detect` column)")
if real and nixpacks:
    trees = sorted(d for d in os.listdir(real) if not d.startswith(".") and os.path.isdir(os.path.join(real, d)))
    print(f"\nreal projects ({real}): analyze vs nixpacks detect, median of {runs} runs each")
    print(f"{'project':<44}{'files':>7}{'analyze':>10}{'nixpacks':>10}{'ratio':>8}")
    ratios = []
    for tree in trees:
        path = os.path.join(real, tree)
        files = sum(len(f) for _, _, f in os.walk(path))
        m = median_ms({"analyze": [binary, "analyze", "--json", path], "nixpacks": [nixpacks, "detect", path]})
        ratios.append(m["analyze"] / m["nixpacks"])
        print(f"{tree:<44}{files:>7}{m['analyze']:>8.1f}ms{m['nixpacks']:>8.1f}ms{ratios[-1]:>7.2f}x", flush=True)
    slower = sum(r > 1 for r in ratios)
    print(f"median ratio analyze/nixpacks: {statistics.median(ratios):.2f}x over {len(ratios)} projects "
          f"(best {min(ratios):.2f}x, worst {max(ratios):.2f}x; slower on {slower})")
PY
rss_kb=$( { /usr/bin/time -f "%M" "$bin" analyze --json "$work/large" >/dev/null; } 2>&1 | tail -1 || echo "?")
echo "large tree:             $files files; analyze max RSS ${rss_kb} KiB"
echo "runs:                   median of $runs each"
echo "load average:           ${load_before} before, $(cut -d' ' -f1-3 /proc/loadavg) after (2 cores: figures above ~1 are not idle)"
