#!/usr/bin/env python3
"""Medians and ratios (peer time / encore time) from the JSON files bench_vs_peers.sh writes."""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

CLINC = "CLINC test, b=32"
# (encore precision, peer engine) pairs compared in the ratio table.
PAIRS = [("fp32", "ORT fp32"), ("bf16", "ORT fp32"), ("int8-dynamic", "ORT int8"),
         ("fp32", "PyTorch"), ("fp32", "ORT fp32 padded to 128")]


def main(out_dir: Path) -> None:
    times = defaultdict(lambda: defaultdict(list))  # (model, case) -> engine -> seconds
    for f in sorted(out_dir.glob("*.json")):
        model, kind, _rep, _ = f.name.split(".")
        data = json.loads(f.read_text())
        if kind == "encore":
            for r in data["results"]:
                case = r["name"] if r["seq"] else CLINC
                times[(model, case)]["encore " + r.get("precision", "fp32")].append(r["wall_s"])
            continue
        engine = {"ort": "ORT fp32", "ort8": "ORT int8", "torch": "PyTorch"}[kind.split("-")[0]]
        if kind.endswith("shapes"):
            for r in data["results"]:
                times[(model, f"{r['batch']}x{r['seq']}")][engine].append(r["median_ms"] / 1000)
        elif kind.endswith("longest"):
            times[(model, CLINC)][engine].append(data["result"]["wall_s"])
        else:  # padded to 128
            times[(model, CLINC)][engine + " padded to 128"].append(data["result"]["wall_s"])
    engines = sorted({e for by in times.values() for e in by}, key=lambda e: (not e.startswith("encore"), e))
    unit = lambda s: f"{s * 1000:.2f} ms" if s < 1 else f"{s:.2f} s"
    print("Median time per call (shapes) or per pass (CLINC), n = repetitions:\n")
    print("| model | workload | " + " | ".join(engines) + " |")
    print("|---|---|" + "---|" * len(engines))
    for (model, case), by in sorted(times.items()):
        cells = [f"{unit(statistics.median(by[e]))} (n={len(by[e])})" if e in by else "" for e in engines]
        print(f"| {model} | {case} | " + " | ".join(cells) + " |")
    print("\nRatios, peer time / encore time (above 1: encore is faster):\n")
    pairs = [p for p in PAIRS if any(("encore " + p[0]) in by and p[1] in by for by in times.values())]
    print("| model | workload | " + " | ".join(f"encore {a} vs {b}" for a, b in pairs) + " |")
    print("|---|---|" + "---|" * len(pairs))
    for (model, case), by in sorted(times.items()):
        cells = []
        for a, b in pairs:
            a = "encore " + a
            cells.append(f"{statistics.median(by[b]) / statistics.median(by[a]):.2f}x" if a in by and b in by else "")
        print(f"| {model} | {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
