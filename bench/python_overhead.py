#!/usr/bin/env python3
"""What the Python module adds over the C++ engine, measured on this machine.

1. classify of one short query: the Python call (encore.Model.classify) against the same
   Model::classify timed in a C++ loop (Model._time_classify), alternating, several rounds.
2. Model.embed over the CLINC test texts (batch 32) against `encore bench --input` on the
   same texts and batch size (which tokenizes beforehand, outside its timing).

    PYTHONPATH=build/python python3 bench/python_overhead.py [--model DIR] [--rounds 5]
"""

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import encore

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(SHARED / "models/clinc-bert-small"))
    ap.add_argument("--test", default=str(SHARED / "data/clinc150/test.jsonl"))
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--cli", default=str(ROOT / "build/apps/encore/encore"))
    args = ap.parse_args()
    print(f"CPU: {cpu_name()}; {args.model} {args.precision}, {args.threads} threads")

    # classify overhead on the small demo model (its ~0.2 ms calls keep the noise small),
    # one thread, alternating blocks of calls; the median of the paired differences.
    demo = encore.Model(ROOT / "models/demo", threads=1)
    query = "what is the pin number for my account"
    py_us, cpp_us = [], []
    for _ in range(args.rounds * 4):
        cpp_us.append(demo._time_classify(query, args.reps) * 1e6)
        t0 = time.perf_counter()
        for _ in range(args.reps):
            demo.classify(query)
        py_us.append((time.perf_counter() - t0) / args.reps * 1e6)
    diffs = [p - c for p, c in zip(py_us, cpp_us)]
    print(f"classify(1 query, demo model, 1 thread): Python {statistics.median(py_us):.1f} us, "
          f"C++ {statistics.median(cpp_us):.1f} us per call; Python adds {statistics.median(diffs):.1f} us "
          f"(median of {len(diffs)} paired blocks of {args.reps} calls; range {min(diffs):.1f} to {max(diffs):.1f})")

    model = encore.Model(args.model, precision=args.precision, threads=args.threads)
    texts = [json.loads(line)["text"] for line in open(args.test, encoding="utf-8") if line.strip()]
    py_s, cli_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        for _ in range(args.rounds):
            subprocess.run([args.cli, "bench", "--model", args.model, "--precision", args.precision, "--threads",
                            str(args.threads), "--input", args.test, "--batch-size", "32", "--passes", "1",
                            "--shapes", "", "--json", str(out)], check=True, capture_output=True)
            cli_s.append(json.loads(out.read_text())["results"][-1]["wall_s"])
            t0 = time.perf_counter()
            model.embed(texts, batch_size=32)
            py_s.append(time.perf_counter() - t0)
    print(f"embed({len(texts)} texts): Python {statistics.median(py_s):.3f} s, encore bench {statistics.median(cli_s):.3f} s, "
          f"ratio {statistics.median(py_s) / statistics.median(cli_s):.3f} "
          f"(rounds: py {[round(x, 3) for x in py_s]}, bench {[round(x, 3) for x in cli_s]})")


if __name__ == "__main__":
    main()
