#!/usr/bin/env bash
# Load test of a running `encore serve` with wrk and scripts/load_test.lua.
#
#   scripts/load_test.sh --url http://127.0.0.1:PORT [--route /predict|/embed]
#       [--duration 60s] [--connections 64] [--threads 2] [--timeout 30s]
#       [--texts FILE] [--min-batch 1] [--max-batch 32] [--requests N] [--seed N]
#       [--server-pid PID] [--out DIR]
#
# The caller starts the server. Each request is {"inputs": [...]} with min..max texts
# (default: the CLINC150 test queries, ../shared/data/clinc150/test.jsonl, one text per
# line into DIR/texts.txt). wrk runs for --duration (and stops early after --requests
# responses when given); the whole run is also capped by `timeout` at duration + 60 s.
# With --server-pid, the server's VmRSS is sampled every 5 s into DIR/rss.csv
# (seconds,rss_kb) and the first-minute vs last RSS is printed. At the end the server's
# /metrics batch-size lines are printed, with their means over this run.
#
# Written to DIR (default: a new /tmp/encore-load-test.XXXXXX): summary.json (from the Lua
# script; plus "config" and "rss" when python3 or jq is there), wrk.txt (wrk's output),
# rss.csv, metrics_before.txt, metrics_after.txt, texts.txt (when extracted).
# Exit status: 0 when every response was 2xx and there was no socket error, 1 otherwise,
# 2 for bad arguments or a missing tool or an unreachable server.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

url=""
route="/predict"
duration="60s"
connections=64
threads=2
timeout_arg="30s"
texts=""
min_batch=1
max_batch=32
requests=0
seed=12345
server_pid=""
out=""
clinc="${CLINC_TEST_JSONL:-$root/../shared/data/clinc150/test.jsonl}"

die() { echo "load_test.sh: $*" >&2; exit 2; }
usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url="${2:?--url needs a value}"; shift 2 ;;
    --route) route="${2:?--route needs a value}"; shift 2 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --connections) connections="${2:?--connections needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --timeout) timeout_arg="${2:?--timeout needs a value}"; shift 2 ;;
    --texts) texts="${2:?--texts needs a value}"; shift 2 ;;
    --min-batch) min_batch="${2:?--min-batch needs a value}"; shift 2 ;;
    --max-batch) max_batch="${2:?--max-batch needs a value}"; shift 2 ;;
    --requests) requests="${2:?--requests needs a value}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
    --server-pid) server_pid="${2:?--server-pid needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# ---- checks ---------------------------------------------------------------------------
command -v wrk >/dev/null 2>&1 ||
  die "wrk not found on PATH: install it (Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk)"
