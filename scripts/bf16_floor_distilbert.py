#!/usr/bin/env python3
"""What BF16 GEMMs can reach on a DistilBERT folder, independent of encore's kernels.

Runs the DistilBERT encoder in float64 with numpy on the reference inputs and rounds, per GEMM
slot, the weights and/or the GEMM inputs to BF16 (round to nearest even), as encore's BF16
linears do (they accumulate in FP32; here in FP64). Prints the minimum token cosine of
last_hidden_state against the reference for each rounding choice. When "weights+inputs, all"
equals encore's BF16 figure, the gap to a target is the format's, not a kernel's.

    /usr/bin/python3 scripts/bf16_floor_distilbert.py \
        ../shared/models/arch/distilbert-cls ../shared/reference/arch/distilbert-cls.safetensors
"""
import json
import math
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def load_safetensors(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        raw = blob[8 + n + start : 8 + n + end]
        out[name] = np.frombuffer(raw, dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def to_bf16(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16  # round to nearest even
    return u.astype(np.uint32).view(np.float32).astype(np.float64)


def layer_norm(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


ERF = np.vectorize(math.erf)


def forward(W, cfg, ids, round_weights, round_inputs):
    p = "distilbert."
    eps = 1e-12
    x = W[p + "embeddings.word_embeddings.weight"][ids]
    x = x + W[p + "embeddings.position_embeddings.weight"][: len(ids)]
    x = layer_norm(x, W[p + "embeddings.LayerNorm.weight"], W[p + "embeddings.LayerNorm.bias"], eps)

    def linear(name, h, slot):
        w = W[name + ".weight"]
        if slot in round_weights:
            w = to_bf16(w)
        if slot in round_inputs:
            h = to_bf16(h)
        return h @ w.T + W[name + ".bias"]

    heads = cfg["n_heads"]
    for layer in range(cfg["n_layers"]):
        q = f"{p}transformer.layer.{layer}."
        Q = linear(q + "attention.q_lin", x, "qkv")
        K = linear(q + "attention.k_lin", x, "qkv")
        V = linear(q + "attention.v_lin", x, "qkv")
        d = x.shape[1] // heads
        ctx = np.zeros_like(x)
        for h in range(heads):
            s = slice(h * d, (h + 1) * d)
            scores = (Q[:, s] / math.sqrt(d)) @ K[:, s].T
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            ctx[:, s] = (scores / scores.sum(-1, keepdims=True)) @ V[:, s]
        a = linear(q + "attention.out_lin", ctx, "wo")
        x = layer_norm(a + x, W[q + "sa_layer_norm.weight"], W[q + "sa_layer_norm.bias"], eps)
        f = linear(q + "ffn.lin1", x, "up")
        f = 0.5 * f * (1 + ERF(f / math.sqrt(2)))
        f = linear(q + "ffn.lin2", f, "down")
        x = layer_norm(f + x, W[q + "output_layer_norm.weight"], W[q + "output_layer_norm.bias"], eps)
    return x


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    folder, reference = sys.argv[1], sys.argv[2]
    cfg = json.load(open(folder + "/config.json"))
    if cfg.get("model_type") != "distilbert" or cfg.get("sinusoidal_pos_embds"):
        sys.exit("this script runs DistilBERT folders with learned position embeddings only")
    W = {k: v.astype(np.float64) for k, v in load_safetensors(folder + "/model.safetensors").items()}
    ref = load_safetensors(reference)
    rows = sorted((k.split(".")[1] for k in ref if k.startswith("input_ids.")), key=int)
    slots = ["qkv", "wo", "up", "down"]
    choices = [("none (float64)", set(), set()), ("weights, all", set(slots), set()),
               ("inputs, all", set(), set(slots)), ("weights+inputs, all", set(slots), set(slots))]
    choices += [(f"weights+inputs, {s} only", {s}, {s}) for s in slots]
    choices += [(f"weights+inputs, all but {s}", set(slots) - {s}, set(slots) - {s}) for s in slots]
    for label, rw, ri in choices:
        worst, where = 1.0, None
        for i in rows:
            ids = ref["input_ids." + i].astype(np.int64).reshape(-1)
            out = forward(W, cfg, ids, rw, ri)
            exp = ref["last_hidden_state." + i].astype(np.float64).reshape(out.shape)
            cos = (out * exp).sum(-1) / np.linalg.norm(out, axis=-1) / np.linalg.norm(exp, axis=-1)
            t = int(np.argmin(cos))
            if cos[t] < worst:
                worst, where = float(cos[t]), (int(i), t)
        print(f"BF16 rounding of {label:32s} min token cosine {worst:.6f} (row {where[0]}, token {where[1]})")


if __name__ == "__main__":
    main()
