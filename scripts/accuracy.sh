#!/usr/bin/env bash
# Prints the analyzer's accuracy per field (language, framework, build tool, test framework,
# runtime version, port, role, and the set of services) over every fixture under
# fixtures/repos, measured against fixtures/expected.toml; fails when a field is under 97 %.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test -q -p pipewright-workflow --test analyze_accuracy -- --nocapture
