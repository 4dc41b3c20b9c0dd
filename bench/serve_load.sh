#!/usr/bin/env bash
# The issue-15 load measurement, in one command: encore serve under wrk (scripts/load_test.sh)
# against `encore bench` on the same CLINC150 test texts offline, and dynamic batching against
# --max-batch-requests 1 at the same concurrency with one-text requests.
#
#   bench/serve_load.sh MODEL PRECISION OUT [DURATION=600s] [COMPARE_DURATION=120s]
#
# Writes OUT/offline.json (encore bench), OUT/load (mixed 1-32 text requests for DURATION),
# OUT/single-dynamic and OUT/single-batch1 (one-text requests, COMPARE_DURATION each), and
# prints one summary line per run (COMPARE_DURATION 0 skips the one-text runs). 64 connections, --threads 2 for the server, 1 wrk thread.
set -euo pipefail
model=${1:?model folder}
precision=${2:?fp32|bf16|int8|int8-static}
out=${3:?output folder}
duration=${4:-600s}
compare=${5:-120s}
here=$(cd "$(dirname "$0")/.." && pwd)
cli=${ENCORE_CLI:-$here/build/apps/encore/encore}
texts=$here/../shared/data/clinc150/test.jsonl
mkdir -p "$out"

"$cli" bench --model "$model" --precision "$precision" --threads 2 --input "$texts" --passes 1 \
  --json "$out/offline.json" >"$out/offline.txt"
offline=$(/usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print(r['seq_per_s'])" "$out/offline.json")
echo "offline encore bench: $offline texts/s"

run() {  # name, load_test args..., -- server args...
  local name=$1; shift
  local load=() srv=()
  while [ "$1" != "--" ]; do load+=("$1"); shift; done
  shift
  srv=("$@")
  "$cli" serve --model "$model" --precision "$precision" --threads 2 --port 0 "${srv[@]}" 2>"$out/$name.server.log" &
  local pid=$! port=""
  for _ in $(seq 1 600); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/$name.server.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "server did not start" >&2; kill "$pid"; exit 1; }
  local rc=0
  "$here/scripts/load_test.sh" --url "http://127.0.0.1:$port" --route /predict --connections 64 --threads 1 \
    --timeout 300s --server-pid "$pid" --out "$out/$name" "${load[@]}" >"$out/$name.txt" 2>&1 || rc=$?
  kill -TERM "$pid"
  local src=0
  wait "$pid" || src=$?
  /usr/bin/python3 - "$out/$name/summary.json" "$name" "$rc" "$src" "$offline" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
name, rc, src, offline = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
l, tps = s["latency_ms"], s["texts_per_s"]
print(f"{name}: {s['requests_per_s']:.2f} req/s, {tps:.2f} texts/s ({tps / offline:.3f} of offline), "
      f"{s['tokens_per_s']:.0f} tokens/s, latency p50 {l['p50']} p95 {l['p95']} p99 {l['p99']} ms, "
      f"status {s['status']}, errors {s['errors']['total']}, rss {s.get('rss')}, load_test rc {rc}, server exit {src}")
PY
}

run load --duration "$duration" --min-batch 1 --max-batch 32 --
[ "$compare" = 0 ] && exit 0  # COMPARE_DURATION 0: the load run only
run single-dynamic --duration "$compare" --min-batch 1 --max-batch 1 --
run single-batch1 --duration "$compare" --min-batch 1 --max-batch 1 -- --max-batch-requests 1
