"""Shared paths and helpers for encore's Python tests (run by ctest: `python.pytest`)."""

import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import encore

ROOT = Path(os.environ.get("ENCORE_ROOT", Path(__file__).resolve().parents[2]))
SHARED = Path(os.environ.get("ENCORE_SHARED", ROOT.parent / "shared")).resolve()
CLI = os.environ.get("ENCORE_CLI", str(ROOT / "build/apps/encore/encore"))
MODELS = SHARED / "models"
DEMO = ROOT / "models/demo"


def read_safetensors(path):
    """{name: ndarray} of a safetensors file (the format is an 8-byte header size, a JSON
    header, then raw little-endian data)."""
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16}
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + begin : 8 + n + end], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def as_input(row):
    return (row["text"], row["text_pair"]) if row.get("text_pair") is not None else row["text"]


def cli(*args):
    """Runs the encore CLI; returns its stdout lines parsed as JSON."""
    r = subprocess.run([CLI, *args], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def demo():
    return encore.Model(DEMO, threads=2)


@pytest.fixture(scope="session")
def small():
    return encore.Model(MODELS / "clinc-bert-small", threads=2)


@pytest.fixture(scope="session")
def clinc_test():
    return read_jsonl(SHARED / "data/clinc150/test.jsonl")
