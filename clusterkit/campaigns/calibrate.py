"""Benign calibration of the flag decision, on the log itself.

A candidate group's score says how campaign-like its evidence is; whether that is *unusual* depends
on the log (how busy, scripted or templated its ordinary users are). So each candidate is compared
with matched random groups of the log's own ordinary accounts (those outside every candidate
group): the same number of accounts, drawn to match the candidates' request volumes, and drawn
from accounts working the same semantic clusters (a seed account, then accounts active in clusters
the seed works), so the null groups look like what chance co-activity puts together — busy people
asking about the same things. Where a pass links its candidates by content (``peers``: an account x
account matrix of link weights), each next account is drawn among the accounts linked to one
already drawn, so the null groups are the ordinary communities of people asking about one niche
that the pass's own linking forms. Their scores, computed with the very same evidence, are the null
distribution.

A candidate's p-value is the share of null groups of its size scoring at least as high (with the
usual +1 correction); Benjamini-Hochberg q-values over the candidates of a pass control the
expected share of false groups among those flagged, and ``p x candidates tested`` is the expected
number of groups that score so high by chance. Flagged: q <= ``DetectParams.fdr``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MIN_POOL", "NULL_GROUPS", "NULL_MAX_SIZE", "Calibration", "bh_qvalues", "calibrate"]

#: matched random groups drawn per candidate size class (the smallest p-value is 1 / (NULL_GROUPS + 1))
NULL_GROUPS = 1_000
#: null groups are drawn with at most this many accounts (a larger candidate is compared with
#: groups of this size: its evidence is shares and medians, which a group this large already shows)
NULL_MAX_SIZE = 200
#: below this many ordinary accounts there is no null to draw from: the fixed threshold is used
MIN_POOL = 30
#: volume classes used to match null accounts to candidate members (quantiles of n_req)
VOLUME_CLASSES = 10


@dataclass(frozen=True)
class Calibration:
    """p-values, q-values and expected chance groups of a pass's candidates (in the order given)."""

    p_values: np.ndarray
    q_values: np.ndarray
    expected_false: np.ndarray
    null_scores: dict[int, np.ndarray]
    pool: int


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (monotone, capped at 1)."""
    p = np.asarray(p, dtype=float)
    if not len(p):
        return p
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


def _size_class(m: int) -> int:
    return int(np.floor(np.log2(max(m, 1))))


class _Sampler:
    """Draws matched random groups from the pool of ordinary accounts."""

    def __init__(
        self,
        cells: pd.DataFrame,
        idx: dict[str, int],
        n_req: np.ndarray,
        pool: np.ndarray,
        seed: int,
        peers: Any = None,
    ):
        self.rng = np.random.default_rng(seed)
        self.peers = peers.tocsr() if peers is not None else None
        self.in_pool = pool
        edges = np.unique(np.quantile(n_req, np.linspace(0, 1, VOLUME_CLASSES + 1)[1:-1]))
        self.volume_class = np.searchsorted(edges, n_req, side="right")
        self.pool = np.flatnonzero(pool)
        by_class: dict[int, np.ndarray] = {}
        for c in np.unique(self.volume_class[self.pool]):
            by_class[int(c)] = self.pool[self.volume_class[self.pool] == c]
        self.by_class = by_class
        acc = cells["account_id"].map(idx).to_numpy()
        keep = pool[acc]
        acc, cluster, n = acc[keep], cells["cluster"].to_numpy()[keep], cells["n"].to_numpy(float)[keep]
        frame = pd.DataFrame({"a": acc, "c": cluster, "n": n}).groupby(["a", "c"], sort=True)["n"].sum().reset_index()
        self.acc_clusters = {
            int(a): (g["c"].to_numpy(), g["n"].to_numpy() / g["n"].sum()) for a, g in frame.groupby("a")
        }
        self.cluster_accounts = {int(c): g["a"].to_numpy() for c, g in frame.groupby("c")}

    def _one(self, volume_class: int, exclude: set[int], near: int | None) -> int | None:
        """A pool account of the given volume class, working a cluster ``near`` works if possible."""
        rng = self.rng
        if near is not None and self.peers is not None:
            # accounts linked to ``near`` the way the pass links its candidates (weighted by link)
            row = slice(self.peers.indptr[near], self.peers.indptr[near + 1])
            linked, weight = self.peers.indices[row], self.peers.data[row]
            keep = self.in_pool[linked]
            linked, weight = linked[keep], weight[keep]
            same = self.volume_class[linked] == volume_class
            for pick, w in ((linked[same], weight[same]), (linked, weight)):
                if len(pick):
                    for _ in range(4):
                        a = int(rng.choice(pick, p=w / w.sum()))
                        if a not in exclude:
                            return a
        if near is not None and near in self.acc_clusters:
            clusters, weights = self.acc_clusters[near]
            for _ in range(4):
                peers = self.cluster_accounts[int(clusters[rng.choice(len(clusters), p=weights)])]
                same = peers[self.volume_class[peers] == volume_class]
                for pick in (same, peers):
                    if len(pick):
                        a = int(pick[rng.integers(len(pick))])
                        if a not in exclude:
                            return a
        pick = self.by_class.get(volume_class)
        if pick is None or not len(pick):
            pick = self.pool
        for _ in range(8):
            a = int(pick[rng.integers(len(pick))])
            if a not in exclude:
                return a
        return None

    def group(self, size: int, member_classes: np.ndarray) -> np.ndarray:
        """``size`` distinct pool accounts whose volume classes follow ``member_classes``."""
        size = min(size, len(self.pool))
        classes = self.rng.choice(member_classes, size=size)
        chosen: list[int] = []
        taken: set[int] = set()
        for c in classes:
            near = chosen[int(self.rng.integers(len(chosen)))] if chosen else None
            a = self._one(int(c), taken, near)
            if a is None:
                continue
            chosen.append(a)
            taken.add(a)
        return np.asarray(chosen, dtype=np.int64)


def calibrate(
    candidates: list[np.ndarray],
    scores: np.ndarray,
    score_of: Callable[[np.ndarray], float],
    *,
    cells: pd.DataFrame,
    idx: dict[str, int],
    n_req: np.ndarray,
    pool: np.ndarray,
    seed: int,
    n_null: int = NULL_GROUPS,
    peers: Any = None,
) -> Calibration | None:
    """Null scores of matched random groups for each candidate size class, and the candidates'
    p-values and q-values. None when the pool of ordinary accounts is too small to draw from."""
    if int(pool.sum()) < MIN_POOL or not candidates:
        return None
    sampler = _Sampler(cells, idx, n_req, pool, seed, peers)
    by_class: dict[int, list[int]] = {}
    for k, members in enumerate(candidates):
        by_class.setdefault(_size_class(len(members)), []).append(k)
    null: dict[int, np.ndarray] = {}
    p = np.ones(len(candidates))
    for size_class, ks in by_class.items():
        sizes = np.array([len(candidates[k]) for k in ks])
        member_classes = np.concatenate([sampler.volume_class[candidates[k]] for k in ks])
        drawn = []
        # the pool must be able to fill the groups: at most half of it per group
        sizes = np.minimum(sizes, max(2, min(NULL_MAX_SIZE, len(sampler.pool) // 2)))
        for size in sampler.rng.choice(sizes, size=n_null):
            group = sampler.group(int(size), member_classes)
            if len(group) == size:  # a group the pool could not fill would score low: not drawn
                drawn.append(score_of(group))
        if not drawn:
            continue  # the pool cannot give groups of this size: the candidates keep p = 1
        null[size_class] = np.sort(np.asarray(drawn))
        for k in ks:
            above = len(null[size_class]) - np.searchsorted(null[size_class], scores[k], side="left")
            p[k] = (1 + above) / (1 + len(null[size_class]))
    return Calibration(
        p_values=p,
        q_values=bh_qvalues(p),
        expected_false=np.minimum(p * len(candidates), len(candidates)),
        null_scores=null,
        pool=int(pool.sum()),
    )
