#!/usr/bin/env bash
# The fuzz targets of crates/pipewright-core/tests/fuzz_parsers.rs, each for a long run
# (default 600 s, the issue's ten minutes) in its own process, optimised; prints per target
# the executions per second, the slowest input and the peak memory. A failing input is saved
# under target/fuzz-failures/ and the script exits non-zero.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET]
# The test command runs the same targets for 2 s each in the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
only="${2:-}"
source_file=crates/pipewright-core/tests/fuzz_parsers.rs
# The target names, as the test declares them (`name: "…"` in TARGETS).
mapfile -t targets < <(grep -oP '^\s+name: "\K[^"]+' "$source_file")
if [ -n "$only" ]; then
    targets=("$only")
fi
echo "fuzz: ${seconds} s per target, ${#targets[@]} target(s), release build"
cargo test --release --locked -p pipewright-core --test fuzz_parsers --no-run
failed=0
for target in "${targets[@]}"; do
    # One process per target, so the peak memory printed is that target's own (pipefail:
    # a failing run fails the script).
    if ! FUZZ_SECONDS="$seconds" FUZZ_TARGET="$target" \
        cargo test --release --locked -q -p pipewright-core --test fuzz_parsers -- \
        every_parser_survives_hostile_input --nocapture --test-threads 1 2>&1 |
        grep --line-buffered -E 'fuzz |panicked|error'; then
        failed=1
    fi
done
exit "$failed"
