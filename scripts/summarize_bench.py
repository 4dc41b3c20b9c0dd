#!/usr/bin/env python3
"""Medians and ratios (peer time / encore time) from the JSON files bench_vs_peers.sh writes."""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

CLINC = "CLINC test, b=32"


def main(out_dir: Path) -> None:
    times = defaultdict(lambda: defaultdict(list))  # (model, case) -> engine -> seconds
    for f in sorted(out_dir.glob("*.json")):
        model, kind, _rep, _ = f.name.split(".")
        data = json.loads(f.read_text())
        if kind == "encore":
            for r in data["results"]:
                case = r["name"] if r["seq"] else CLINC
                times[(model, case)]["encore"].append(r["wall_s"])
            continue
        engine = "ORT" if kind.startswith("ort") else "PyTorch"
        if kind.endswith("shapes"):
            for r in data["results"]:
                times[(model, f"{r['batch']}x{r['seq']}")][engine].append(r["median_ms"] / 1000)
        elif kind.endswith("longest"):
            times[(model, CLINC)][engine].append(data["result"]["wall_s"])
        else:  # padded to 128
            times[(model, CLINC)][engine + " padded to 128"].append(data["result"]["wall_s"])
    engines = ["ORT", "PyTorch", "ORT padded to 128"]
    print("| model | workload | encore | " + " | ".join(engines) + " |")
    print("|---|---|---|" + "---|" * len(engines))
    for (model, case), by in sorted(times.items()):
        if "encore" not in by:
            continue
        e = statistics.median(by["encore"])
        unit = (lambda s: f"{s * 1000:.2f} ms") if e < 1 else (lambda s: f"{s:.2f} s")
        cells = []
        for eng in engines:
            if eng in by:
                p = statistics.median(by[eng])
                cells.append(f"{unit(p)} ({p / e:.2f}x, n={len(by[eng])})")
            else:
                cells.append("")
        print(f"| {model} | {case} | {unit(e)} (n={len(by['encore'])}) | " + " | ".join(cells) + " |")
    print("\nRatios are peer time / encore time: above 1 means encore is faster.")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
