"""encore.Model against ../shared/reference (float64 PyTorch / transformers) and the CLI,
with the C++ tests' tolerances: FP32 max-abs 1e-4, identical token ids and argmax."""

import json

import numpy as np
import pytest

import encore
from conftest import DEMO, MODELS, SHARED, as_input, cli, read_jsonl, read_safetensors


@pytest.mark.parametrize("name", ["tiny-random-bert", "clinc-bert-small", "clinc-bert-mini"])
def test_forward_matches_reference(name):
    model = encore.Model(MODELS / name, threads=2)
    ref = read_safetensors(SHARED / "reference" / f"{name}.safetensors")
    rows = [as_input(r) for r in read_jsonl(SHARED / "reference/texts.jsonl")]
    out = model.forward(rows)
    assert len(out) == len(rows) == 39
    for i, row in enumerate(out):
        np.testing.assert_array_equal(row["input_ids"], ref[f"input_ids.{i}"])
        np.testing.assert_array_equal(row["token_type_ids"], ref[f"token_type_ids.{i}"])
        assert row["last_hidden_state"].dtype == np.float32
        for key in ("last_hidden_state", "cls", "mean_pooled", "pooler_output", "logits"):
            if f"{key}.{i}" in ref:
                assert np.abs(row[key] - ref[f"{key}.{i}"]).max() <= 1e-4, (name, key, i)
        if f"logits.{i}" in ref:
            assert row["logits"].argmax() == ref[f"logits.{i}"].argmax()


@pytest.mark.parametrize("name", ["xlmr-st", "distilbert-st"])
def test_sentence_embedding_matches_transformers(name):
    st = encore.SentenceTransformer(MODELS / "arch" / name, threads=2)
    ref = read_safetensors(SHARED / "reference/arch" / f"{name}.safetensors")
    texts = read_jsonl(SHARED / "reference/arch/texts.jsonl")
    singles = [(i, r["text"]) for i, r in enumerate(texts) if r.get("text_pair") is None]
    e = st.encode([t for _, t in singles])
    assert e.shape == (len(singles), st.get_sentence_embedding_dimension()) and e.dtype == np.float32
    for row, (i, _) in zip(e, singles):
        assert np.abs(row - ref[f"sentence_embedding.{i}"]).max() <= 1e-4


def test_cross_encoder_matches_transformers():
    ce = encore.CrossEncoder(MODELS / "arch/xlmr-reranker", threads=2)
    ref = read_safetensors(SHARED / "reference/arch/xlmr-reranker.safetensors")
    texts = read_jsonl(SHARED / "reference/arch/texts.jsonl")
    pairs = [(i, (r["text"], r["text_pair"])) for i, r in enumerate(texts) if r.get("text_pair") is not None]
    assert pairs
    scores = ce.predict([p for _, p in pairs])
    assert scores.shape == (len(pairs),) and scores.dtype == np.float32
    for s, (i, _) in zip(scores, pairs):
        expected = 1 / (1 + np.exp(-ref[f"logits.{i}"][0]))  # sentence-transformers' default Sigmoid
        assert abs(s - expected) <= 1e-4
    one = ce.predict(pairs[0][1])
    assert np.ndim(one) == 0 and abs(one - scores[0]) <= 1e-6
    ranked = ce.rank(pairs[0][1][0], [p[1] for _, p in pairs[:5]], return_documents=True)
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    assert {"corpus_id", "score", "text"} <= set(ranked[0])


def test_classify_equals_cli(small, clinc_test):
    texts = [r["text"] for r in clinc_test[:20]]
    ours = small.classify(texts, top_k=3)
    theirs = cli("classify", "--model", str(MODELS / "clinc-bert-small"), "--threads", "2", "--top-k", "3", *texts)
    assert len(ours) == len(theirs) == 20
    for o, t in zip(ours, theirs):
        assert [d["label"] for d in o] == [d["label"] for d in t["labels"]]
        assert np.allclose([d["score"] for d in o], [d["score"] for d in t["labels"]], atol=1e-6, rtol=0)


def test_embed_equals_cli(small, clinc_test):
    texts = [r["text"] for r in clinc_test[:10]]
    for pooling in ("cls", "mean", "pooler"):
        ours = small.embed(texts, pooling=pooling, normalize=True)
        theirs = cli("embed", "--model", str(MODELS / "clinc-bert-small"), "--threads", "2", "--pooling", pooling,
                     "--normalize", *texts)
        assert ours.shape == (10, small.hidden_size)
        np.testing.assert_allclose(ours, np.array([t["embedding"] for t in theirs]), atol=1e-6, rtol=0)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)


