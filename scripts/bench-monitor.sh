#!/usr/bin/env bash
# The monitor under load: one `pipewright serve` driving 1,000 unfinished monitor tasks (resumed
# from the run store at start) against the fake GitLab with a 1 s poll interval. Prints the
# server's RSS, GitLab requests per pipeline per poll, and the webhook answer latency p50/p99
# while 200 deliveries/s arrive. Loopback only; the figures come from the ignored test
# `crates/pipewright/tests/bench_monitor.rs`.
#
#   scripts/bench-monitor.sh                 # release build
#   PROFILE=dev scripts/bench-monitor.sh     # debug build (slower to run, faster to build)
#   TASKS=500 RATE=100 scripts/bench-monitor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TASKS=${TASKS:-1000} RATE=${RATE:-200}
profile=${PROFILE:-release}
flag=()
[[ "$profile" == release ]] && flag=(--release)
cargo test -p pipewright "${flag[@]}" --test bench_monitor -- --ignored --nocapture
