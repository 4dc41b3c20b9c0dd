#!/usr/bin/env bash
# Builds the project's Dockerfile and runs the image, then deploy/deployment.yaml, with
# Debian's podman: daemonless, so it works where no Docker engine runs (this project's machines
# and CI have only the docker client). Checks:
#   - both stages build; the runtime image runs as uid 10001 with ENTRYPOINT encore serve;
#   - `podman run` with the image's default CMD, a read-only root filesystem, no capabilities,
#     a 2-CPU / 2 GiB limit and a model mounted read-only at /model: /health is 200, /info names
#     the model, and /predict gives the scores `encore classify` gives on this machine (1e-5);
#     SIGTERM (`podman stop`) drains and the server exits 0;
#   - `podman kube play deploy/deployment.yaml` (the image name replaced, one replica, the
#     encore-model PVC as a named volume holding the model): the pod runs with the manifest's
#     args, env, securityContext and limits, serves /health and exits 0 when stopped.
# Not checked here: Service, HPA and Prometheus Adapter rules need a Kubernetes API server, and
# the kubelet's probes and preStop hook are not run by podman.
#
# Exit 77: the check could not run here (not root, no podman and no way to install it, no base
# image, or no container runtime that starts a container): a warning, not a project failure.
#
#   scripts/container_check.sh
#   CONTAINER_MODEL=DIR  classifier folder to serve (default ../shared/models/clinc-bert-mini)
#   CONTAINER_BASE=IMG   base image (default: debian:bookworm-slim if present or pullable, else
#                        one imported from the tarball scripts/fresh_machine_check.sh caches)
#   CONTAINER_PORT=N     host port for the checks (default 18080)
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd -P)
name=container_check
skip() {
  echo "$name: WARNING: skipped: $*" >&2
  exit 77
}
fail() {
  echo "$name: FAILED: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman, as on CI)"
model=${CONTAINER_MODEL:-$project/../shared/models/clinc-bert-mini}
[ -f "$model/config.json" ] || skip "no model folder at $model"
model=$(cd "$model" && pwd -P)
port=${CONTAINER_PORT:-18080}
tag=localhost/encore:check
start=$SECONDS

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  # With its recommends (catatonit for kube play's pause image, netavark, iptables, slirp4netns).
  echo "$name: installing podman and runc"
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null; } || skip "could not install podman (no package mirror)"
fi

# Without CAP_SYS_RESOURCE (this sandbox) a container's rlimits may not exceed ours, and podman
# asks for more by default; and crun refuses hybrid cgroup v1/v2 hosts, runc does not. Both
# settings live in a private containers.conf, so the machine's own configuration is untouched.
work=$(mktemp -d "${TMPDIR:-/tmp}/encore-container.XXXXXX")
cleanup() {
  podman rm -f -t 0 encore-check >/dev/null 2>&1 || true
  [ -f "$work/deployment.yaml" ] && podman kube down "$work/deployment.yaml" >/dev/null 2>&1 || true
  podman volume rm -f encore-model-check >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
nproc=$(ulimit -Hu)
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
write_conf() {
  cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "$1"
EOF
}
export CONTAINERS_CONF=$work/containers.conf

# The base image: the Dockerfile's debian:bookworm-slim when there is one, else the pristine
# minbase root fresh_machine_check.sh debootstraps (same release; the image is then bigger).
base=${CONTAINER_BASE:-}
write_conf runc
if [ -z "$base" ]; then
  if podman image exists docker.io/library/debian:bookworm-slim ||
    timeout 60 podman pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
    base=docker.io/library/debian:bookworm-slim
  else
    tarball=${XDG_CACHE_HOME:-$HOME/.cache}/encore/fresh-machine/bookworm-minbase-$(dpkg --print-architecture).tar.gz
    [ -s "$tarball" ] || skip "no debian:bookworm-slim (no registry) and no $tarball (run scripts/fresh_machine_check.sh first)"
    base=localhost/encore-base:bookworm-minbase
    podman image exists "$base" || podman import -q "$tarball" "$base" >/dev/null ||
      skip "could not import $tarball"
    echo "$name: base image: $base (debootstrap --variant=minbase bookworm; no registry reachable)"
  fi
fi

runtime=
for r in crun runc; do
  command -v "$r" >/dev/null || continue
  write_conf "$r"
  if podman run --rm --network none "$base" true >"$work/probe.log" 2>&1; then
    runtime=$r
    break
  fi
done
[ -n "$runtime" ] || skip "no container runtime starts a container here: $(tail -n 1 "$work/probe.log")"
echo "$name: podman $(podman version --format '{{.Client.Version}}'), runtime $runtime"

echo "$name: building the Dockerfile"
t=$SECONDS
podman build -q --network host --build-arg DEBIAN_IMAGE="$base" --build-arg JOBS="$(nproc)" \
  -t "$tag" "$project" >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  fail "podman build"
}
echo "$name: built $tag in $((SECONDS - t)) s, $(podman image inspect -f '{{.Size}}' "$tag") bytes"
[ "$(podman image inspect -f '{{.Config.User}}' "$tag")" = 10001:10001 ] || fail "image user is not 10001:10001"
[ "$(podman image inspect -f '{{json .Config.Entrypoint}}' "$tag")" = '["encore","serve"]' ] ||
  fail "entrypoint is not encore serve"
[ "$(podman run --rm --network none --entrypoint id "$tag" -u)" = 10001 ] || fail "the container does not run as uid 10001"

