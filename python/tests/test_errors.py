"""Bad inputs raise the right Python exceptions (never a crash): TypeError for wrong types,
ValueError for bad values, encore.Error (a ValueError) with encore's message for the rest."""

import pytest

import encore
from conftest import DEMO, MODELS, SHARED


def test_error_types():
    assert issubclass(encore.Error, ValueError)
    assert issubclass(encore.InputError, encore.Error)


def test_missing_or_bad_model_folder(tmp_path):
    with pytest.raises(encore.Error, match="does not exist"):
        encore.Model(tmp_path / "nothing")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(encore.Error):
        encore.Model(tmp_path)


@pytest.mark.parametrize("case", ["os-system", "builtins-eval", "subprocess-popen", "storage-oob", "truncated-zip"])
def test_malicious_checkpoint_is_refused(case):
    folder = SHARED / "models/checkpoints/malicious" / case
    assert (folder / "pytorch_model.bin").exists()
    with pytest.raises(encore.Error):
        encore.Model(folder)


def test_bad_arguments(demo):
    with pytest.raises(ValueError):
        encore.Model(DEMO, precision="fp8")
    with pytest.raises(ValueError):
        encore.Model(DEMO, threads=-1)
    with pytest.raises(ValueError):
        encore.Model(DEMO, fallback="sometimes")
    with pytest.raises(TypeError):
        encore.Model(DEMO, threads="two")
    with pytest.raises(ValueError):
        demo.classify("a", top_k=0)
    with pytest.raises(ValueError):
        demo.classify("a", batch_size=0)
    with pytest.raises(ValueError):
        demo.embed("a", pooling="max")
    with pytest.raises(ValueError):
        demo.tokenize("a", truncation=True, max_length=0)


def test_bad_texts(demo):
    for bad in (3, None, b"bytes", [1, 2], ["ok", 3], {"txt": "a"}, ("a", "b", "c"), [("a",)]):
        with pytest.raises((TypeError, ValueError)):
            demo.classify(bad)
    with pytest.raises(TypeError):
        demo.embed(b"bytes")
    with pytest.raises(ValueError):  # a lone surrogate is not encodable as UTF-8
        demo.classify("\ud800")
    with pytest.raises(ValueError, match="unexpected key"):
        demo.classify({"text": "a", "pair": "b"})
    with pytest.raises(TypeError):
        demo.tokenize(5)


def test_too_long_without_truncation(demo):
    with pytest.raises(encore.InputError, match="truncation is off"):
        demo.classify("word " * 600, truncation=False)
    assert demo.classify("word " * 600)[0]["label"]


def test_model_without_head():
    st = encore.Model(MODELS / "arch/xlmr-st", threads=1)
    with pytest.raises(encore.Error, match="no classification head"):
        st.classify("a")
    with pytest.raises(encore.Error, match="no pooler"):
        encore.Model(MODELS / "arch/distilbert-st", threads=1).embed("a", pooling="pooler")


def test_empty_inputs(demo):
    assert demo.classify([]) == []
    assert demo.embed([]).shape == (0, 128)
    assert demo.forward([]) == []
    assert demo.classify("")[0]["label"]
