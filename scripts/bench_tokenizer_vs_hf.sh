#!/usr/bin/env bash
# encore's tokenizer vs Hugging Face tokenizers (Node binding), single-threaded, alternately,
# several repetitions, on the CLINC test texts and on long documents built from them.
#
#   scripts/bench_tokenizer_vs_hf.sh [--reps 3] [--work DIR] [--tokenizer tokenizer.json]
#
# The tokenizer defaults to bert-base-uncased's (WordPiece); any tokenizer.json works, e.g.
# ../shared/tokenizers/roberta-bpe/tokenizer.json (byte-level BPE) or xlmr-unigram's.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=3
WORK=${PEERS_WORK:-/tmp/encore-peers}
TOKENIZER=../shared/vocab/bert-base-uncased/tokenizer.json
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --tokenizer) TOKENIZER=$2; shift 2 ;;
    *) echo "bench_tokenizer_vs_hf.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x build/bench/bench_tokenizer ] || { echo "build first (cmake --build build)" >&2; exit 1; }
../shared/peers/setup.sh "$WORK" > /dev/null
OUT=$(mktemp -d)
for r in $(seq 1 "$REPS"); do
  taskset -c 0 build/bench/bench_tokenizer --tokenizer "$TOKENIZER" --benchmark_filter=Encode --benchmark_format=json \
    --benchmark_out="$OUT/encore.$r.json" > /dev/null
  RAYON_NUM_THREADS=1 taskset -c 0 node scripts/hf_reference/bench_hf.mjs --work "$WORK" --reps 5 \
    --tokenizer "$TOKENIZER" \
    --json "$OUT/hf.$r.json" > /dev/null
done
/usr/bin/python3 - "$OUT" "$REPS" "$TOKENIZER" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
enc = {"clinc": [], "docs": []}
hf = {"clinc": [], "docs": []}
for r in range(1, reps + 1):
    for b in json.load(open(f"{out}/encore.{r}.json"))["benchmarks"]:
        key = "clinc" if "Clinc" in b["name"] else "docs"
        enc[key].append(b["tokens/s"])
    best = {}
    for w in json.load(open(f"{out}/hf.{r}.json"))["results"]:
        key = "clinc" if w["workload"].startswith("clinc") else "docs"
        best[key] = max(best.get(key, 0), w["tokens_per_s"])
    for key, v in best.items():
        hf[key].append(v)
print(f"tokenizer: {sys.argv[3]}")
print("| workload | encore tokens/s (median) | HF tokenizers tokens/s (median, best mode) | ratio |")
print("|---|---|---|---|")
for key, label in (("clinc", "CLINC test, 5,500 texts"), ("docs", "long documents (>= 50 KB each)")):
    e, h = statistics.median(enc[key]), statistics.median(hf[key])
    print(f"| {label} | {e / 1e6:.2f} M | {h / 1e6:.2f} M | {e / h:.1f}x |")
PY
