#!/usr/bin/env bash
# Benchmark: the knowledge store with 100,000 records, retrieval (top-5 with filters) for the
# embedded backend and for a real ChromaDB server on the same data, in one run. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services/chroma.sh
source scripts/services/chroma.sh
chroma_start
trap chroma_stop EXIT
cargo bench -p pipewright-adapters --bench store
