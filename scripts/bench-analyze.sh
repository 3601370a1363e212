#!/usr/bin/env bash
# Benchmark: `pipewright analyze` on a generated 100,000-file monorepo against a plain `find`
# over the same tree (warm cache, median of several runs), and on a small app.
# Usage: scripts/bench-analyze.sh [FILES]   (default 100000). Prints figures; changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
runs=11
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p pipewright
bin=target/release/pipewright

python3 - "$work/tree" "$files" <<'PY'
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
print(f"generated {n} files under {root}")
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

# Write the new tree out first: the kernel flushing 100,000 fresh files in the background
# would weigh on whichever runs during it. Then warm the cache once for both.
sync
find "$work/tree" -type f >/dev/null; $bin analyze --json "$work/tree" >/dev/null || true

# Runs alternate, so a burst of load elsewhere weighs on both figures alike.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/find.ms"
: >"$work/analyze.ms"
for _ in $(seq $runs); do
    time_ms find "$work/tree" -type f >>"$work/find.ms"
    time_ms $bin analyze --json "$work/tree" >>"$work/analyze.ms"
done
find_ms=$(median <"$work/find.ms")
analyze_ms=$(median <"$work/analyze.ms")
small_ms=$(for _ in $(seq $runs); do time_ms $bin analyze --json fixtures/repos/python-django-tailwind; done | median)
rss_kb=$( { /usr/bin/time -f "%M" $bin analyze --json "$work/tree" >/dev/null; } 2>&1 | tail -1 || echo "?")

echo "files:                  $files"
echo "find -type f (median):  ${find_ms} ms"
echo "analyze --json (median): ${analyze_ms} ms"
awk -v a="$analyze_ms" -v f="$find_ms" 'BEGIN { if (f > 0) printf "ratio analyze/find:     %.2f\n", a / f }'
echo "analyze small app:      ${small_ms} ms (fixtures/repos/python-django-tailwind)"
echo "analyze max RSS:        ${rss_kb} KiB"
echo "load average:           ${load_before} before, $(cut -d' ' -f1-3 /proc/loadavg) after (2 cores: figures above ~1 are not idle)"
