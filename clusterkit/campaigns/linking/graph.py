"""Generic helpers of the account graph: account positions, idf-weighted profiles and the cosine of
pairs of them, spans of sparse rows, and the communities, cores and components of a graph's edges."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "LINKED_SHARE",
    "communities",
    "components",
    "cores",
    "epoch_seconds",
    "index",
    "pair_cosine",
    "peel",
    "profiles",
    "spans",
]


def index(signals: pd.DataFrame) -> dict[str, int]:
    return {a: i for i, a in enumerate(signals["account_id"])}


def profiles(keys: pd.Series, accounts: pd.Series, weights: np.ndarray, idx: dict[str, int]) -> Any:
    """Row-normalised account x key matrix (idf-weighted: keys few accounts share weigh more)."""
    from scipy.sparse import csr_matrix, diags

    codes, uniq = pd.factorize(keys)
    m = csr_matrix((weights, (accounts.map(idx).to_numpy(), codes)), shape=(len(idx), len(uniq)))
    per_key = np.asarray((m > 0).sum(axis=0)).ravel()
    m = (m @ diags(np.log1p(len(idx) / np.maximum(per_key, 1)))).tocsr()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return (diags(1 / np.maximum(norms, 1e-12)) @ m).tocsr()


def pair_cosine(m: Any, rows: np.ndarray, cols: np.ndarray, chunk: int = 500_000) -> np.ndarray:
    """Cosine of rows of a row-normalised sparse matrix, for the given pairs only."""
    out = np.empty(len(rows))
    for i in range(0, len(rows), chunk):
        r, c = rows[i : i + chunk], cols[i : i + chunk]
        out[i : i + chunk] = np.asarray(m[r].multiply(m[c]).sum(axis=1)).ravel()
    return out


def spans(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The positions ``starts[i]..ends[i]-1`` of every span, concatenated in order (the entries of
    chosen rows of a CSR matrix), without a Python loop over the spans."""
    lengths = np.asarray(ends, dtype=np.int64) - np.asarray(starts, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64) - np.cumsum(lengths) + lengths, lengths) + np.arange(total)


def epoch_seconds(times: pd.Series) -> np.ndarray:
    """Timestamps as float seconds since the epoch."""
    return times.to_numpy("datetime64[s]").astype(np.int64).astype(float)


def communities(n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, seed: int) -> np.ndarray:
    """Louvain communities of the thresholded account graph; -1 for accounts with no edge."""
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(zip(rows.tolist(), cols.tolist(), weights.tolist()))
    labels = np.full(n, -1, dtype=np.int64)
    if g.number_of_edges() == 0:
        return labels
    parts = nx.community.louvain_communities(g, weight="weight", seed=seed)
    for k, members in enumerate(sorted(parts, key=lambda m: (-len(m), min(m)))):
        labels[list(members)] = k
    return labels


#: a group member's links to its group (summed) are at least this share of its median member's
LINKED_SHARE = 0.5


def peel(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, min_size: int) -> np.ndarray:
    """Each group of ``labels`` without its loosely attached members: a member whose links to its
    group (edges ``rows``, ``cols`` of ``weights``, summed) are under ``LINKED_SHARE`` of its median
    member's is peeled off (-1), repeatedly, and groups left under ``min_size`` dissolve."""
    labels = labels.copy()
    n = len(labels)
    while True:
        inside = (labels[rows] >= 0) & (labels[rows] == labels[cols])
        strength = np.bincount(rows[inside], weights[inside], n) + np.bincount(cols[inside], weights[inside], n)
        grouped = labels >= 0
        typical = pd.Series(strength[grouped]).groupby(labels[grouped]).median()
        bar = np.zeros(n)
        bar[grouped] = LINKED_SHARE * typical.reindex(labels[grouped]).to_numpy()
        sizes = np.bincount(labels[grouped], minlength=1)
        drop = grouped & ((strength < bar) | (sizes[np.maximum(labels, 0)] < min_size))
        if not drop.any():
            return labels
        labels[drop] = -1


def cores(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray, k: int) -> np.ndarray:
    """Each group of ``labels`` cut to its ``k``-core: members linked (by the edges ``rows``,
    ``cols``) to fewer than ``k`` others of their group are peeled off, repeatedly (-1)."""
    import networkx as nx

    out = np.full(len(labels), -1, dtype=np.int64)
    inside = (labels[rows] >= 0) & (labels[rows] == labels[cols])
    g = nx.Graph()
    g.add_edges_from(zip(rows[inside].tolist(), cols[inside].tolist()))
    core = nx.k_core(g, k) if g.number_of_edges() else g
    members = np.fromiter(core.nodes, dtype=np.int64, count=core.number_of_nodes())
    out[members] = labels[members]
    return out


def components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Connected components of a graph's edges; -1 for nodes without an edge."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _, comp = connected_components(coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)), directed=False)
    linked = np.zeros(n, dtype=bool)
    linked[rows] = linked[cols] = True
    return np.where(linked, comp, -1)
