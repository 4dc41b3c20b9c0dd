#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/seeds/...). The output is committed;
rerun only when changing the seeds:  python3 fuzz/make_seeds.py
"""
import copy
import json
import pathlib
import shutil

HERE = pathlib.Path(__file__).resolve().parent

VOCAB_TOKENS = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", ",", ".", "'", "(", ")", "-",
    "a", "the", "hello", "world", "fox", "quick", "brown", "jump", "##ed", "##s", "##ing",
    "##ly", "un", "##aff", "##able", "cafe", "naive", "fi", "##nd", "t", "don", "##'",
    "istanbul", "中", "文", "漢", "ab", "ω", "x", "y", "quoted", "\"", "`", "##x", "é",
    "##́", "o", "##̣", "mask", "<", ">",
]
VOCAB = {t: i for i, t in enumerate(VOCAB_TOKENS)}


def special(tok, id_, **kw):
    d = {"id": id_, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
    d.update(kw)
    return d


BASE = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [special(t, VOCAB[t]) for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                   "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                           "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}},
    },
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100, "vocab": VOCAB},
}

NORMALIZERS = {
    "bert": BASE["normalizer"],
    "bert_nolower": {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": False,
                     "strip_accents": True, "lowercase": False},
    "lowercase": {"type": "Lowercase"},
    "nfd": {"type": "NFD"},
    "nfkd": {"type": "NFKD"},
    "nfc": {"type": "NFC"},
    "nfkc": {"type": "NFKC"},
    "strip_accents": {"type": "StripAccents"},
    "strip": {"type": "Strip", "strip_left": True, "strip_right": False},
    "replace": {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
    "prepend": {"type": "Prepend", "prepend": "\u2581"},
    "sequence": {"type": "Sequence", "normalizers": [
        {"type": "NFKD"}, {"type": "StripAccents"}, {"type": "Lowercase"},
        {"type": "Replace", "pattern": {"String": "ß"}, "content": "ss"},
        {"type": "Strip", "strip_left": True, "strip_right": True}, {"type": "NFC"}]},
}

PRE_TOKENIZERS = {
    "bert": {"type": "BertPreTokenizer"},
    "whitespace": {"type": "Whitespace"},
    "whitespace_split": {"type": "WhitespaceSplit"},
    **{f"punct_{b.lower()}": {"type": "Punctuation", "behavior": b}
       for b in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]},
    "sequence": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Isolated"}]},
}

POST_PROCESSORS = {
    "bert_processing": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
    "template_multi": {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}},
                 {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [2, 3], "tokens": ["[CLS]", "[SEP]"]}},
    },
}


def variant(**changes):
    d = copy.deepcopy(BASE)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def tiny_charsmap(mapping):
    """A SentencePiece precompiled_charsmap (darts-clone double array + NUL-separated
    replacement strings) for a few UTF-8 keys, base64-encoded."""
    import base64
    import struct
    normalized = b""
    values = {}
    for key, rep in mapping.items():
        values[key.encode("utf-8")] = len(normalized)
        normalized += rep.encode("utf-8") + b"\0"
    trie = {}
    for k in values:
        node = trie
        for b in k:
            node = node.setdefault(b, {})
        node[None] = values[k]
    units = {}

    def place(node, pos):
        labels = [c for c in node if c is not None]
        base = 1
        while True:
            slots = [base ^ c for c in labels] + ([base] if None in node else [])
            if base != pos and all(s not in units and s != pos for s in slots):
                break
            base += 1
        label = units.get(pos, 0) & 0xFF
        units[pos] = ((pos ^ base) << 10) | ((1 << 8) if None in node else 0) | label
        if None in node:
            units[base] = (1 << 31) | node[None]
        for c in labels:
            units[base ^ c] = c
        for c in labels:
            place(node[c], base ^ c)

    place(trie, 0)
    size = max(units) + 1
    blob = b"".join(struct.pack("<I", units.get(i, 0)) for i in range(size))
    return base64.b64encode(struct.pack("<I", len(blob)) + blob + normalized).decode()


BPE_VOCAB = {t: i for i, t in enumerate(
    ["<s>", "<pad>", "</s>", "<unk>", "H", "e", "l", "o", "Ġ", "w", "r", "d", "He", "ll", "llo",
     "Hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "<0x41>", "<0xC3>", "<0xA9>", "▁", "▁H",
     "<mask>"])}
BPE_MERGES = [["H", "e"], ["l", "l"], ["ll", "o"], ["He", "llo"], ["Ġ", "w"], ["o", "r"],
              ["Ġw", "or"], ["l", "d"], ["Ġwor", "ld"], ["▁", "H"]]


def family_seeds(seeds):
    """Seeds for the non-WordPiece components (byte-level BPE, byte fallback, Unigram)."""
    specials = [special(t, BPE_VOCAB[t]) for t in ("<s>", "<pad>", "</s>", "<unk>")]
    specials.append(special("<mask>", BPE_VOCAB["<mask>"], lstrip=True, normalized=True))
    roberta = {
        "version": "1.0", "added_tokens": specials, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                           "trim_offsets": True, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": BPE_VOCAB,
                  "merges": BPE_MERGES},
    }
    seeds["bpe_roberta"] = roberta
    r = copy.deepcopy(roberta)
    r["model"]["merges"] = [" ".join(m) for m in BPE_MERGES]
    r["model"]["ignore_merges"] = True
    r["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "trim_offsets": True, "add_prefix_space": True},
        {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                 {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}}]}
    r["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\d{1,3}"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": True, "use_regex": False}]}
    seeds["bpe_gpt_style"] = r
    llama = copy.deepcopy(roberta)
    llama["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    llama["pre_tokenizer"] = None
    llama["model"].update({"unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True,
                           "continuing_subword_prefix": None, "end_of_word_suffix": None})
    llama["post_processor"] = r["post_processor"]["processors"][1]
    llama["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    seeds["bpe_byte_fallback"] = llama
    sp = copy.deepcopy(llama)
    sp["normalizer"] = None
    sp["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                           "split": False}
    seeds["bpe_metaspace_first"] = sp
    pieces = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁", -2.0],
              ["▁H", -3.0], ["ello", -4.0], ["▁w", -3.5], ["orld", -4.5], ["l", -5.0],
              ["o", -5.0], ["é", -6.0], ["<0x41>", -9.0], ["<mask>", 0.0]]
    unigram = {
        "version": "1.0", "added_tokens": [special(p[0], i) for i, p in enumerate(pieces)
                                           if p[0].startswith("<") and not p[0].startswith("<0x")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Precompiled", "precompiled_charsmap": tiny_charsmap(
                {"\uff21": "A", "e\u0301": "\u00e9", "\u2122": "TM", "\u00ad": ""})},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                          "split": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {
                               "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                    "split": True},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": pieces, "byte_fallback": False},
    }
    seeds["unigram_precompiled"] = unigram
    u = copy.deepcopy(unigram)
    u["model"]["byte_fallback"] = True
    u["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "Nmt"}, {"type": "NFKD"},
                                                          {"type": "StripAccents"}]}
    u["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "CharDelimiterSplit", "delimiter": "-"},
        {"type": "Split", "pattern": {"String": "o"}, "behavior": "MergedWithNext", "invert": True},
        {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}]}
    seeds["unigram_byte_fallback"] = u
    seeds["wordlevel"] = {"model": {"type": "WordLevel", "vocab": {"<unk>": 0, "hello": 1},
                                    "unk_token": "<unk>"},
                          "pre_tokenizer": {"type": "WhitespaceSplit"},
                          "decoder": {"type": "BPEDecoder", "suffix": "</w>"}}


def main():
    out = HERE / "seeds" / "tokenizer_json"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    seeds = {"base": BASE}
    for name, n in NORMALIZERS.items():
        seeds[f"normalizer_{name}"] = variant(normalizer=n)
    for name, p in PRE_TOKENIZERS.items():
        seeds[f"pre_tokenizer_{name}"] = variant(pre_tokenizer=p)
    for name, p in POST_PROCESSORS.items():
        seeds[f"post_processor_{name}"] = variant(post_processor=p)
    seeds["minimal"] = {"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}}}
    seeds["no_optional_parts"] = variant(normalizer=None, pre_tokenizer=None, post_processor=None,
                                         decoder=None)
    added = copy.deepcopy(BASE["added_tokens"])
    added += [
        {"id": 53, "content": "<mask>", "special": True, "lstrip": True, "rstrip": False,
         "single_word": False, "normalized": True},
        {"id": 54, "content": "hello world", "special": False, "lstrip": False, "rstrip": True,
         "single_word": True, "normalized": True},
        {"id": 55, "content": "ﬁx", "special": False, "lstrip": True, "rstrip": True,
         "single_word": False, "normalized": False},
    ]
    seeds["added_tokens_flags"] = variant(
        added_tokens=added,
        normalizer={"type": "Sequence", "normalizers": [
            {"type": "NFKC"}, {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            {"type": "Strip", "strip_left": True, "strip_right": True}]},
        pre_tokenizer={"type": "Whitespace"})
    seeds["wordpiece_options"] = variant(model={
        "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "",
        "max_input_chars_per_word": 5, "vocab": VOCAB})
    seeds["truncation_padding"] = variant(
        truncation={"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0},
        padding={"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
                 "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"})
    family_seeds(seeds)
    for name, d in seeds.items():
        text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
        (out / f"{name}.json").write_text(text, encoding="utf-8")
    print(f"wrote {len(seeds)} seeds to {out}")

    # fuzz_encode: 3 control bytes + text (see fuzz_encode.cpp).
    out = HERE / "seeds" / "encode"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    texts = [
        "Hello, World! Héllo naïve café",
        "ﬁnd [MASK] 中文 don't İstanbul ＡＢ",
        "a\u0301\u0323 o\u0301\u0302\u0323 \u2126\t\x01x\u2003y",
        "``quoted'' <mask> hello world ß! [SEP] ##ing  <eos>  \u212b",
        "the quick-brown fox (jumped) ... \u2014 unaffable",
    ]
    n = 0
    for i, t in enumerate(texts):
        for ctrl in (0x00, 0x01, 0x02, 0x03, 0x06, 0x0F, 0x17, 0x27, 0x43, 0x86):
            data = bytes([ctrl, 6 + i, 100]) + t.encode("utf-8")
            (out / f"seed_{i}_{ctrl:02x}").write_bytes(data)
            n += 1
    (out / "invalid_utf8").write_bytes(bytes([0x03, 8, 128]) + b"ab\xc3(\xed\xa0\x80\xf4\x90")
    print(f"wrote {n + 1} seeds to {out}")


if __name__ == "__main__":
    main()
