"""examples/performance_benchmark.py runs end to end (few timed queries) and writes its plot."""

import json
import os
import subprocess
import sys

from conftest import ROOT


def test_performance_benchmark_example(tmp_path):
    png, metrics = tmp_path / "perf.png", tmp_path / "perf.json"
    r = subprocess.run([sys.executable, str(ROOT / "examples/performance_benchmark.py"), "--queries", "20",
                        "--precisions", "fp32,int8", "--threads", "2", "--out", str(png), "--json", str(metrics)],
                       capture_output=True, text=True, env=os.environ, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000
    m = json.loads(metrics.read_text())
    assert set(m) == {"encore FP32", "encore INT8"}
    for row in m.values():
        assert 0.5 < row["accuracy"] <= 1 and row["time_avg_ms"] > 0 and row["size_mb"] > 1
    assert m["encore INT8"]["size_mb"] < m["encore FP32"]["size_mb"]
    assert "Average latency (ms)" in r.stdout and "accuracy" in r.stdout
