"""sentence-transformers-shaped wrappers: SentenceTransformer.encode and CrossEncoder.predict."""

from __future__ import annotations

import os
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np

from ._model import Model


def _model(path: Union[str, os.PathLike, Model], options: dict) -> Model:
    return path if isinstance(path, Model) else Model(path, **options)


def _no_torch(convert_to_tensor: bool) -> None:
    if convert_to_tensor:
        raise ValueError("encore returns NumPy arrays; convert_to_tensor=True (torch) is not supported")


class SentenceTransformer:
    """``sentence_transformers.SentenceTransformer`` for inference: ``encode`` returns float32
    ``(N, D)`` (``(D,)`` for one string) with the folder's pooling (1_Pooling) and its
    Normalize module when modules.json lists one."""

    def __init__(self, model_name_or_path: Union[str, os.PathLike, Model], device: Optional[str] = None, **options):
        if device not in (None, "cpu"):
            raise ValueError(f"encore runs on the CPU; device={device!r} is not supported")
        self.model = _model(model_name_or_path, options)

    @property
    def max_seq_length(self) -> int:
        return self.model.max_length

    def get_sentence_embedding_dimension(self) -> int:
        return self.model.hidden_size

    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        output_value: Optional[str] = "sentence_embedding",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        normalize_embeddings: bool = False,
    ):
        """Embeds ``sentences``; ``show_progress_bar`` and ``device`` are accepted for
        compatibility (encore shows no bar and runs on the CPU)."""
        _no_torch(convert_to_tensor)
        del show_progress_bar, device
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("sentences must be a str or a list of str")
        if prompt is not None:
            texts = [prompt + t for t in texts]
        if output_value == "sentence_embedding":
            e = self.model.embed(texts, normalize=True if normalize_embeddings else None, batch_size=batch_size)
            if not convert_to_numpy:
                e = list(e)
            return e[0] if single else e
        if output_value in ("token_embeddings", None):
            rows = self.model.forward(texts, batch_size=batch_size)
            out = [r["last_hidden_state"] for r in rows] if output_value else rows
            return out[0] if single else out
        raise ValueError(f'output_value must be "sentence_embedding", "token_embeddings" or None, got {output_value!r}')

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity matrix of two embedding arrays."""
        a = np.atleast_2d(np.asarray(a, dtype=np.float32))
        b = np.atleast_2d(np.asarray(b, dtype=np.float32))
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return a @ b.T


class CrossEncoder:
    """``sentence_transformers.CrossEncoder`` for inference: ``predict(pairs)`` scores each
    (query, passage) pair; a one-label model (a reranker) gives sigmoid scores ``(N,)`` by
    default, a multi-label one raw logits ``(N, L)`` (softmax with ``apply_softmax=True``)."""

    def __init__(
        self,
        model_name: Union[str, os.PathLike, Model],
        num_labels: Optional[int] = None,
        max_length: Optional[int] = None,
        device: Optional[str] = None,
        **options,
    ):
        if device not in (None, "cpu"):
            raise ValueError(f"encore runs on the CPU; device={device!r} is not supported")
        self.model = _model(model_name, options)
        if not self.model.has_classifier:
            raise ValueError("CrossEncoder needs a model with a classification head")
        if num_labels is not None and num_labels != self.model.num_labels:
            raise ValueError(f"num_labels={num_labels}, but the model has {self.model.num_labels}")
        self.max_length = max_length

    @property
    def num_labels(self) -> int:
        return self.model.num_labels

    def predict(
        self,
        sentences: Union[Sequence[str], Sequence[Sequence[str]]],
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fct: Optional[Callable[[np.ndarray], np.ndarray]] = None,
        apply_softmax: bool = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
    ):
        _no_torch(convert_to_tensor)
        del show_progress_bar
        if isinstance(sentences, str):
            raise TypeError("predict takes (text, text_pair) pairs, not a single str")
        pairs = list(sentences)
        single = len(pairs) > 0 and isinstance(pairs[0], str)
        if single:
            pairs = [pairs]
        rows: List[tuple] = []
        for i, p in enumerate(pairs):
            if isinstance(p, str) or not isinstance(p, (list, tuple)) or len(p) != 2:
                raise TypeError(f"input {i + 1}: expected a (text, text_pair) pair")
            rows.append(tuple(p))
        logits = self.model.logits(rows, batch_size=batch_size, max_length=self.max_length)
        logits = logits.reshape(len(rows), self.model.num_labels)
        if activation_fct is not None:
            scores = np.asarray(activation_fct(logits), dtype=np.float32)
        elif self.model.num_labels == 1:
            scores = 1.0 / (1.0 + np.exp(-logits))
        else:
            scores = logits
        if apply_softmax and scores.ndim == 2 and scores.shape[1] > 1:
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = e / e.sum(axis=1, keepdims=True)
        if self.model.num_labels == 1:
            scores = scores[:, 0]
        scores = scores.astype(np.float32)
        if not convert_to_numpy:
            scores = list(scores)
        return scores[0] if single else scores

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: Optional[int] = None,
        return_documents: bool = False,
        batch_size: int = 32,
    ) -> List[dict]:
        """Documents sorted by score: ``[{"corpus_id", "score"[, "text"]}]``, best first."""
        scores = self.predict([(query, d) for d in documents], batch_size=batch_size)
        if scores.ndim != 1:
            raise ValueError("rank needs a one-label cross-encoder (a reranker)")
        order = np.argsort(-scores, kind="stable")
        out = []
        for i in order[: top_k if top_k is not None else len(order)]:
            row = {"corpus_id": int(i), "score": float(scores[i])}
            if return_documents:
                row["text"] = documents[i]
            out.append(row)
        return out
