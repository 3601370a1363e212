#!/usr/bin/env bash
# The knowledge store's tests against both backends: the embedded SQLite store and a real
# ChromaDB server (installed from PyPI into .ci-cache/chroma-venv on first use).
#   scripts/test-store.sh           # unit tests + the shared behavioural suite
#   scripts/test-store.sh --bench   # also the 100,000-record benchmark (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=services/chroma.sh
source scripts/services/chroma.sh
chroma_start
trap chroma_stop EXIT
cargo test -p pipewright-core knowledge
cargo test -p pipewright-adapters
if [ "${1:-}" = "--bench" ]; then
    cargo bench -p pipewright-adapters --bench store
fi
