# shellcheck shell=bash
# Real Docker registries for tests: Debian's `docker-registry` (distribution 2.8) and
# `htpasswd` (apache2-utils, bcrypt files for Basic auth), `openssl` (a throwaway CA for the
# HTTPS test). Source this file, then:
#   registry_install   # installs both with apt-get when missing, exports PIPEWRIGHT_TEST_REGISTRY_BIN
# The tests start their own registries (free loopback ports, their own data folders) and stop
# them; nothing is left running. skopeo (Debian) is installed too, for scripts/bench-images.sh.

registry_install() {
    local missing=()
    command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
    command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
    command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # the TLS test's throwaway CA
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "registry: installing ${missing[*]} (Debian)" >&2
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        ($sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null \
            || { echo "registry: apt-get install ${missing[*]} failed" >&2; return 1; }
    fi
    PIPEWRIGHT_TEST_REGISTRY_BIN="$(command -v docker-registry || echo /usr/bin/docker-registry)"
    export PIPEWRIGHT_TEST_REGISTRY_BIN
}
