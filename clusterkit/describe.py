"""Cluster descriptions: class-based TF-IDF keywords and representative prompts.

Keywords work for any script: Latin/Cyrillic words (lower-cased, English stop words and pure
numbers dropped) and, for Chinese, Japanese and Korean, character bigrams of each CJK run, since
those languages do not separate words with spaces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["class_tfidf_keywords", "representatives", "tokenize"]

_WORD = re.compile(r"[^\W\d_][\w'-]*[^\W_]|[^\W\d_]", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_STOP: frozenset[str] | None = None


def _stop_words() -> frozenset[str]:
    global _STOP
    if _STOP is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        _STOP = frozenset(ENGLISH_STOP_WORDS) | {"please", "give", "use", "using", "want", "like", "just", "need"}
    return _STOP


def tokenize(text: str) -> list[str]:
    """Word tokens for spaced scripts plus character bigrams (or the single char) of CJK runs."""
    stop = _stop_words()
    out = []
    for run in _CJK.findall(text):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    for word in _WORD.findall(_CJK.sub(" ", text).lower()):
        if len(word) > 1 and word not in stop:
            out.append(word)
    return out


def class_tfidf_keywords(texts: Sequence[str], labels: np.ndarray, top_n: int = 8) -> dict[int, list[str]]:
    """Top ``top_n`` c-TF-IDF terms for every label >= 0 (noise, -1, is a class for the IDF only).

    weight(t, c) = tf(t, c) / |c| * log(1 + A / f(t)), with A the mean number of terms per class
    and f(t) the frequency of t over all classes (as in BERTopic)."""
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(texts) == 0 or not (classes >= 0).any():
        return {}
    vec = CountVectorizer(analyzer=tokenize)
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # no tokens at all
        return {int(c): [] for c in classes if c >= 0}
    index = {c: i for i, c in enumerate(classes)}
    member = csr_matrix(
        (np.ones(len(labels)), ([index[c] for c in labels], np.arange(len(labels)))), shape=(len(classes), len(labels))
    )
    per_class = (member @ counts).toarray().astype(np.float64)
    totals = per_class.sum(axis=1, keepdims=True)
    tf = per_class / np.maximum(totals, 1)
    freq = per_class.sum(axis=0)
    avg = totals.mean()
    weights = tf * np.log1p(avg / np.maximum(freq, 1))
    vocab = np.asarray(vec.get_feature_names_out())
    out: dict[int, list[str]] = {}
    for c, i in index.items():
        if c < 0:
            continue
        row = weights[i]
        top = np.argsort(-row, kind="stable")[:top_n]
        out[int(c)] = [str(vocab[j]) for j in top if row[j] > 0]
    return out


def representatives(vectors: np.ndarray, labels: np.ndarray, k: int = 3) -> dict[int, np.ndarray]:
    """Row indices of the ``k`` members closest (cosine) to each cluster's centroid."""
    out: dict[int, np.ndarray] = {}
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        centroid = unit[members].mean(axis=0)
        sims = unit[members] @ centroid
        out[int(c)] = members[np.argsort(-sims, kind="stable")[:k]]
    return out
