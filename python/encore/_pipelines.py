"""encore.pipeline: callables whose inputs and outputs match transformers.pipeline."""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import numpy as np

from ._model import Model

_UNSET = object()
_MODEL_OPTIONS = ("precision", "threads", "calibration", "fallback")


def _load(model: Union[str, os.PathLike, Model], options: dict) -> Model:
    if isinstance(model, Model):
        if any(k in options for k in _MODEL_OPTIONS):
            raise TypeError("precision/threads/calibration/fallback apply when `model` is a path, not a Model")
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a folder path or an encore.Model, got {type(model).__name__}")
    return Model(model, **{k: options.pop(k) for k in _MODEL_OPTIONS if k in options})


def _pair_form(inputs: Any) -> Any:
    # transformers still accepts [[text, text_pair]] as one pair (its backward-compatible path).
    if isinstance(inputs, list) and len(inputs) == 1 and isinstance(inputs[0], list) and len(inputs[0]) == 2:
        return {"text": inputs[0][0], "text_pair": inputs[0][1]}
    return inputs


class TextClassificationPipeline:
    """``transformers.pipeline("text-classification")``'s call and output formats:

    - ``pipe("text")`` -> ``[{"label", "score"}]``; ``pipe(["a", "b"])`` -> one dict per text;
    - ``pipe("text", top_k=2)`` -> the 2 best dicts; ``top_k=None`` -> every label, best first;
      with a list, one such list per text;
    - pairs as ``{"text": a, "text_pair": b}`` (or ``[[a, b]]``) -> one dict;
    - ``function_to_apply``: "softmax", "sigmoid", "none" (default as transformers: sigmoid
      for multi-label and one-logit models, none for regression, softmax otherwise).
    """

    task = "text-classification"

    def __init__(self, model: Model, top_k: Any = _UNSET, function_to_apply: Optional[str] = None, **call_options):
        if not model.has_classifier:
            raise ValueError("text-classification needs a model with a classification head")
        self.model = model
        self._top_k = top_k
        self._function = function_to_apply
        self._options = call_options

    def __call__(self, inputs: Any, **kwargs):
        call_legacy = "top_k" not in kwargs
        top_k = kwargs.pop("top_k", self._top_k)
        function = kwargs.pop("function_to_apply", self._function)
        if function is not None:
            function = str(function).lower()
        options = {**self._options, **kwargs}
        inputs = _pair_form(inputs)
        # Without any top_k, transformers returns the best label as one dict per input.
        row_legacy = top_k is _UNSET
        k = 1 if row_legacy else top_k
        result = self.model.classify(inputs, top_k=k, function_to_apply=function, **options)
        single = isinstance(inputs, (str, dict, tuple))
        if row_legacy:
            result = result[0] if single else [r[0] for r in result]
        if isinstance(inputs, str) and call_legacy:
            return [result]
        return result


class FeatureExtractionPipeline:
    """``transformers.pipeline("feature-extraction")``: per input its last_hidden_state with a
    batch dimension, ``[1, tokens, hidden]`` as nested lists (``return_tensors=True``: a NumPy
    array)."""

    task = "feature-extraction"

    def __init__(self, model: Model, return_tensors: bool = False, **call_options):
        self.model = model
        self._return_tensors = return_tensors
        self._options = call_options

    def __call__(self, inputs: Any, return_tensors: Optional[bool] = None, **kwargs):
        tensors = self._return_tensors if return_tensors is None else return_tensors
        inputs = _pair_form(inputs)
        rows = self.model.forward(inputs, **{**self._options, **kwargs})

        def one(row):
            h = row["last_hidden_state"][np.newaxis]
            return h if tensors else h.tolist()

        return one(rows) if isinstance(rows, dict) else [one(r) for r in rows]


class SentenceSimilarityPipeline:
    """The Hugging Face Inference API's sentence-similarity task:
    ``pipe({"source_sentence": s, "sentences": [a, b]})`` -> cosine similarities ``[float, float]``
    of the model's sentence embeddings (its 1_Pooling mode, else mean)."""

    task = "sentence-similarity"

    def __init__(self, model: Model, **call_options):
        self.model = model
        self._options = call_options

    def __call__(self, inputs: Any, **kwargs):
        if not isinstance(inputs, dict) or not isinstance(inputs.get("source_sentence"), str):
            raise TypeError('sentence-similarity takes {"source_sentence": str, "sentences": [str, ...]}')
        sentences = inputs.get("sentences")
        if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
            raise TypeError('"sentences" must be a list of str')
        e = self.model.embed([inputs["source_sentence"], *sentences], normalize=True, **{**self._options, **kwargs})
        return (e[1:] @ e[0]).astype(float).tolist()


_TASKS = {
    "text-classification": TextClassificationPipeline,
    "sentiment-analysis": TextClassificationPipeline,  # transformers' alias
    "feature-extraction": FeatureExtractionPipeline,
    "sentence-similarity": SentenceSimilarityPipeline,
}


def pipeline(task: str, model: Union[str, os.PathLike, Model, None] = None, **options):
    """A callable for ``task`` on ``model`` (a folder path or an ``encore.Model``).

    Options: precision, threads, calibration, fallback (when ``model`` is a path); for
    text-classification ``top_k`` and ``function_to_apply``; for feature-extraction
    ``return_tensors``; and the call options batch_size, max_length, truncation.
    """
    if task not in _TASKS:
        raise ValueError(f"unknown task {task!r}; encore's pipelines: {', '.join(sorted(_TASKS))}")
    if model is None:
        raise ValueError("pipeline needs model=PATH (a Hugging Face folder or an encore plan)")
    loaded = _load(model, options)
    return _TASKS[task](loaded, **options)
