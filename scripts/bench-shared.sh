#!/usr/bin/env bash
# Several instances on one PostgreSQL under load: 1,000 monitored pipelines (fake GitLab,
# 1 s poll) claimed by instance A; B joins; A is killed with -9; B takes every task over
# when A's leases run out. Prints GitLab requests per pipeline per poll with one instance,
# with two, and after the takeover, and the time until every task is held again. Starts its
# own PostgreSQL (scripts/services/postgres.sh); loopback only. The figures come from the
# ignored test `crates/pipewright/tests/bench_shared.rs`.
#
#   scripts/bench-shared.sh                  # release build, lease 30 s (the default)
#   PROFILE=dev LEASE=5 scripts/bench-shared.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TASKS=${TASKS:-1000} LEASE=${LEASE:-30}
# shellcheck source=scripts/services/postgres.sh
source scripts/services/postgres.sh
trap postgres_stop EXIT
postgres_start
profile=${PROFILE:-release}
flag=()
[[ "$profile" == release ]] && flag=(--release)
cargo test -p pipewright "${flag[@]}" --test bench_shared -- --ignored --nocapture
