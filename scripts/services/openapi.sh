# shellcheck shell=bash
# An OpenAPI validator for the service's document (crates/pipewright/tests/serve_openapi.rs).
# Source this file, then:
#   openapi_validator_install   # openapi-spec-validator from PyPI into .ci-cache/openapi-venv
#                               # (once), then exports PIPEWRIGHT_OPENAPI_VALIDATOR (its CLI)
# OPENAPI_PIP_SPEC overrides what pip installs (default: the version the tests were written
# against). Nothing is started here.

_openapi_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OPENAPI_VENV="${OPENAPI_VENV:-$_openapi_root/.ci-cache/openapi-venv}"
OPENAPI_PIP_SPEC="${OPENAPI_PIP_SPEC:-openapi-spec-validator==0.9.0}"

openapi_validator_install() {
    # The marker is written only after pip succeeded, so an interrupted install is redone.
    if ! [ -f "$OPENAPI_VENV/.installed" ] || ! [ -x "$OPENAPI_VENV/bin/openapi-spec-validator" ]; then
        echo "openapi: installing $OPENAPI_PIP_SPEC into $OPENAPI_VENV (once)" >&2
        rm -rf "$OPENAPI_VENV"
        mkdir -p "$(dirname "$OPENAPI_VENV")"
        python3 -m venv "$OPENAPI_VENV" || { echo "openapi: python3 -m venv failed; install python3-venv" >&2; return 1; }
        "$OPENAPI_VENV/bin/pip" install --quiet --disable-pip-version-check "$OPENAPI_PIP_SPEC" \
            || { echo "openapi: pip install $OPENAPI_PIP_SPEC failed; check access to PyPI" >&2; return 1; }
        touch "$OPENAPI_VENV/.installed"
    fi
    export PIPEWRIGHT_OPENAPI_VALIDATOR="$OPENAPI_VENV/bin/openapi-spec-validator"
}
