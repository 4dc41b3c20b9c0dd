# Type stubs for encore's native module (python/src/module.cpp).
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Text = Union[str, Tuple[str, Optional[str]], Dict[str, Optional[str]]]
Texts = Union[Text, Sequence[Union[Text, List[str]]]]
LabelScore = Dict[str, Any]  # {"label": str, "score": float}

class Error(ValueError):
    """An error from encore (bad model folder, unsupported input, ...), with its message."""

class InputError(Error):
    """An error in a user-supplied input (invalid text, too long without truncation, ...)."""

class Encoding:
    """One tokenized input, in Hugging Face tokenizers' layout."""
    @property
    def ids(self) -> List[int]: ...
    @property
    def type_ids(self) -> List[int]: ...
    @property
    def tokens(self) -> List[str]: ...
    @property
    def offsets(self) -> List[Tuple[int, int]]: ...
    @property
    def special_tokens_mask(self) -> List[int]: ...
    @property
    def attention_mask(self) -> List[int]: ...
    @property
    def sequence_ids(self) -> List[Optional[int]]: ...
    @property
    def truncated(self) -> bool: ...
    def __len__(self) -> int: ...

class Model:
    def __init__(
        self,
        path: Union[str, os.PathLike],
        precision: Optional[str] = None,
        threads: Optional[int] = None,
        calibration: Optional[Sequence[Text]] = None,
        calibration_source: str = "",
        calibration_method: str = "percentile",
        percentile: float = 99.99,
        fallback: Optional[str] = None,
        fallback_min_cosine: float = 0.995,
        smooth_outliers: bool = True,
    ) -> None: ...
    @property
    def labels(self) -> List[str]: ...
    @property
    def num_labels(self) -> int: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def precision(self) -> str: ...
    @property
    def layer_precisions(self) -> List[str]: ...
    @property
    def max_length(self) -> int: ...
    @property
    def notices(self) -> List[str]: ...
    @property
    def architecture(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def parameter_count(self) -> int: ...
    @property
    def problem_type(self) -> str: ...
    @property
    def default_pooling(self) -> Optional[str]: ...
    @property
    def default_normalize(self) -> bool: ...
    @property
    def has_pooler(self) -> bool: ...
    @property
    def has_classifier(self) -> bool: ...
    @property
    def is_plan(self) -> bool: ...
    def classify(
        self,
        texts: Texts,
        *,
        top_k: Optional[int] = 1,
        function_to_apply: Optional[str] = None,
        batch_size: int = 32,
        max_length: Optional[int] = None,
        truncation: bool = True,
        max_batch_tokens: int = 8192,
    ) -> Union[List[LabelScore], List[List[LabelScore]]]: ...
    def logits(
        self,
        texts: Texts,
        *,
        batch_size: int = 32,
        max_length: Optional[int] = None,
        truncation: bool = True,
        max_batch_tokens: int = 8192,
    ) -> npt.NDArray[np.float32]: ...
    def embed(
        self,
        texts: Texts,
        *,
        pooling: Optional[str] = None,
        normalize: Optional[bool] = None,
        batch_size: int = 32,
        max_length: Optional[int] = None,
        truncation: bool = True,
        max_batch_tokens: int = 8192,
    ) -> npt.NDArray[np.float32]: ...
    def forward(
        self,
        texts: Texts,
        *,
        batch_size: int = 32,
        max_length: Optional[int] = None,
        truncation: bool = True,
        max_batch_tokens: int = 8192,
    ) -> Union[Dict[str, Any], List[Dict[str, Any]]]: ...
    def tokenize(
        self,
        text: str,
        pair: Optional[str] = None,
        *,
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: Optional[int] = None,
    ) -> Encoding: ...
    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = True) -> str: ...
    def save(self, path: Union[str, os.PathLike]) -> int: ...
    def _time_classify(self, text: str, reps: int) -> float: ...
