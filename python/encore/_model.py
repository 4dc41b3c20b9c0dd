"""encore.Model: the native model, with calibration texts also read from a JSON-lines file."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Optional, Union

from . import _encore


def read_jsonl(path: Union[str, os.PathLike], text_field: str = "text", pair_field: str = "text_pair"):
    """Rows {"text": ..., "text_pair"?: ...} of a JSON-lines file as (text, pair) tuples."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise _encore.InputError(f"{path}:{number}: not JSON: {e}") from None
            if not isinstance(row, dict) or not isinstance(row.get(text_field), str):
                raise _encore.InputError(f'{path}:{number}: no string field "{text_field}"')
            pair = row.get(pair_field)
            if pair is not None and not isinstance(pair, str):
                raise _encore.InputError(f'{path}:{number}: "{pair_field}" is not a string')
            rows.append((row[text_field], pair))
    return rows


class Model(_encore.Model):
    """A loaded encoder: any Hugging Face folder or ``encore build`` plan encore reads.

    Args:
        path: the model folder (config.json, model.safetensors or pytorch_model.bin,
            tokenizer files) or a plan folder.
        precision: "fp32", "bf16", "int8" (dynamic), "int8-static" (needs calibration); None:
            FP32 for a Hugging Face folder, the built precision for a plan.
        threads: compute threads; None uses the CPUs this process may use.
        calibration: texts that stand for the traffic (a list of str / pairs, or the path of a
            JSON-lines file with "text" and optional "text_pair"), for "int8-static" and
            fallback="auto".
        fallback: "auto" keeps in BF16 each INT8 layer that drifts from FP32 on the
            calibration texts; None or "none" keeps every layer INT8.

    One Model may be shared by several Python threads; calls release the GIL.
    Errors raise ``encore.Error`` (a ``ValueError``) with encore's message.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        precision: Optional[str] = None,
        threads: Optional[int] = None,
        calibration: Union[None, str, os.PathLike, Iterable[Any]] = None,
        fallback: Optional[str] = None,
        *,
        calibration_method: str = "percentile",
        percentile: float = 99.99,
        fallback_min_cosine: float = 0.995,
        smooth_outliers: bool = True,
    ) -> None:
        source = ""
        if isinstance(calibration, (str, os.PathLike)):
            source = os.path.basename(os.fspath(calibration))
            calibration = read_jsonl(calibration)
        elif calibration is not None and not isinstance(calibration, list):
            calibration = list(calibration)
        self._path = os.fspath(path)
        super().__init__(
            self._path,
            precision,
            threads,
            calibration,
            calibration_source=source,
            calibration_method=calibration_method,
            percentile=percentile,
            fallback=fallback,
            fallback_min_cosine=fallback_min_cosine,
            smooth_outliers=smooth_outliers,
        )

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return (
            f"encore.Model({self._path!r}, architecture={self.architecture!r}, precision={self.precision!r}, "
            f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, labels={self.num_labels})"
        )
