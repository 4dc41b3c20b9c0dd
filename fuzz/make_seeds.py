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
