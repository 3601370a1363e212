#!/usr/bin/env bash
# Fetches a corpus of real projects' source trees, at pinned versions, from the package
# registries this machine reaches, for scripts/bench-analyze.sh (`REAL_REPOS=DIR`): Python
# sdists (PyPI), npm package tarballs, Debian's upstream tarballs of Go, Ruby, PHP and Java
# projects (`apt-get source`, needs a deb-src line), and crates.io packages. Each lands in
# DIR/<ecosystem>-<name>. Already fetched trees are kept. Usage:
#   scripts/fetch-real-repos.sh DIR
set -uo pipefail
dir=${1:?usage: scripts/fetch-real-repos.sh DIR}
mkdir -p "$dir/.downloads"
dl="$dir/.downloads"

unpack() { # archive, destination: the archive's single top folder becomes the destination
    local archive=$1 dest=$2 tmp
    tmp=$(mktemp -d)
    if tar -xf "$archive" -C "$tmp" 2>/dev/null || (cd "$tmp" && unzip -q "$archive" 2>/dev/null); then
        local top=("$tmp"/*)
        if [ "${#top[@]}" -eq 1 ] && [ -d "${top[0]}" ]; then
            mv "${top[0]}" "$dest"
        else
            mv "$tmp" "$dest" && return 0
        fi
    fi
    rm -rf "$tmp"
}

pypi=(flask==3.0.3 Django==5.0.6 requests==2.32.3 fastapi==0.111.0 celery==5.4.0 httpx==0.27.0
    gunicorn==22.0.0 starlette==0.37.2 scrapy==2.11.2 black==24.4.2 sqlalchemy==2.0.30 rich==13.7.1)
for spec in "${pypi[@]}"; do
    name=${spec%%==*}
    dest="$dir/python-${name,,}"
    [ -d "$dest" ] && continue
    rm -rf "$dl/pypi" && mkdir -p "$dl/pypi"
    if pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$dl/pypi" "$spec" >/dev/null 2>&1 ||
        pip download -q --no-deps --no-binary :all: -d "$dl/pypi" "$spec" >/dev/null 2>&1; then
        unpack "$(ls "$dl"/pypi/* | head -1)" "$dest"
    fi
    [ -d "$dest" ] && echo "fetched python-${name,,}" || echo "could not fetch $spec" >&2
done

npm=(express@4.19.2 koa@2.15.3 fastify@4.27.0 axios@1.7.2 lodash@4.17.21 vue@3.4.27 react@18.3.1
    @nestjs/core@10.3.8 vite@5.2.12 eslint@9.4.0 prettier@3.3.0 commander@12.1.0 next@14.2.3 webpack@5.91.0)
for spec in "${npm[@]}"; do
    name=${spec%@*}
    name=${name//@/}
    name=${name//\//-}
    dest="$dir/js-$name"
    [ -d "$dest" ] && continue
    rm -rf "$dl/npm" && mkdir -p "$dl/npm"
    if (cd "$dl/npm" && npm pack -q --silent "$spec" >/dev/null 2>&1); then
        unpack "$(ls "$dl"/npm/*.tgz | head -1)" "$dest"
    fi
    [ -d "$dest" ] && echo "fetched js-$name" || echo "could not fetch $spec" >&2
done

debian=(golang-github-spf13-cobra golang-github-gin-gonic-gin golang-github-gorilla-mux
    golang-github-sirupsen-logrus golang-github-prometheus-client-golang ruby-rack ruby-sinatra
    ruby-rails-html-sanitizer ruby-faraday php-monolog php-guzzlehttp-psr7 php-symfony-polyfill
    libcommons-lang3-java jackson-core libspring-java elixir-lang)
for pkg in "${debian[@]}"; do
    dest="$dir/debian-$pkg"
    [ -d "$dest" ] && continue
    rm -rf "$dl/deb" && mkdir -p "$dl/deb"
    # Only the upstream tarball is used: a missing Debian patch set does not matter.
    (cd "$dl/deb" && apt-get source -q --download-only "$pkg" >/dev/null 2>&1)
    orig=$(ls "$dl"/deb/*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -1)
    [ -n "$orig" ] && unpack "$orig" "$dest"
    [ -d "$dest" ] && echo "fetched debian-$pkg" || echo "could not fetch $pkg" >&2
done

crates=(ripgrep@14.1.0 serde@1.0.203 clap@4.5.4 tokio@1.38.0 axum@0.7.5 reqwest@0.12.4)
for spec in "${crates[@]}"; do
    name=${spec%@*} version=${spec#*@}
    dest="$dir/rust-$name"
    [ -d "$dest" ] && continue
    if curl -sfL -o "$dl/$name.crate" "https://static.crates.io/crates/$name/$name-$version.crate"; then
        unpack "$dl/$name.crate" "$dest"
    fi
    [ -d "$dest" ] && echo "fetched rust-$name" || echo "could not fetch $spec" >&2
done
echo "$(find "$dir" -mindepth 1 -maxdepth 1 -type d ! -name .downloads | wc -l) trees in $dir"
