#!/usr/bin/env bash
# Copies a 200 MB multi-layer, two-platform image between two local registries (Debian's
# docker-registry: an anonymous "upstream" and a "Nexus" with htpasswd Basic auth), with
# `skopeo copy --all` and with `pipewright images --seed`, in the same run, alternating, into
# fresh repositories each time. Prints each tool's wall time and peak RSS (GNU time), the
# median ratio, and whether pipewright is within 1.2x of skopeo and under 64 MB.
#   ROUNDS=3 (default)   LAYER_MB=25 (x 4 layers x 2 platforms = 200 MB)
#   PIPEWRIGHT_BIN=path  use that binary instead of building the release one
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/services/registry.sh
source scripts/services/registry.sh
registry_install
ROUNDS="${ROUNDS:-3}"
LAYER_MB="${LAYER_MB:-25}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
if [ -n "${PIPEWRIGHT_BIN:-}" ]; then
    bin="$PIPEWRIGHT_BIN"
else
    cargo build --release -p pipewright --quiet
    bin="$CARGO_TARGET_DIR/release/pipewright"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/pipewright-bench-images.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start_registry() { # name port [htpasswd]
    local name=$1 port=$2 auth=""
    mkdir -p "$work/$name"
    if [ -n "${3:-}" ]; then
        auth=$'auth:\n  htpasswd:\n    realm: bench\n    path: '"$3"
    fi
    cat > "$work/$name/config.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/$name/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
$auth
CFG
    "$PIPEWRIGHT_TEST_REGISTRY_BIN" serve "$work/$name/config.yml" >"$work/$name/log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "registry $name did not start" >&2; return 1
}

user=bench; pass="bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
htpasswd -nbB "$user" "$pass" > "$work/htpasswd" 2>/dev/null

# Each round gets a fresh pair of registries: nothing from an earlier round (skopeo's blob
# info cache keys on host:port, pipewright keeps none) can turn an upload into a mount.
fresh_registries() { # round
up_port=$(free_port); start_registry "upstream$1" "$up_port"
nx_port=$(free_port); start_registry "nexus$1" "$nx_port" "$work/htpasswd"
up="127.0.0.1:$up_port"; nx="127.0.0.1:$nx_port"
echo "== round $1: pushing a $((LAYER_MB * 8)) MB image (2 platforms x 4 layers) to the upstream $up"
upstream_digest=$(python3 - "$up" "$LAYER_MB" <<'PY'
import hashlib, json, os, sys, urllib.request
base, mb = "http://" + sys.argv[1], int(sys.argv[2])
repo = "bench/big"
def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    return urllib.request.urlopen(r)
def blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = req("POST", f"{base}/v2/{repo}/blobs/uploads/").headers["Location"]
    loc = loc if loc.startswith("http") else base + loc
    # An explicit type: urllib's default (form-urlencoded) makes the registry read the body as a form.
    req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data, {"Content-Type": "application/octet-stream"})
    return d
entries = []
for arch in ("amd64", "arm64"):
    layers = []
    for _ in range(4):
        data = os.urandom(mb * 1024 * 1024)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(data), "size": len(data)})
    cfg = json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(cfg), "size": len(cfg)},
                    "layers": layers}).encode()
    d = "sha256:" + hashlib.sha256(m).hexdigest()
    req("PUT", f"{base}/v2/{repo}/manifests/{d}", m, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": len(m), "platform": {"os": "linux", "architecture": arch}})
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
req("PUT", f"{base}/v2/{repo}/manifests/1", idx, {"Content-Type": "application/vnd.oci.image.index.v1+json"})
print("sha256:" + hashlib.sha256(idx).hexdigest())
PY
)

}

measure() { # label out-file command...
    local label=$1 out=$2; shift 2
    /usr/bin/time -f "%e %M" -o "$out" "$@" >"$work/$label.stdout" 2>"$work/$label.stderr" \
        || { echo "$label failed:" >&2; cat "$work/$label.stderr" "$work/$label.stdout" >&2; exit 1; }
}

# The index digest must be the upstream's.
check_digests() { # round
python3 - "$nx" "$user" "$pass" "$upstream_digest" "$1" <<'PY'
import base64, sys, urllib.request
nx, user, pw, want = sys.argv[1:5]
auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
acc = "application/vnd.oci.image.index.v1+json"
def digest(repo):
    r = urllib.request.Request(f"http://{nx}/v2/{repo}/manifests/1", method="HEAD", headers={"Authorization": auth, "Accept": acc})
    return urllib.request.urlopen(r).headers["Docker-Content-Digest"]
a, b = digest(f"skopeo{sys.argv[5]}/big"), digest(f"pw{sys.argv[5]}/big")
print(f"index digest: upstream {want}, skopeo {'same' if a == want else a}, pipewright {'same' if b == want else b}")
sys.exit(0 if b == want else 1)
PY
}

results="$work/results"
: > "$results"
for round in $(seq "$ROUNDS"); do
    fresh_registries "$round"
    measure skopeo "$work/t" skopeo copy --all --preserve-digests --quiet --src-tls-verify=false --dest-tls-verify=false \
        --dest-creds "$user:$pass" "docker://$up/bench/big:1" "docker://$nx/skopeo$round/big:1"
    read -r s_time s_rss < "$work/t"
    dir="$work/files$round"; mkdir -p "$dir"
    printf 'ARG BASE_REGISTRY=ai-nexus:5001\nFROM ${BASE_REGISTRY}/pw%s/big:1\n' "$round" > "$dir/Dockerfile"
    printf '[images.upstream]\n"pw%s/big" = "docker.io/bench/big"\n' "$round" > "$dir/pipewright.toml"
    (cd "$dir" && measure pipewright "$work/t" env NEXUS_REGISTRY="$nx" NEXUS_USERNAME="$user" \
        NEXUS_PASSWORD="$pass" PIPEWRIGHT_REGISTRY_INSECURE=1 PIPEWRIGHT_REGISTRY_MIRRORS="docker.io=$up" \
        "$bin" images . --seed --json)
    read -r p_time p_rss < "$work/t"
    grep -q '"copied": true' "$work/pipewright.stdout" || { echo "pipewright copied nothing:" >&2; cat "$work/pipewright.stdout" >&2; exit 1; }
    echo "$s_time $s_rss $p_time $p_rss" >> "$results"
    printf 'round %s: skopeo %6.2f s %6.1f MB | pipewright %6.2f s %6.1f MB\n' "$round" \
        "$s_time" "$(echo "$s_rss / 1024" | bc -l)" "$p_time" "$(echo "$p_rss / 1024" | bc -l)"
    check_digests "$round"
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
s_t = statistics.median(r[0] for r in rows); p_t = statistics.median(r[2] for r in rows)
p_rss = max(r[3] for r in rows) / 1024; s_rss = max(r[1] for r in rows) / 1024
ratio = p_t / s_t
print(f"median: skopeo {s_t:.2f} s, pipewright {p_t:.2f} s, ratio {ratio:.2f} (target <= 1.20)")
print(f"peak RSS: skopeo {s_rss:.1f} MB, pipewright {p_rss:.1f} MB (target < 64 MB)")
ok = ratio <= 1.2 and p_rss < 64
print("RESULT:", "ok" if ok else "NOT MET")
sys.exit(0 if ok else 1)
PY
