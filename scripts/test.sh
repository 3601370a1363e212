#!/usr/bin/env bash
# The one test command (README, .ci/run): installs and starts what the tests need on a fresh
# machine, runs every test of the workspace, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

echo "== tools (hadolint, gitlab-ci-local)"
# shellcheck source=scripts/tools.sh
source scripts/tools.sh

echo "== build"
cargo build --workspace --all-targets --locked

echo "== tests"
cargo test --workspace --locked --no-fail-fast -- --test-threads 2
