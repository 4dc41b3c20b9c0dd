"""encore.pipeline's inputs and outputs have transformers.pipeline's shapes (as of transformers
4.4x: text_classification.py's legacy top_k handling and feature_extraction.py's nesting)."""

import numpy as np
import pytest

import encore
from conftest import DEMO, MODELS


@pytest.fixture(scope="module")
def classifier():
    return encore.pipeline("text-classification", model=DEMO, threads=2)


def is_label_dict(d):
    return isinstance(d, dict) and set(d) == {"label", "score"} and isinstance(d["label"], str) and isinstance(
        d["score"], float)


def test_single_string_gives_a_list_of_one_dict(classifier):
    out = classifier("book a flight to paris")
    assert isinstance(out, list) and len(out) == 1 and is_label_dict(out[0])
    assert out[0]["label"] == "book_flight" and 0.8 < out[0]["score"] <= 1


def test_list_gives_one_dict_per_text(classifier):
    out = classifier(["book a flight to paris", "what is the weather like"])
    assert len(out) == 2 and all(is_label_dict(d) for d in out)
    assert [d["label"] for d in out] == ["book_flight", "weather"]


def test_top_k(classifier):
    two = classifier("book a flight to paris", top_k=2)
    assert len(two) == 2 and all(is_label_dict(d) for d in two) and two[0]["score"] >= two[1]["score"]
    every = classifier("book a flight to paris", top_k=None)
    assert len(every) == 151 and abs(sum(d["score"] for d in every) - 1) < 1e-4
    assert [d["score"] for d in every] == sorted((d["score"] for d in every), reverse=True)
    assert every[0] == classifier("book a flight to paris")[0]
    batch = classifier(["a", "b", "c"], top_k=3)
    assert len(batch) == 3 and all(len(r) == 3 and all(is_label_dict(d) for d in r) for r in batch)
    one = classifier(["a"], top_k=1)
    assert len(one) == 1 and len(one[0]) == 1


def test_top_k_given_at_construction_keeps_transformers_nesting():
    # transformers wraps a single string's result in a list when the *call* has no top_k.
    pipe = encore.pipeline("text-classification", model=DEMO, top_k=None, threads=1)
    out = pipe("book a flight")
    assert len(out) == 1 and len(out[0]) == 151
    assert len(pipe("book a flight", top_k=None)) == 151


def test_pairs(classifier):
    d = classifier({"text": "book a flight", "text_pair": "to paris"})
    assert is_label_dict(d)
    assert classifier([["book a flight", "to paris"]]) == d
    batch = classifier([{"text": "book a flight", "text_pair": "to paris"}, {"text": "hello"}])
    assert len(batch) == 2 and batch[0] == d and is_label_dict(batch[1])


def test_function_to_apply(classifier):
    raw = classifier("book a flight", function_to_apply="none", top_k=None)
    logits = encore.Model(DEMO, threads=1).logits("book a flight")
    assert raw[0]["score"] == pytest.approx(float(logits.max()), abs=1e-5)
    sig = classifier("book a flight", function_to_apply="sigmoid")[0]
    assert sig["score"] == pytest.approx(1 / (1 + np.exp(-logits.max())), abs=1e-6)
    assert classifier("book a flight", function_to_apply="SOFTMAX") == classifier("book a flight")
    with pytest.raises(ValueError):
        classifier("book a flight", function_to_apply="relu")


def test_one_logit_reranker_uses_sigmoid():
    pipe = encore.pipeline("text-classification", model=MODELS / "arch/xlmr-reranker", threads=1)
    d = pipe({"text": "what is a cat", "text_pair": "a cat is an animal"})
    logit = encore.Model(MODELS / "arch/xlmr-reranker", threads=1).logits(("what is a cat", "a cat is an animal"))
    assert d["label"] == "LABEL_0" and d["score"] == pytest.approx(1 / (1 + np.exp(-logit[0])), abs=1e-6)


def test_feature_extraction_nesting():
    pipe = encore.pipeline("feature-extraction", model=DEMO, threads=1)
    out = pipe("hello world")
    assert isinstance(out, list) and len(out) == 1 and len(out[0]) == 4 and len(out[0][0]) == 128
    assert isinstance(out[0][0][0], float)
    many = pipe(["hello world", "hi"])
    assert len(many) == 2 and len(many[1][0]) == 3
    t = pipe("hello world", return_tensors=True)
    assert isinstance(t, np.ndarray) and t.shape == (1, 4, 128)
    np.testing.assert_allclose(t[0], np.array(out[0], dtype=np.float32))


def test_sentence_similarity():
    pipe = encore.pipeline("sentence-similarity", model=MODELS / "arch/xlmr-st", threads=1)
    sims = pipe({"source_sentence": "a cat", "sentences": ["a cat", "the stock market fell"]})
    assert len(sims) == 2 and sims[0] == pytest.approx(1.0, abs=1e-5) and sims[1] < sims[0]
    with pytest.raises(TypeError):
        pipe("a cat")


def test_pipeline_arguments():
    with pytest.raises(ValueError, match="unknown task"):
        encore.pipeline("translation", model=DEMO)
    with pytest.raises(ValueError):
        encore.pipeline("text-classification")
    with pytest.raises(TypeError):
        encore.pipeline("text-classification", model=42)
    m = encore.Model(DEMO, threads=1)
    assert encore.pipeline("sentiment-analysis", model=m)("book a flight")[0]["label"] == "book_flight"
    with pytest.raises(ValueError, match="classification head"):
        encore.pipeline("text-classification", model=MODELS / "arch/xlmr-st")


def test_sentence_transformer_shapes():
    st = encore.SentenceTransformer(MODELS / "arch/xlmr-st", threads=1)
    one = st.encode("a cat")
    assert one.shape == (st.get_sentence_embedding_dimension(),) and one.dtype == np.float32
    assert abs(np.linalg.norm(one) - 1) < 1e-5  # its modules.json lists Normalize
    many = st.encode(["a cat", "a dog", "a car"], batch_size=2)
    assert many.shape == (3, one.shape[0])
    np.testing.assert_allclose(many[0], one, atol=1e-6)
    assert st.similarity(many, many).shape == (3, 3)
    tokens = st.encode(["a cat", "a dog"], output_value="token_embeddings")
    assert len(tokens) == 2 and tokens[0].shape[1] == one.shape[0]
    assert isinstance(st.encode(["a"], convert_to_numpy=False), list)
    with pytest.raises(ValueError):
        st.encode("a", convert_to_tensor=True)
    with pytest.raises(ValueError):
        encore.SentenceTransformer(MODELS / "arch/xlmr-st", device="cuda")
    plain = encore.SentenceTransformer(MODELS / "arch/distilbert-st", threads=1)
    e = plain.encode(["a cat"], normalize_embeddings=True)
    assert abs(np.linalg.norm(e[0]) - 1) < 1e-5
