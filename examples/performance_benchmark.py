#!/usr/bin/env python3
"""Seed 001's PerformanceBenchmark, done with encore.

For each precision of a CLINC intent classifier: its size on disk (the model folder's weights
for FP32, an `encore build` plan's for BF16/INT8), its latency one query at a time over the
CLINC test queries (mean ± std), and its accuracy on the CLINC test set; then the seed's table
and its accuracy-vs-latency scatter plot (bubble area ~ size) as a PNG.

    PYTHONPATH=build/python python3 examples/performance_benchmark.py \
        [--model ../shared/models/clinc-bert-small] [--queries 500] [--out performance.png]
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import encore

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


class PerformanceBenchmark:
    def __init__(self, model_dir, test_set, precision, optim_type, queries, threads, work_dir):
        self.model_dir = Path(model_dir)
        self.test_set = test_set
        self.precision = precision
        self.optim_type = optim_type
        self.queries = queries
        self.threads = threads
        self.work_dir = Path(work_dir)
        self.pipe = encore.pipeline("text-classification", model=model_dir, precision=precision, threads=threads)

    def compute_size(self):
        if self.precision == "fp32":
            files = list(self.model_dir.glob("*.safetensors")) or list(self.model_dir.glob("pytorch_model*.bin"))
            size_mb = sum(f.stat().st_size for f in files) / 2**20
        else:
            size_mb = self.pipe.model.save(self.work_dir / self.precision) / 2**20
        print(f"Model size (MB) - {size_mb:.2f}")
        return {"size_mb": size_mb}

    def time_pipeline(self):
        texts = [row["text"] for row in self.test_set[: self.queries]]
        for text in texts[:10]:  # warm-up
            self.pipe(text)
        latencies = []
        for text in texts:
            start = time.perf_counter()
            self.pipe(text)
            latencies.append(time.perf_counter() - start)
        time_avg_ms, time_std_ms = 1000 * np.mean(latencies), 1000 * np.std(latencies)
        print(f"Average latency (ms) - {time_avg_ms:.2f} +\\- {time_std_ms:.2f}")
        return {"time_avg_ms": time_avg_ms, "time_std_ms": time_std_ms}

    def compute_accuracy(self):
        preds = self.pipe([row["text"] for row in self.test_set], batch_size=32)
        accuracy = float(np.mean([p["label"] == row["intent"] for p, row in zip(preds, self.test_set)]))
        print(f"Accuracy on test set - {accuracy:.3f}")
        return {"accuracy": accuracy}

    def run_benchmark(self):
        metrics = {self.optim_type: self.compute_size()}
        metrics[self.optim_type].update(self.time_pipeline())
        metrics[self.optim_type].update(self.compute_accuracy())
        return metrics


def plot_metrics(perf_metrics, current_optim_type, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = perf_metrics
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for idx, (name, m) in enumerate(df.items()):
        alpha = 0.5 if name == current_optim_type else 0.35
        ax.scatter(m["time_avg_ms"], m["accuracy"] * 100, s=m["size_mb"] * 20, alpha=alpha, label=name,
                   color=f"C{idx}", edgecolors="k")
        ax.errorbar(m["time_avg_ms"], m["accuracy"] * 100, xerr=m["time_std_ms"], fmt="none", ecolor=f"C{idx}")
    legend = ax.legend(bbox_to_anchor=(1, 1), loc="upper left", markerscale=0.3)
    for handle in legend.legend_handles if hasattr(legend, "legend_handles") else legend.legendHandles:
        handle.set_sizes([40])
    accs = [m["accuracy"] * 100 for m in df.values()]
    lats = [m["time_avg_ms"] for m in df.values()]
    ax.set_ylim(min(accs) - 3, max(accs) + 2)
    ax.set_xlim(0, max(lats) * 1.3)
    ax.set_xlabel("Average latency (ms), one query at a time")
    ax.set_ylabel("Accuracy (%)")
    ax.set_title("encore on CLINC150: accuracy vs latency (bubble area ~ size on disk)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(SHARED / "models/clinc-bert-small"))
    ap.add_argument("--test", default=str(SHARED / "data/clinc150/test.jsonl"))
    ap.add_argument("--precisions", default="fp32,bf16,int8")
    ap.add_argument("--queries", type=int, default=1000, help="test queries timed one at a time (0: all)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="performance_benchmark.png")
    ap.add_argument("--json", default=None, help="also write the metrics here")
    args = ap.parse_args()

    with open(args.test, encoding="utf-8") as f:
        test_set = [json.loads(line) for line in f if line.strip()]
    queries = args.queries or len(test_set)
    print(f"CPU: {cpu_name()}; model {args.model}; {len(test_set)} test rows, {queries} timed queries")
    names = {"fp32": "encore FP32", "bf16": "encore BF16", "int8": "encore INT8", "int8-static": "encore INT8 static"}
    perf_metrics = {}
    with tempfile.TemporaryDirectory() as work:
        for precision in args.precisions.split(","):
            name = names.get(precision, precision)
            print(f"--- {name}")
            bench = PerformanceBenchmark(args.model, test_set, precision, name, queries, args.threads, work)
            if bench.pipe.model.notices:
                print("note: " + " ".join(bench.pipe.model.notices))
            ran = sorted(set(bench.pipe.model.layer_precisions))
            if precision.split("-")[0] not in ran:  # e.g. BF16 on a CPU without BF16 instructions
                name = bench.optim_type = f"{name} (ran {'/'.join(ran).upper()})"
            perf_metrics.update(bench.run_benchmark())
    print()
    print(f"{'':20} {'size (MB)':>10} {'latency (ms)':>16} {'accuracy':>9}")
    for name, m in perf_metrics.items():
        lat = f"{m['time_avg_ms']:.2f} ± {m['time_std_ms']:.2f}"
        print(f"{name:20} {m['size_mb']:10.2f} {lat:>16} {m['accuracy']:9.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(perf_metrics, indent=2))
    plot_metrics(perf_metrics, list(perf_metrics)[-1], args.out)


if __name__ == "__main__":
    main()
