#!/usr/bin/env python3
"""Medians and encore/ORT ratios from the JSON files bench_vs_peers.sh writes."""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def main(out_dir: Path) -> None:
    enc = defaultdict(list)   # (model, case) -> seconds
    ort = defaultdict(list)
    for f in sorted(out_dir.glob("*.json")):
        model, kind, _rep, _ = f.name.split(".")
        data = json.loads(f.read_text())
        if kind == "encore":
            for r in data["results"]:
                case = r["name"] if r["seq"] else "clinc-test b=32"
                enc[(model, case)].append(r["wall_s"])
        elif kind == "ort-shapes":
            for r in data["results"]:
                ort[(model, f"{r['batch']}x{r['seq']}")].append(r["median_ms"] / 1000)
        else:
            label = "clinc-test b=32" if kind == "ort-longest" else "clinc-test b=32 (ORT padded to 128)"
            ort[(model, label)].append(data["result"]["wall_s"])
    print("| model | workload | encore (median) | ONNX Runtime (median) | ORT time / encore time | reps |")
    print("|---|---|---|---|---|---|")
    for (model, case), times in sorted(ort.items()):
        e = enc.get((model, case.replace(" (ORT padded to 128)", "")))
        if not e:
            continue
        em, om = statistics.median(e), statistics.median(times)
        unit = (lambda s: f"{s * 1000:.2f} ms") if om < 1 else (lambda s: f"{s:.3f} s")
        print(f"| {model} | {case} | {unit(em)} | {unit(om)} | {om / em:.2f}x | {len(e)}/{len(times)} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
