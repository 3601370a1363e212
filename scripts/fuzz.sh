#!/usr/bin/env bash
# The fuzz targets of crates/pipewright-core/tests/fuzz_parsers.rs, each for a long run
# (default 600 s, the issue's ten minutes), optimised; prints executions per second, the
# slowest input and the peak memory per target. A failing input is saved under
# target/fuzz-failures/ and the script exits non-zero.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET]
# The test command runs the same targets for 2 s each in the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
target="${2:-}"
export FUZZ_SECONDS="$seconds"
if [ -n "$target" ]; then
    export FUZZ_TARGET="$target"
fi
echo "fuzz: ${seconds} s per target${target:+ (only $target)}, release build"
cargo test --release --locked -p pipewright-core --test fuzz_parsers -- \
    every_parser_survives_hostile_input --nocapture --test-threads 1 2>&1 |
    grep --line-buffered -E '^fuzz |panicked|test result|error'