def test_precisions_stay_close_to_fp32(small, clinc_test):
    texts = [r["text"] for r in clinc_test[:32]]
    fp32 = small.embed(texts, pooling="mean")
    for precision, min_cos in (("bf16", 0.99), ("int8", 0.98)):
        m = encore.Model(MODELS / "clinc-bert-small", precision=precision, threads=2)
        assert m.precision in (precision, "int8-dynamic", "fp32")  # fp32 when the CPU lacks BF16 support
        assert len(m.layer_precisions) == m.num_layers
        e = m.embed(texts, pooling="mean")
        cos = (e * fp32).sum(1) / np.linalg.norm(e, axis=1) / np.linalg.norm(fp32, axis=1)
        assert cos.min() >= min_cos, (precision, cos.min())


def test_int8_static_with_calibration_file(tmp_path, clinc_test):
    path = tmp_path / "calibration.jsonl"
    path.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in clinc_test[:64]))
    m = encore.Model(DEMO, precision="int8-static", calibration=path, threads=2)
    assert m.precision == "int8-static"
    from_list = encore.Model(DEMO, precision="int8-static", calibration=[r["text"] for r in clinc_test[:64]],
                             threads=2)
    texts = [r["text"] for r in clinc_test[100:110]]
    np.testing.assert_array_equal(m.logits(texts), from_list.logits(texts))


def test_properties(demo):
    assert demo.architecture == "bert"
    assert demo.hidden_size == 128 and demo.num_layers == 2
    assert len(demo.labels) == demo.num_labels == 151 and "book_flight" in demo.labels
    assert demo.precision == "fp32" and demo.layer_precisions == ["fp32", "fp32"]
    assert demo.max_length == 512 and isinstance(demo.notices, list)
    assert demo.has_classifier and demo.threads == 2
    assert "encore.Model(" in repr(demo)


def test_forward_arrays_are_not_copies(demo):
    row = demo.forward("hello world")
    h = row["last_hidden_state"]
    assert h.shape == (4, 128) and h.flags["C_CONTIGUOUS"]
    assert h.base is not None  # a view of the engine's own buffer, owned by a capsule
    assert row["logits"].shape == (151,)


@pytest.mark.parametrize(
    "model,expected",
    [
        ("clinc-bert-small", "data/tokenizer_cases.jsonl"),
        ("arch/xlmr-cls", "data/tokenizers/xlmr-unigram.expected.jsonl"),
        ("arch/modernbert-cls", "data/tokenizers/modernbert-bpe.expected.jsonl"),
    ],
)
def test_tokenize_equals_hugging_face(model, expected):
    m = encore.Model(MODELS / model, threads=1)
    cases = read_jsonl(SHARED / expected)
    assert len(cases) > 100
    for c in cases:
        e = m.tokenize(c["text"], c.get("text_pair"), truncation=True, max_length=512)
        assert e.ids == c["ids"], c["text"][:80]
        assert e.type_ids == c["type_ids"]
        assert e.tokens == c["tokens"]
        assert [list(o) for o in e.offsets] == c["offsets"]
        if "decoded" in c and c.get("text_pair") is None and "untruncated" not in c:
            assert m.decode(e.ids) == c["decoded"]


def test_tokenize_truncation_and_pairs(demo):
    e = demo.tokenize("hello world", "how are you")
    assert e.tokens == ["[CLS]", "hello", "world", "[SEP]", "how", "are", "you", "[SEP]"]
    assert e.type_ids == [0, 0, 0, 0, 1, 1, 1, 1]
    assert e.sequence_ids == [None, 0, 0, None, 1, 1, 1, None]
    assert e.special_tokens_mask == [1, 0, 0, 1, 0, 0, 0, 1] and e.attention_mask == [1] * 8
    assert len(demo.tokenize("word " * 1000)) == 1002 and not demo.tokenize("word " * 1000).truncated
    t = demo.tokenize("word " * 1000, truncation=True)
    assert len(t) == 512 and t.truncated
    assert len(demo.tokenize("word " * 10, truncation=True, max_length=5)) == 5
    assert demo.tokenize("hello", add_special_tokens=False).tokens == ["hello"]


def test_save_writes_a_plan_that_loads_identically(tmp_path, clinc_test):
    texts = [r["text"] for r in clinc_test[:16]]
    m = encore.Model(DEMO, precision="int8", threads=2)
    size = m.save(tmp_path / "plan")
    assert size == (tmp_path / "plan/model.safetensors").stat().st_size
    plan = encore.Model(tmp_path / "plan", threads=2)
    assert plan.is_plan and plan.precision == m.precision
    np.testing.assert_array_equal(plan.logits(texts), m.logits(texts))
    with pytest.raises(encore.Error, match="already a plan"):
        plan.save(tmp_path / "again")
