#!/usr/bin/env bash
# Builds every Python, Node/TypeScript and Rust fixture for real (scripts/dockerbuild): the
# generated Dockerfile's test image, the test job's script inside it with its services, the
# release image and its command listening on the exposed port. Prints one row per fixture
# (image build, tests in image, runtime starts, time, the first failure's reason) and totals.
#   scripts/bench-realbuild.sh [FIXTURE...]     (default: all of them)
# Needs root; sets the harness up first (idempotent, bases reused from /var/lib/dockerbuild).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services/dockerbuild.sh
source scripts/services/dockerbuild.sh
trap dockerbuild_stop EXIT
dockerbuild_start
if [ $# -gt 0 ]; then REALBUILD_ONLY=$(IFS=,; echo "$*"); export REALBUILD_ONLY; fi
start=$SECONDS
cargo test -q -p pipewright --test real_builds --locked -- --ignored --nocapture --exact every_fixture_table 2>/dev/null \
  | grep --line-buffered -v -E '^(running [0-9]+ test|test result:|test every_fixture_table|$)' || true
echo "total: $((SECONDS - start)) s"
