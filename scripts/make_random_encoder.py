#!/usr/bin/env python3
"""Write a base-sized random-weight encoder folder of any architecture (standard library only).

usage: make_random_encoder.py --arch NAME --out DIR [--seed S] [--std 0.02]

NAME is a folder of ../shared/models/arch (distilbert-cls, roberta-cls-f16, xlmr-cls,
electra-cls, mpnet-cls, albert-cls, modernbert-cls, deberta-v3-cls, ...) or tiny-random-bert.
The tiny folder gives the tensor names, the tokenizer files and the config layout; the
hyper-parameters become the architecture's released base size (BERT-base shape unless the
architecture's base differs: DistilBERT 6 layers, ALBERT embedding 128, ModernBERT 22 layers
with GeGLU width 1152, DeBERTa-v3 256 position buckets). Layer-0 tensors are replicated to
every layer. Weights are for speed measurements only: a block of normal(0, std) values tiled.
"""
import argparse, array, json, os, random, re, shutil, struct

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "models")

BASE = dict(hidden=768, heads=12, layers=12, ffn=3072)
OVERRIDES = {
    "distilbert": dict(layers=6),
    "albert": dict(embedding=128),
    "modernbert": dict(layers=22, ffn=1152),
    "deberta-v2": dict(buckets=256),
}
# config.json spellings (DistilBERT's are its own).
KEYS = {
    "distilbert": dict(hidden="dim", heads="n_heads", layers="n_layers", ffn="hidden_dim"),
}
DEFAULT_KEYS = dict(hidden="hidden_size", heads="num_attention_heads", layers="num_hidden_layers",
                    ffn="intermediate_size")
LAYER = re.compile(r"^(.*?\b(?:layer|layers)\.)0(\..*)$")


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--std", type=float, default=0.02)
    a = ap.parse_args()
    src = os.path.join(SHARED, "arch", a.arch)
    if not os.path.isdir(src):
        src = os.path.join(SHARED, a.arch)
    cfg = json.load(open(os.path.join(src, "config.json")))
    mt = cfg["model_type"]
    keys = KEYS.get(mt, DEFAULT_KEYS)
    size = dict(BASE, **OVERRIDES.get(mt, {}))
    h0, f0 = cfg[keys["hidden"]], cfg[keys["ffn"]]
    e0 = cfg.get("embedding_size", h0)
    H, F = size["hidden"], size["ffn"]
    E = size.get("embedding", H) if "embedding_size" in cfg and e0 != h0 else H
    gated = mt == "modernbert"
    # Tiny dimension -> base dimension, the FFN first (MPNet's FFN is 3x hidden, like a QKV).
    dims = {}
    for tiny, base in ((f0, F), (2 * f0 if gated else None, 2 * F), (h0, H), (3 * h0, 3 * H), (e0, E)):
        if tiny is not None and tiny not in dims:
            dims[tiny] = base
    heads0 = cfg[keys["heads"]]
    cfg[keys["hidden"]], cfg[keys["heads"]], cfg[keys["ffn"]] = H, size["heads"], F
    layers = size["layers"]
    cfg[keys["layers"]] = layers
    if "embedding_size" in cfg:
        cfg["embedding_size"] = E
    span0 = span = None
    if mt == "deberta-v2":
        span0 = cfg["position_buckets"] if cfg.get("position_buckets", -1) > 0 else cfg["max_relative_positions"]
        if cfg.get("position_buckets", -1) > 0:
            cfg["position_buckets"] = span = size["buckets"]
        else:
            span = span0
    if mt == "modernbert":
        cfg["local_attention"], cfg["global_attn_every_n_layers"] = 128, 3

    header = read_header(os.path.join(src, "model.safetensors"))
    shapes = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        m = LAYER.match(name)
        if ".layer." in name or ".layers." in name:
            if not m:
                continue  # layers 1.. are rebuilt from layer 0
        shape = list(t["shape"])
        if "rel_embeddings" in name:
            shape = [2 * span, H]
        elif "relative_attention_bias" in name:
            shape = [shape[0], size["heads"]]
        elif name.endswith("embeddings_project.weight") and E == H:
            continue  # ELECTRA-base has no projection
        elif name.endswith("embeddings_project.bias") and E == H:
            continue
        elif re.search(r"(word|position|token_type|tok)_embeddings\.weight$", name) or name.endswith("position_embeddings.weight"):
            shape = [shape[0], E]
        elif re.search(r"(^|\.)(classifier|out_proj)\.(weight|bias)$", name) and shape[0] not in (h0,):
            shape = [shape[0]] + [dims.get(d, d) for d in shape[1:]]
        else:
            shape = [dims.get(d, d) for d in shape]
        if re.search(r"(embeddings\.LayerNorm|embeddings\.norm)", name):
            shape = [E]
        if m:
            for i in range(layers):
                shapes[m.group(1) + str(i) + m.group(2)] = shape
        else:
            shapes[name] = shape
    del heads0, span0

    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(src):
        p = os.path.join(src, f)
        if f not in ("model.safetensors", "config.json"):
            (shutil.copytree if os.path.isdir(p) else shutil.copy)(p, os.path.join(a.out, f))
    json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=2)

    rng = random.Random(a.seed)
    block = array.array("f", (rng.gauss(0.0, a.std) for _ in range(1 << 20)))
    hdr, off = {}, 0
    for name in sorted(shapes):
        n = 1
        for d in shapes[name]:
            n *= d
        hdr[name] = {"dtype": "F32", "shape": shapes[name], "data_offsets": [off, off + 4 * n]}
        off += 4 * n
    hdr["__metadata__"] = {"format": "pt"}
    hj = json.dumps(hdr, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    path = os.path.join(a.out, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for k, name in enumerate(sorted(shapes)):
            lo, hi = hdr[name]["data_offsets"]
            n = (hi - lo) // 4
            if name.endswith("LayerNorm.weight") or name.endswith("norm.weight") or name.endswith("layer_norm.weight"):
                f.write(array.array("f", [1.0]) * n)
                continue
            start = (k * 7919) % len(block)  # a different phase per tensor
            rot = block[start:] + block[:start]
            full, rest = divmod(n, len(rot))
            for _ in range(full):
                f.write(rot.tobytes())
            f.write(rot[:rest].tobytes())
    os.replace(path + ".tmp", path)
    print(f"{a.out}: {mt}, {layers} layers, hidden {H}, FFN {F}, {off / 4e6:.1f}M parameters")


if __name__ == "__main__":
    main()