[[ -n "$url" ]] || { usage >&2; die "--url is required (e.g. --url http://127.0.0.1:8080)"; }
[[ "$url" =~ ^https?://[^/]+/?$ ]] || die "--url must be scheme://host:port without a path, got '$url'"
url="${url%/}"
[[ "$route" == /* ]] || route="/$route"
case "$route" in /predict|/embed) ;; *) echo "load_test.sh: note: route $route is not /predict or /embed" >&2 ;; esac
for v in connections threads min_batch max_batch requests seed; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--${v//_/-} must be a non-negative integer, got '${!v}'"
done
(( threads >= 1 )) || die "--threads must be at least 1"
(( connections >= threads )) || die "--connections ($connections) must be at least --threads ($threads)"
(( min_batch >= 1 && max_batch >= min_batch )) || die "need 1 <= --min-batch <= --max-batch"

# wrk's duration syntax: N, Ns, Nm, Nh
to_seconds() {
  local d="$1"
  [[ "$d" =~ ^([0-9]+)([smh]?)$ ]] || return 1
  local n="${BASH_REMATCH[1]}"
  case "${BASH_REMATCH[2]}" in
    m) echo $(( n * 60 )) ;;
    h) echo $(( n * 3600 )) ;;
    *) echo "$n" ;;
  esac
}
duration_s="$(to_seconds "$duration")" || die "--duration must look like 30, 30s, 5m or 1h, got '$duration'"
(( duration_s >= 1 )) || die "--duration must be at least 1s"
to_seconds "$timeout_arg" >/dev/null || die "--timeout must look like 30s, got '$timeout_arg'"

if [[ -n "$server_pid" ]]; then
  [[ "$server_pid" =~ ^[0-9]+$ ]] || die "--server-pid must be a process id, got '$server_pid'"
  [[ -r "/proc/$server_pid/status" ]] || die "no process $server_pid (or /proc/$server_pid/status unreadable)"
fi

pybin=""
for p in /usr/bin/python3 "$(command -v python3 2>/dev/null || true)"; do
  if [[ -n "$p" && -x "$p" ]] && "$p" -c 'import json, urllib.request' >/dev/null 2>&1; then pybin="$p"; break; fi
done
have_jq=0; command -v jq >/dev/null 2>&1 && have_jq=1
have_curl=0; command -v curl >/dev/null 2>&1 && have_curl=1

# GET a URL to stdout; status 1 when it cannot be fetched
http_get() {
  if (( have_curl )); then
    curl -fsS --max-time 10 "$1"
  elif [[ -n "$pybin" ]]; then
    "$pybin" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"
  else
    echo "load_test.sh: neither curl nor python3 to fetch $1" >&2
    return 1
  fi
}

if [[ -z "$out" ]]; then
  out="$(mktemp -d "${TMPDIR:-/tmp}/encore-load-test.XXXXXX")"
else
  mkdir -p "$out"
fi
out="$(cd "$out" && pwd)"

# ---- texts ----------------------------------------------------------------------------
if [[ -z "$texts" ]]; then
  [[ -r "$clinc" ]] || die "no --texts and the CLINC150 test split is not at $clinc (set CLINC_TEST_JSONL)"
  texts="$out/texts.txt"
  if [[ -n "$pybin" ]]; then
    "$pybin" - "$clinc" "$texts" <<'EOF'
import json, sys
n = 0
with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-8") as dst:
    for line in src:
        if not line.strip():
            continue
        text = " ".join(json.loads(line)["text"].splitlines()).strip()
        if text:
            dst.write(text + "\n")
            n += 1
if n == 0:
    sys.exit("load_test.sh: no texts in " + sys.argv[1])
EOF
  elif (( have_jq )); then
    jq -r '.text | gsub("[\r\n]+"; " ") | select(length > 0)' "$clinc" >"$texts"
  else
    die "need /usr/bin/python3 or jq to extract the CLINC150 texts (or pass --texts FILE)"
  fi
fi
[[ -r "$texts" ]] || die "cannot read --texts $texts"
n_texts="$(grep -c . "$texts" || true)"
(( n_texts > 0 )) || die "no texts in $texts"

# ---- server reachable? ----------------------------------------------------------------
http_get "$url/health" >/dev/null 2>&1 || die "server not reachable: GET $url/health failed (start encore serve first)"
http_get "$url/metrics" >"$out/metrics_before.txt" 2>/dev/null || : >"$out/metrics_before.txt"

# ---- RSS sampler ----------------------------------------------------------------------
now() { if [[ -n "${EPOCHREALTIME:-}" ]]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }
rss_kb() { awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) exit 1 }' "/proc/$1/status" 2>/dev/null; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

sampler_pid=""
t0="$(now)"
rss_csv="$out/rss.csv"
if [[ -n "$server_pid" ]]; then
  echo "seconds,rss_kb" >"$rss_csv"
  (
    nap=""
    trap '[[ -z "$nap" ]] || kill "$nap" 2>/dev/null; exit 0' TERM
    while kb="$(rss_kb "$server_pid")"; do
      echo "$(elapsed "$t0" "$(now)"),$kb" >>"$rss_csv"
      sleep 5 & nap=$!
      wait "$nap" || true
      nap=""
    done
  ) &
  sampler_pid=$!
fi
stop_sampler() {
  if [[ -n "$sampler_pid" ]]; then
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
  fi
}
trap stop_sampler EXIT

# ---- wrk ------------------------------------------------------------------------------
echo "load_test.sh: $url$route  duration=$duration connections=$connections threads=$threads" \
     "batch=$min_batch..$max_batch texts=$texts ($n_texts) out=$out" >&2
export LOAD_TEST_TEXTS="$texts" LOAD_TEST_MIN_BATCH="$min_batch" LOAD_TEST_MAX_BATCH="$max_batch" \
       LOAD_TEST_SEED="$seed" LOAD_TEST_MAX_REQUESTS="$requests" LOAD_TEST_THREADS="$threads" \
       LOAD_TEST_JSON="$out/summary.json"
rm -f "$out/summary.json"
wrk_rc=0
timeout --kill-after=10 "$(( duration_s + 60 ))" \
  wrk --threads "$threads" --connections "$connections" --duration "$duration" \
      --timeout "$timeout_arg" --script "$here/load_test.lua" "$url$route" \
  2>&1 | tee "$out/wrk.txt" || wrk_rc=$?

if [[ -n "$server_pid" ]] && kb="$(rss_kb "$server_pid")"; then
  stop_sampler
  echo "$(elapsed "$t0" "$(now)"),$kb" >>"$rss_csv"
fi
stop_sampler
(( wrk_rc == 0 )) || echo "load_test.sh: wrk exited with status $wrk_rc" >&2
[[ -s "$out/summary.json" ]] || { echo "load_test.sh: wrk wrote no summary ($out/summary.json)" >&2; exit 1; }

# ---- RSS report -----------------------------------------------------------------------
rss_json="null"
if [[ -n "$server_pid" ]]; then
  # first minute: the largest sample within 60 s of the start (the warmed-up size)
  read -r start_kb first_kb last_kb last_t samples < <(awk -F, '
    NR == 1 { next }
    { n++; if (n == 1) start = $2; if ($1 <= 60 && $2 > first) first = $2; last = $2; t = $1 }
    END { if (n == 0) print "0 0 0 0 0"; else print start, first, last, t, n }' "$rss_csv")
  if (( samples > 0 )); then
    growth="$(awk -v a="$first_kb" -v b="$last_kb" 'BEGIN { printf "%.2f", (a > 0 ? (b - a) * 100 / a : 0) }')"
    echo ""
    echo "---- server RSS (pid $server_pid, $samples samples, $rss_csv) ----"
    printf '%-32s %s\n' "rss.start_kb" "$start_kb" "rss.first_minute_max_kb" "$first_kb" \
           "rss.last_kb" "$last_kb" "rss.last_at_s" "$last_t" "rss.growth_pct" "$growth"
    (( duration_s > 60 )) || echo "(run of ${duration_s}s: no samples after the first minute, so growth compares the first minute's peak with its last sample)"
    rss_json="{\"start_kb\":$start_kb,\"first_minute_max_kb\":$first_kb,\"last_kb\":$last_kb,\"last_at_s\":$last_t,\"growth_pct\":$growth,\"samples\":$samples,\"csv\":\"rss.csv\"}"
  else
    echo "load_test.sh: no RSS samples (process $server_pid gone?)" >&2
  fi
fi

# ---- merge config and RSS into summary.json -------------------------------------------
config_json="$(printf '{"url":"%s","route":"%s","duration":"%s","connections":%d,"threads":%d,"timeout":"%s","texts":"%s","texts_count":%d,"min_batch":%d,"max_batch":%d,"requests_limit":%d,"seed":%d,"server_pid":%s}' \
  "$url" "$route" "$duration" "$connections" "$threads" "$timeout_arg" "${texts//\"/\\\"}" "$n_texts" \
  "$min_batch" "$max_batch" "$requests" "$seed" "${server_pid:-null}")"
if [[ -n "$pybin" ]]; then
  "$pybin" - "$out/summary.json" "$config_json" "$rss_json" <<'EOF' || echo "load_test.sh: could not merge config into summary.json" >&2
import json, sys
path = sys.argv[1]
with open(path) as f:
    summary = json.load(f)
summary["config"] = json.loads(sys.argv[2])
summary["rss"] = json.loads(sys.argv[3])
with open(path, "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")
EOF
elif (( have_jq )); then
  jq --argjson c "$config_json" --argjson r "$rss_json" '. + {config: $c, rss: $r}' \
    "$out/summary.json" >"$out/summary.json.tmp" && mv "$out/summary.json.tmp" "$out/summary.json"
fi

# ---- server batching (/metrics) -------------------------------------------------------
if http_get "$url/metrics" >"$out/metrics_after.txt" 2>/dev/null; then
  echo ""
  echo "---- server batches (/metrics: cumulative since start; mean over this run) ----"
  grep -E '^encore_batch_(requests|rows|tokens)_(sum|count) ' "$out/metrics_after.txt" || echo "(no encore_batch_* lines)"
  awk '
    /^encore_batch_(requests|rows|tokens)_(sum|count) / { v[FILENAME == ARGV[1] ? 1 : 2, $1] = $2 }
    END {
      split("requests rows tokens", kinds, " ")
      for (i = 1; i <= 3; i++) {
        k = "encore_batch_" kinds[i]
        ds = v[2, k "_sum"] - v[1, k "_sum"]; dc = v[2, k "_count"] - v[1, k "_count"]
        if (dc > 0) printf "%-32s %.2f  (%d batches this run)\n", "mean " kinds[i] " per batch", ds / dc, dc
      }
    }' "$out/metrics_before.txt" "$out/metrics_after.txt"
else
  echo "load_test.sh: could not read $url/metrics" >&2
fi

echo ""
echo "summary: $out/summary.json"

# ---- exit status ----------------------------------------------------------------------
errors_total=""
if [[ -n "$pybin" ]]; then
  errors_total="$("$pybin" -c 'import json, sys; print(json.load(open(sys.argv[1]))["errors"]["total"])' "$out/summary.json" 2>/dev/null || true)"
elif (( have_jq )); then
  errors_total="$(jq -r '.errors.total' "$out/summary.json" 2>/dev/null || true)"
fi
if [[ "$errors_total" =~ ^[0-9]+$ ]] && (( errors_total > 0 )); then
  echo "load_test.sh: $errors_total errors (non-2xx responses or socket errors)" >&2
  exit 1
fi
(( wrk_rc == 0 )) || exit 1
exit 0
