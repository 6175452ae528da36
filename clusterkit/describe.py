"""Cluster descriptions: class-based TF-IDF keywords and representative prompts.

Keywords work in any language: words of spaced scripts and segmented words of Chinese and
Japanese, each language's stop words dropped (:mod:`clusterkit.words`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice

import numpy as np

from .errors import StoreError
from .words import words

__all__ = ["class_tfidf_keywords", "representatives", "tokenize"]


def tokenize(text: str) -> list[str]:
    """Keyword candidates of ``text`` in any language: :func:`clusterkit.words.words`."""
    return words(text)


def class_tfidf_keywords(
    texts: Iterable[str],
    labels: np.ndarray,
    top_n: int = 8,
    *,
    chunk: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, list[str]]:
    """Top ``top_n`` c-TF-IDF terms for every label >= 0 (noise, -1, is a class for the IDF only).

    weight(t, c) = tf(t, c) / |c| * log(1 + A / f(t)), with A the mean number of terms per class
    and f(t) the frequency of t over all classes (as in BERTopic). ``texts`` (in the order of
    ``labels``) are read ``chunk`` at a time and only per-class term counts are kept, sparse: a
    million prompts never sit in memory as a document-term matrix, nor classes x terms densely.
    Ties rank alphabetically. ``progress(done, total)`` after each chunk."""
    from scipy.sparse import csr_matrix

    labels = np.asarray(labels)
    classes, codes = np.unique(labels, return_inverse=True)
    if len(labels) == 0 or not (classes >= 0).any():
        return {}
    vocab: dict[str, int] = {}
    per_class = csr_matrix((len(classes), 0))
    it = iter(texts)
    for start in range(0, len(labels), chunk):
        want = min(chunk, len(labels) - start)
        part = list(islice(it, want))
        if len(part) != want:
            raise StoreError(
                f"{start + len(part)} prompt texts read for {len(labels)} labelled prompts: the store changed during the run"
            )
        rows, cols = [], []
        for code, text in zip(codes[start : start + chunk], part):
            terms = [vocab.setdefault(t, len(vocab)) for t in tokenize(text)]
            cols.extend(terms)
            rows.extend([code] * len(terms))
        per_class.resize((len(classes), len(vocab)))
        per_class = per_class + csr_matrix(
            (np.ones(len(cols)), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(len(classes), len(vocab)),
        )
        if progress:
            progress(start + len(part), len(labels))
    if next(it, None) is not None:
        raise StoreError(f"more prompt texts than the {len(labels)} labelled prompts: the store changed during the run")
    if not vocab:  # no tokens at all
        return {int(c): [] for c in classes if c >= 0}
    totals = np.asarray(per_class.sum(axis=1)).ravel()
    freq = np.asarray(per_class.sum(axis=0)).ravel()
    idf = np.log1p(totals.mean() / np.maximum(freq, 1))
    weights = csr_matrix(per_class.multiply(1 / np.maximum(totals, 1)[:, None]).multiply(idf[None, :]))
    terms = np.array(list(vocab), dtype=object)
    alphabetical = np.empty(len(terms), dtype=np.int64)
    alphabetical[np.argsort(terms.astype(str), kind="stable")] = np.arange(len(terms))
    out: dict[int, list[str]] = {}
    for i, c in enumerate(classes):
        if c < 0:
            continue
        lo, hi = weights.indptr[i], weights.indptr[i + 1]
        cols, vals = weights.indices[lo:hi], weights.data[lo:hi]
        keep = vals > 0
        cols, vals = cols[keep], vals[keep]
        top = np.lexsort((alphabetical[cols], -vals))[:top_n]
        out[int(c)] = [str(terms[j]) for j in cols[top]]
    return out


def representatives(vectors: np.ndarray, labels: np.ndarray, k: int = 3) -> dict[int, np.ndarray]:
    """Row indices of the ``k`` members closest (cosine) to each cluster's centroid."""
    out: dict[int, np.ndarray] = {}
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    classes = np.unique(labels)
    bounds = np.searchsorted(labels[order], classes)
    for c, members in zip(classes, np.split(order, bounds[1:])):
        if c < 0:
            continue
        unit = vectors[members] / np.maximum(np.linalg.norm(vectors[members], axis=1, keepdims=True), 1e-12)
        sims = unit @ unit.mean(axis=0)
        out[int(c)] = members[np.argsort(-sims, kind="stable")[:k]]
    return out