wait_health() { # url seconds
  local i code
  for ((i = 0; i < $2; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1/health" || true)
    [ "$code" = 200 ] && return 0
    sleep 1
  done
  return 1
}

texts='["what is my bank balance", "book a table for two at 7", "how do I say thank you in french"]'
check_predict() { # url
  curl -sf "$1/predict" -H 'Content-Type: application/json' -d "{\"inputs\": $texts}" >"$work/predict.json" ||
    fail "POST /predict"
  local cli=$project/build/apps/encore/encore
  if [ -x "$cli" ]; then
    python3 -c 'import json,sys; [print(t) for t in json.loads(sys.argv[1])]' "$texts" |
      while IFS= read -r line; do "$cli" classify --model "$model" --threads 2 "$line"; done >"$work/classify.jsonl" 2>/dev/null
    python3 - "$work/predict.json" "$work/classify.jsonl" <<'EOF' || fail "/predict differs from encore classify"
import json, sys
served = json.load(open(sys.argv[1]))
local = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(served) == len(local) == 3, (len(served), len(local))
for s, l in zip(served, local):
    top = max(s, key=lambda e: e["score"])
    assert top["label"] == l["label"], (top, l)
    assert abs(top["score"] - l["score"]) <= 1e-5, (top, l)
    print(f"container_check:   {l['label']:>24s} {top['score']:.7f} (classify {l['score']:.7f})")
EOF
  else
    echo "$name: (no $cli: /predict is checked for its shape only)"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==3 and all("label" in e[0] for e in d)' \
      "$work/predict.json" || fail "/predict reply"
  fi
}

echo "$name: podman run (default CMD, read-only root, no capabilities, 2 CPUs, 2 GiB)"
podman run -d --name encore-check -p "127.0.0.1:$port:8080" --cpus 2 --memory 2g --read-only \
  --cap-drop ALL --security-opt no-new-privileges --tmpfs /cache -e XDG_CACHE_HOME=/cache \
  -v "$model:/model:ro" "$tag" >/dev/null || fail "podman run"
wait_health "http://127.0.0.1:$port" 120 || {
  podman logs encore-check >&2 || true
  fail "/health never answered 200"
}
curl -sf "http://127.0.0.1:$port/info" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["model_id"]=="/model" and d["threads"]==2, d' ||
  fail "/info"
check_predict "http://127.0.0.1:$port"
podman stop -t 30 encore-check >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' encore-check)
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
podman logs encore-check >"$work/run.log" 2>&1
grep -q 'finishing in-flight requests' "$work/run.log" || fail "no drain message after SIGTERM"
podman rm encore-check >/dev/null
echo "$name: podman run: /health, /info, /predict ok; SIGTERM -> exit 0"

echo "$name: podman kube play deploy/deployment.yaml"
# One replica: podman publishes each containerPort on the host, so two pods would clash on 8080
# (in a cluster every pod has its own address).
sed -e "s#REGISTRY/encore:0.1.0#$tag#" -e 's/^  replicas: [0-9]*/  replicas: 1/' \
  -e 's/claimName: encore-model$/claimName: encore-model-check/' \
  "$project/deploy/deployment.yaml" >"$work/deployment.yaml"
grep -q "image: $tag" "$work/deployment.yaml" || fail "deployment.yaml: image line not found"
grep -q 'claimName: encore-model-check' "$work/deployment.yaml" || fail "deployment.yaml: claimName not found"
podman volume create encore-model-check >/dev/null
podman run --rm --network none --user 0 --entrypoint cp -v encore-model-check:/dst \
  -v "$model:/src:ro" "$tag" -r /src/. /dst/ || fail "filling the model volume"
podman kube play "$work/deployment.yaml" >"$work/play.log" 2>&1 || {
  cat "$work/play.log" >&2
  fail "podman kube play"
}
# kube play names the container <pod>-<container>: encore-pod-0-encore.
ctr=$(podman ps --format '{{.Names}}' | grep -- '-encore$' | head -n 1 || true)
[ -n "$ctr" ] || fail "no encore container after kube play"
wait_health "http://127.0.0.1:8080" 120 || {
  podman logs "$ctr" >&2 || true
  fail "the Deployment's pod never answered /health 200"
}
check_predict "http://127.0.0.1:8080"
got=$(podman inspect "$ctr" -f 'user={{.Config.User}} ro={{.HostConfig.ReadonlyRootfs}} caps={{len .EffectiveCaps}} cpu={{.HostConfig.CpuQuota}}/{{.HostConfig.CpuPeriod}} mem={{.HostConfig.Memory}}')
echo "$name:   $ctr: $got"
want='user=10001:10001 ro=true caps=0 cpu=200000/100000 mem=2147483648'
[ "$got" = "$want" ] || fail "pod settings: got '$got', want '$want'"
podman exec "$ctr" sh -c 'test "$ENCORE_ADAPTIVE_THREADS" = 0 && test "$XDG_CACHE_HOME" = /cache && test -s /cache/encore/kernels.json && ! touch /model/x 2>/dev/null' ||
  fail "pod env, cache emptyDir or read-only model volume"
pod=$(podman inspect "$ctr" -f '{{.Pod}}')
podman pod stop -t 30 "$pod" >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' "$ctr")
[ "$code" = 0 ] || fail "the pod's encore exited $code when stopped"
echo "$name: kube play: pod ready, /predict ok, settings as in the manifest; stop -> exit 0"
echo "$name: passed in $((SECONDS - start)) s"
