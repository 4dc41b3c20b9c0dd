#!/usr/bin/env bash
# encore vs ONNX Runtime on the same model folders, run alternately in one session, 2 threads
# each, several repetitions; writes the raw JSON and a markdown table of medians. encore runs
# every precision in --precisions; ORT runs its FP32 graph and (with int8 among them) its
# dynamic-quantized INT8 graph (export_onnx.py --int8: MatMulInteger, ORT's quantize_dynamic).
#
#   scripts/bench_vs_peers.sh [--reps 3] [--models "bert-base minilm-l6"] [--work DIR] [--min-time S]
#                             [--pad128-models "minilm-l6"] [--no-torch] [--precisions "fp32 bf16 int8"]
#                             [--contend N] [--no-workload]
# --contend N: N busy-looping processes run beside every engine's timing (a shared CPU); the
# same spinners for encore, ORT and PyTorch. --no-workload: fixed shapes only.
# ORT padded to 128 is slow (11.7 tokens computed per real token): by default it runs for the
# models in --pad128-models only, once.
#
# Needs ../shared/peers (ONNX Runtime via onnxruntime-node, HF tokenizers via Node) and a
# release build in build/. Models are generated with random weights
# (../shared/tools/make_random_bert.py); speed does not depend on the weights' values.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=3
MODELS="bert-base minilm-l6"
WORK=${PEERS_WORK:-/tmp/encore-peers}
MIN_TIME=5
THREADS=2
PAD128="minilm-l6"
TORCH=1
PRECISIONS="fp32"
CONTEND=0
WORKLOAD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --models) MODELS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --min-time) MIN_TIME=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --pad128-models) PAD128=$2; shift 2 ;;
    --no-torch) TORCH=0; shift ;;
    --precisions) PRECISIONS=$2; shift 2 ;;
    --contend) CONTEND=$2; shift 2 ;;
    --no-workload) WORKLOAD=0; shift ;;
    *) echo "bench_vs_peers.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
SHARED=$(realpath ../shared)
ENCORE=build/apps/encore/encore
OUT=$WORK/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
[ -x "$ENCORE" ] || { echo "build encore first (cmake --build build)" >&2; exit 1; }
"$SHARED/peers/setup.sh" "$WORK" > "$OUT/setup.log"
export PEERS_WORK=$WORK

IDS=$WORK/clinc_test.ids.jsonl
[ -s "$IDS" ] || node "$SHARED/peers/tokenize.mjs" --work "$WORK" "$SHARED/vocab/bert-base-uncased/tokenizer.json" \
  < "$SHARED/data/clinc150/test.jsonl" > "$IDS"

spinners=()
stop_spinners() {
  [ ${#spinners[@]} -eq 0 ] || kill "${spinners[@]}" 2>/dev/null || true
  spinners=()
}
trap stop_spinners EXIT
start_spinners() {
  stop_spinners
  for _ in $(seq 1 "$CONTEND"); do
    bash -c 'while :; do :; done' &
    spinners+=($!)
  done
}
[ "$CONTEND" -gt 0 ] && start_spinners

for m in $MODELS; do
  dir=$WORK/models/$m
  [ -f "$dir/model.safetensors" ] || /usr/bin/python3 "$SHARED/tools/make_random_bert.py" --preset "$m" --out "$dir"
  INT8=0
  [[ " $PRECISIONS " == *" int8"* ]] && INT8=1
  /usr/bin/python3 "$SHARED/peers/export_onnx.py" "$dir" --work "$WORK" $([ $INT8 = 1 ] && echo --int8) > "$OUT/export-$m.log"
  onnx=$WORK/$m/model.onnx
  for r in $(seq 1 "$REPS"); do
    echo "== $m rep $r: encore" >&2
    "$ENCORE" bench --model "$dir" --threads "$THREADS" --shapes 1x16,8x128 --min-time "$MIN_TIME" \
      --precision "$(echo $PRECISIONS | tr ' ' ',')" \
      $([ $WORKLOAD = 1 ] && echo --ids "$IDS" --batch-size 32 --passes 1) --json "$OUT/$m.encore.$r.json" > /dev/null
    echo "== $m rep $r: onnxruntime" >&2
    node "$SHARED/peers/bench_ort.mjs" --model "$onnx" --threads "$THREADS" --shapes 1x16,8x128 \
      --min-time "$MIN_TIME" --json "$OUT/$m.ort-shapes.$r.json" --quiet > /dev/null
    [ $WORKLOAD = 0 ] || node "$SHARED/peers/bench_ort.mjs" --model "$onnx" --threads "$THREADS" --ids "$IDS" \
      --batch-size 32 --padding longest --passes 1 --json "$OUT/$m.ort-longest.$r.json" --quiet > /dev/null
    if [ $INT8 = 1 ]; then
      echo "== $m rep $r: onnxruntime int8" >&2
      node "$SHARED/peers/bench_ort.mjs" --model "$WORK/$m/model.int8.onnx" --threads "$THREADS" --shapes 1x16,8x128 \
        --min-time "$MIN_TIME" --json "$OUT/$m.ort8-shapes.$r.json" --quiet > /dev/null
      [ $WORKLOAD = 0 ] || node "$SHARED/peers/bench_ort.mjs" --model "$WORK/$m/model.int8.onnx" --threads "$THREADS" --ids "$IDS" \
        --batch-size 32 --padding longest --passes 1 --json "$OUT/$m.ort8-longest.$r.json" --quiet > /dev/null
    fi
    if [ "$TORCH" = 1 ]; then
      echo "== $m rep $r: pytorch" >&2
      /usr/bin/python3 "$SHARED/peers/bench_torch.py" --model "$dir" --threads "$THREADS" --shapes 1x16,8x128 \
        --min-time "$MIN_TIME" --json "$OUT/$m.torch-shapes.$r.json" > /dev/null
      [ $WORKLOAD = 0 ] || /usr/bin/python3 "$SHARED/peers/bench_torch.py" --model "$dir" --threads "$THREADS" --ids "$IDS" \
        --batch-size 32 --padding longest --passes 1 --json "$OUT/$m.torch-longest.$r.json" > /dev/null
    fi
    if [ "$r" = 1 ] && [ $WORKLOAD = 1 ] && [[ " $PAD128 " == *" $m "* ]]; then
      node "$SHARED/peers/bench_ort.mjs" --model "$onnx" --threads "$THREADS" --ids "$IDS" \
        --batch-size 32 --padding max_length:128 --passes 1 --json "$OUT/$m.ort-max128.$r.json" --quiet > /dev/null
    fi
  done
done
/usr/bin/python3 scripts/summarize_bench.py "$OUT" | tee "$OUT/summary.md"
echo "raw results: $OUT" >&2
