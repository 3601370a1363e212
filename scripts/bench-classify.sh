#!/usr/bin/env bash
# Benchmark: `pipewright classify` (release build) on a generated 1 GB job log, timed with
# /usr/bin/time -v: throughput and peak memory (target: RSS under 64 MB, the log is streamed).
# Then the in-process figures (100 MB log, 2,000-line log) from the bench target. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB="${SIZE_MB:-1024}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release -p pipewright --quiet
bin="${CARGO_TARGET_DIR:-target}/release/pipewright"

# One MiB of ordinary build output (compiler lines, downloads, coloured runner lines, a
# progress bar rewritten with \r), repeated, then a real failure at the end.
block="$work/block.log"
: > "$block"
while [ "$(stat -c %s "$block")" -lt 1048576 ]; do
  printf '%b\n' \
    '\e[1m\e[92m   Compiling\e[0m serde_derive v1.0.215' \
    '[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/slf4j/slf4j-api/2.0.16/slf4j-api-2.0.16.jar (69 kB at 1.2 MB/s)' \
    'test pricing::tests::total_without_tax ... ok' \
    '\e[32;1m$ npm ci --no-audit --no-fund\e[0;m' \
    'Downloading 10%\rDownloading 55%\rDownloading 100%' \
    'ok  \texample.com/orders/internal/store\t0.412s' >> "$block"
done
log="$work/job.log"
for _ in $(seq "$SIZE_MB"); do cat "$block"; done > "$log"
printf '%b\n' 'java.io.IOException: No space left on device' '\e[31;1mERROR: Job failed: exit code 137' '\e[0;m' >> "$log"
bytes="$(stat -c %s "$log")"

/usr/bin/time -v "$bin" classify "$log" --json > "$work/out.json" 2> "$work/time.txt" || true
grep -q '"class": "disk_full"' "$work/out.json" || { cat "$work/out.json"; echo "unexpected class" >&2; exit 1; }
secs="$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$work/time.txt")"
rss_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")"
cpu="$(awk -F': ' '/User time \(seconds\)/ {u=$2} /System time \(seconds\)/ {s=$2} END {print u+s}' "$work/time.txt")"
# Wall time counts the time other processes held the cores on a shared machine; CPU time
# (user + system) is what the classifier itself used.
awk -v b="$bytes" -v s="$secs" -v c="$cpu" -v r="$rss_kb" -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
  printf "classify %.0f MB log: %.2f s wall = %.2f GB/s; %.2f s CPU = %.2f GB/s (load average %s); max RSS %.1f MB (target < 64 MB)\n", b/1e6, s, b/s/1e9, c, b/c/1e9, l, r/1024 }'

cargo bench -p pipewright-core --bench classify
