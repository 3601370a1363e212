# shellcheck shell=bash
# A real browser for the web page's tests (crates/pipewright/tests/web_page.rs). Source this
# file, then:
#   browser_install   # Debian's chromium (apt, once) and Playwright from PyPI into
#                     # .ci-cache/browser-venv (once; no browser download: Playwright drives
#                     # /usr/bin/chromium), then exports PIPEWRIGHT_CHROMIUM and
#                     # PIPEWRIGHT_PLAYWRIGHT_PYTHON
# BROWSER_PIP_SPEC overrides what pip installs (default: the version the tests were written
# against). Nothing is started here: each test starts its own browser.

_browser_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BROWSER_VENV="${BROWSER_VENV:-$_browser_root/.ci-cache/browser-venv}"
BROWSER_PIP_SPEC="${BROWSER_PIP_SPEC:-playwright==1.65.2}"

browser_install() {
    if ! [ -x /usr/bin/chromium ]; then
        echo "browser: installing Debian's chromium (apt)" >&2
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >/dev/null \
            || { echo "browser: apt-get install chromium failed" >&2; return 1; }
    fi
    # The marker is written only after pip succeeded, so an interrupted install is redone.
    if ! [ -f "$BROWSER_VENV/.installed" ] || ! [ -x "$BROWSER_VENV/bin/python" ]; then
        echo "browser: installing $BROWSER_PIP_SPEC into $BROWSER_VENV (once)" >&2
        rm -rf "$BROWSER_VENV"
        mkdir -p "$(dirname "$BROWSER_VENV")"
        python3 -m venv "$BROWSER_VENV" || { echo "browser: python3 -m venv failed; install python3-venv" >&2; return 1; }
        # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: the tests use Debian's chromium, never a download.
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$BROWSER_VENV/bin/pip" install --quiet --disable-pip-version-check "$BROWSER_PIP_SPEC" \
            || { echo "browser: pip install $BROWSER_PIP_SPEC failed; check access to PyPI" >&2; return 1; }
        touch "$BROWSER_VENV/.installed"
    fi
    export PIPEWRIGHT_CHROMIUM=/usr/bin/chromium
    export PIPEWRIGHT_PLAYWRIGHT_PYTHON="$BROWSER_VENV/bin/python"
}
