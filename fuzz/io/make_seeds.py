#!/usr/bin/env python3
"""Writes the seed corpora of the io fuzz targets (fuzz/io/seeds/...). The output is
committed; rerun only when changing the seeds:  python3 fuzz/io/make_seeds.py
"""
import json
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent.parent.parent / "shared"

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U8": 1, "BOOL": 1}


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes); offsets in list order."""
    header, blobs, off = {}, [], 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    hj = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        hj += b" " * ((8 - len(hj) % 8) % 8)
    return struct.pack("<Q", len(hj)) + hj + b"".join(blobs)


def raw_header(text, data=b""):
    hj = text.encode()
    return struct.pack("<Q", len(hj)) + hj + data


def f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


def safetensors_seeds():
    s = {}
    s["all_dtypes"] = safetensors(
        [("a.f64", "F64", [2], struct.pack("<2d", 1.5, -2.25)),
         ("b.f32", "F32", [2, 2], f32(1, 2, 3, 4)),
         # F16: 1, -2, 65504, smallest subnormal, largest subnormal, inf, -inf, NaN
         ("c.f16", "F16", [8], struct.pack("<8H", 0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF,
                                           0x7C00, 0xFC00, 0x7E00)),
         ("d.bf16", "BF16", [3], struct.pack("<3H", 0x3F80, 0xC049, 0x7FC0)),
         ("e.i64", "I64", [1], struct.pack("<q", -1)),
         ("f.i32", "I32", [1], struct.pack("<i", 7)),
         ("g.i16", "I16", [1], struct.pack("<h", 7)),
         ("h.i8", "I8", [2], b"\x01\xff"),
         ("i.u8", "U8", [2], b"\x01\xff"),
         ("j.bool", "BOOL", [2], b"\x00\x01")],
        metadata={"format": "pt"})
    s["scalar_and_empty"] = safetensors(
        [("scalar", "F32", [], f32(3.5)), ("empty", "F32", [0, 4], b""),
         ("empty2", "F16", [4, 0], b""), ("x", "F32", [1], f32(1))])
    s["empty_header"] = raw_header("{}")
    s["metadata_only"] = raw_header('{"__metadata__":{"format":"pt","k":"v"}}')
    s["unpadded"] = safetensors([("w", "F32", [3], f32(1, 2, 3))], pad=False)
    # A miniature BERT (hidden 4, 1 layer) with HF names.
    h, i = 4, 8
    names = [("bert.embeddings.word_embeddings.weight", [6, h]),
             ("bert.embeddings.position_embeddings.weight", [5, h]),
             ("bert.embeddings.token_type_embeddings.weight", [2, h]),
             ("bert.embeddings.LayerNorm.weight", [h]), ("bert.embeddings.LayerNorm.bias", [h])]
    p = "bert.encoder.layer.0."
    for q in ("query", "key", "value"):
        names += [(p + f"attention.self.{q}.weight", [h, h]), (p + f"attention.self.{q}.bias", [h])]
    names += [(p + "attention.output.dense.weight", [h, h]), (p + "attention.output.dense.bias", [h]),
              (p + "attention.output.LayerNorm.gamma", [h]), (p + "attention.output.LayerNorm.beta", [h]),
              (p + "intermediate.dense.weight", [i, h]), (p + "intermediate.dense.bias", [i]),
              (p + "output.dense.weight", [h, i]), (p + "output.dense.bias", [h]),
              (p + "output.LayerNorm.weight", [h]), (p + "output.LayerNorm.bias", [h]),
              ("bert.pooler.dense.weight", [h, h]), ("bert.pooler.dense.bias", [h]),
              ("classifier.weight", [2, h]), ("classifier.bias", [2])]
    tensors = []
    for n, shape in sorted(names):
        count = 1
        for d in shape:
            count *= d
        tensors.append((n, "F16", shape, struct.pack(f"<{count}H", *[(0x3000 + k) for k in range(count)])))
    s["mini_bert_f16"] = safetensors(tensors, metadata={"format": "pt"})
    # Invalid ones: each reaches a different check.
    s["bad_overlap"] = raw_header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                  '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', bytes(12))
    s["bad_size"] = raw_header('{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}', bytes(8))
    s["bad_range"] = raw_header('{"a":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}}', bytes(8))
    s["bad_dtype"] = raw_header('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', bytes(1))
    s["bad_dup"] = raw_header('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                              '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2))
    s["bad_huge_shape"] = raw_header('{"a":{"dtype":"F32","shape":[4294967296,4294967296,2],'
                                     '"data_offsets":[0,0]}}')
    s["short"] = b"\x02\x00\x00"
    s["bad_length"] = struct.pack("<Q", 1 << 40) + b"{}"
    return s


def config_seeds():
    s = {}
    for m in ("tiny-random-bert", "clinc-bert-mini"):
        s[m] = (SHARED / "models" / m / "config.json").read_bytes()
    base = json.loads(s["tiny-random-bert"])
    minimal = {k: base[k] for k in ("model_type", "vocab_size", "hidden_size", "num_hidden_layers",
                                    "num_attention_heads", "intermediate_size",
                                    "max_position_embeddings")}
    s["minimal"] = json.dumps(minimal).encode()
    s["no_model_type"] = json.dumps(dict(minimal, model_type=None,
                                         architectures=["BertModel"])).encode()
    s["multi_label"] = json.dumps(dict(base, problem_type="multi_label_classification",
                                       hidden_act="gelu_new", pad_token_id=None,
                                       layer_norm_eps=1e-5)).encode()
    s["num_labels"] = json.dumps(dict(minimal, num_labels=5, hidden_act="silu")).encode()
    pooling = {"word_embedding_dimension": 96, "pooling_mode_cls_token": False,
               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
               "pooling_mode_lasttoken": False, "include_prompt": True}
    s["with_mean_pooling"] = s["minimal"] + b"\0" + json.dumps(pooling).encode()
    s["with_cls_pooling"] = json.dumps(dict(minimal)).encode() + b"\0" + json.dumps(
        dict(pooling, pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)).encode()
    s["bad_gpt2"] = json.dumps(dict(minimal, model_type="gpt2")).encode()
    s["bad_heads"] = json.dumps(dict(minimal, num_attention_heads=5)).encode()
    s["bad_id2label"] = json.dumps(dict(minimal, id2label={"0": "a", "2": "b"})).encode()
    return s


# --- PyTorch checkpoints (fuzz_torch_checkpoint): hand-assembled pickles, zips, legacy files

def _pk_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _pk_int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    return b"\x8a\x08" + struct.pack("<q", v)


def _pk_ints(v):
    return b"(" + b"".join(_pk_int(x) for x in v) + b"t"


def _pk_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def state_dict_pickle(tensors, legacy=False, extra=b""):
    """tensors: (name, storage type, key, storage numel, offset, size, stride); the pickle
    torch.save writes for an OrderedDict state dict (memo puts included)."""
    out = b"\x80\x02" + _pk_global("collections", "OrderedDict") + b"q\x00)Rq\x01("
    for i, (name, stype, key, numel, off, size, stride) in enumerate(tensors):
        out += _pk_str(name)
        out += (b"h\x02" if i else _pk_global("torch._utils", "_rebuild_tensor_v2") + b"q\x02")
        out += b"((" + _pk_str("storage") + _pk_global("torch", stype) + _pk_str(key)
        out += _pk_str("cpu") + _pk_int(numel) + (b"N" if legacy else b"") + b"tQ"
        out += _pk_int(off) + _pk_ints(size) + _pk_ints(stride) + b"\x89h\x00)Rt" + b"R"
    out += extra + b"u."
    return out


def stored_zip(entries, zip64=False):
    out, cd = b"", b""
    for name, data in entries:
        n = name.encode()
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0, 0, len(data), len(data),
                           len(n), 0) + n + data
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 0, 0, 0, 0, len(data),
                          len(data), len(n), 0, 0, 0, 0, 0, off) + n
    cd_off = len(out)
    out += cd
    if zip64:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(entries),
                           len(entries), len(cd), cd_off)
        out += struct.pack("<IIQI", 0x07064b50, 0, z64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                           0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(entries), len(entries), len(cd),
                           cd_off, 0)
    return out


def torch_zip(tensors, storages, folder="archive", zip64=False, extra_entries=()):
    e = [(folder + "/data.pkl", state_dict_pickle(tensors))]
    e += [(folder + "/data/" + k, d) for k, d in storages]
    e += [(folder + "/version", b"3\n")] + list(extra_entries)
    return stored_zip(e, zip64)


def legacy(tensors, storages):
    """storages: (key, element count, raw bytes) in file order."""
    out = b"\x80\x02\x8a\x0a" + (0x1950a86a20f9469cfc6c).to_bytes(10, "little") + b"."
    out += b"\x80\x02" + _pk_int(1001) + b"."
    out += b"\x80\x02}(" + _pk_str("protocol_version") + _pk_int(1001)
    out += _pk_str("little_endian") + b"\x88" + _pk_str("type_sizes") + b"}("
    out += _pk_str("short") + _pk_int(2) + _pk_str("int") + _pk_int(4) + _pk_str("long")
    out += _pk_int(4) + b"uu."
    out += state_dict_pickle(tensors, legacy=True)
    out += b"\x80\x02](" + b"".join(_pk_str(k) for k, _, _ in storages) + b"e."
    for _, n, raw in storages:
        out += struct.pack("<q", n) + raw
    return out


def torch_seeds():
    s = {}
    w = f32(1, 2, 3, 4, 5, 6)
    mixed = [("w", "FloatStorage", "0", 6, 0, [2, 3], [3, 1]),
             ("w_t", "FloatStorage", "0", 6, 0, [3, 2], [1, 3]),
             ("tail", "FloatStorage", "0", 6, 4, [2], [1]),
             ("h", "HalfStorage", "1", 2, 0, [2], [1]),
             ("bf", "BFloat16Storage", "2", 1, 0, [], []),
             ("ids", "LongStorage", "3", 2, 0, [1, 2], [2, 1]),
             ("empty", "FloatStorage", "4", 0, 0, [0, 3], [3, 1])]
    stor = [("0", w), ("1", struct.pack("<2H", 0x3C00, 0xC000)), ("2", struct.pack("<H", 0x3F80)),
            ("3", struct.pack("<2q", 0, 1)), ("4", b"")]
    s["zip_mixed"] = torch_zip(mixed, stor)
    s["zip64_mixed"] = torch_zip(mixed, stor, folder="pytorch_model", zip64=True,
                                 extra_entries=[("pytorch_model/byteorder", b"little")])
    s["zip_module_prefix"] = torch_zip([("module.a", "FloatStorage", "0", 6, 0, [6], [1])],
                                       [("0", w)], folder="model")
    s["zip_metadata_build"] = stored_zip([
        ("archive/data.pkl", state_dict_pickle(
            [("x", "DoubleStorage", "0", 1, 0, [1], [1])]).rstrip(b".")[:-1]
         + b"u}" + _pk_str("_metadata") + b"}sb."),
        ("archive/data/0", struct.pack("<d", 2.5))])
    s["zip_oob"] = torch_zip([("bad", "FloatStorage", "0", 6, 4, [3], [1])], [("0", w)])
    s["legacy"] = legacy([("a", "FloatStorage", "100", 3, 1, [2], [1]),
                          ("ids", "LongStorage", "200", 2, 0, [2], [1])],
                         [("200", 2, struct.pack("<2q", 0, 1)), ("100", 3, f32(1, 2, 3))])
    # A protocol-4 pickle (STACK_GLOBAL, MEMOIZE, FRAME, SHORT_BINUNICODE) of a plain dict.
    s["pickle_proto4"] = (b"\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00"
                          b"\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94"
                          b"\x8c\x01a\x94K\x01s.")
    # What the refused fixtures do, in small.
    s["pickle_posix_system"] = (b"\x80\x02" + _pk_global("posix", "system")
                                + _pk_str("touch /tmp/encore_fuzz_canary") + b"\x85R.")
    for name in ("os-system", "storage-oob", "subprocess-popen"):
        p = SHARED / "models" / "checkpoints" / "malicious" / name / "pytorch_model.bin"
        if p.exists():
            s["fixture_" + name] = p.read_bytes()
    return s


def main():
    for sub, seeds in (("safetensors", safetensors_seeds()), ("bert_config", config_seeds()),
                       ("torch_checkpoint", torch_seeds())):
        d = HERE / "seeds" / sub
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for name, data in seeds.items():
            (d / name).write_bytes(data)
        print(f"{d}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
