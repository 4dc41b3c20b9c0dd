"""encore: a native inference engine for Transformer encoders.

Load a Hugging Face model folder (or an ``encore build`` plan) once, then classify, embed or
run raw forward passes; tokenization and compute run in C++ with the GIL released.

    >>> import encore
    >>> model = encore.Model("models/demo", precision="int8")
    >>> model.classify("book a flight to paris")
    [{'label': 'book_flight', 'score': 0.91...}]

Shapes people already use:

- ``encore.pipeline("text-classification" | "feature-extraction" | "sentence-similarity", model=PATH)``
  behaves like ``transformers.pipeline`` for those tasks;
- ``encore.SentenceTransformer(PATH).encode(...)`` and ``encore.CrossEncoder(PATH).predict(pairs)``
  follow sentence-transformers.
"""

from ._encore import Encoding, Error, InputError, __version__

for _t in (Encoding, Error, InputError):
    _t.__module__ = "encore"  # shown as encore.Error, not encore._encore.Error
del _t
from ._model import Model
from ._pipelines import pipeline
from ._sentence_transformers import CrossEncoder, SentenceTransformer

__all__ = [
    "CrossEncoder",
    "Encoding",
    "Error",
    "InputError",
    "Model",
    "SentenceTransformer",
    "__version__",
    "pipeline",
]
