"""Flagged groups that are one operation: the passes split some campaigns (a swarm's arrivals
into the 6-hour windows its communities fall in, a relay into the hand-over pass 1 links and the
slices pass 3 links), but the pieces are as linked to one another, by one kind of link, as each is
within itself.

A group's cohesion by a kind of link is the mean link over its member pairs; two groups' link is
the mean over the pairs across them. A chance split of one group gives a cross link about equal to
its pieces' own; two campaigns that merely share a common client or answer each other's region now
and then are linked across far more weakly than within."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .graph import components
from .infra import InfraIndex

__all__ = ["OPERATION_LINK", "OPERATION_PAIRS", "SAME_OPERATION", "operations"]


#: two flagged groups are one operation when, by one kind of link, the mean link across them is at
#: least this share of the more cohesive group's own (a chance split keeps about all of it) ...
SAME_OPERATION = 0.8
#: ... and that mean cross link is strong in itself (0..1: scripted campaigns sharing a common
#: client or request shape are all weakly linked by it)
OPERATION_LINK = 0.5
#: account pairs measured across two groups at most (a random sample of them beyond)
OPERATION_PAIRS = 20_000


def _same(cross: float, within_a: float, within_b: float) -> bool:
    """Whether a mean cross link makes two groups one operation (see ``SAME_OPERATION``)."""
    return bool(cross >= OPERATION_LINK and cross >= SAME_OPERATION * max(within_a, within_b))


def _infra_between(infra: InfraIndex, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> float:
    if len(a) * len(b) <= OPERATION_PAIRS:
        rows, cols = np.repeat(a, len(b)), np.tile(b, len(a))
    else:
        rows, cols = rng.choice(a, OPERATION_PAIRS), rng.choice(b, OPERATION_PAIRS)
    return float(infra.match(rows, cols).mean())


def operations(
    groups: Sequence[np.ndarray],
    n_accounts: int,
    infra: InfraIndex,
    links: Sequence[tuple[str, object]],
    seed: int = 0,
) -> tuple[np.ndarray, list[str | None]]:
    """One label per group (groups sharing a label are one operation) and, per group, the kind of
    link that joined it to another (None: joined to none). ``groups``: indices of the log's
    ``n_accounts`` accounts;
    ``infra``: shared rare infrastructure, measured over pairs (:meth:`InfraIndex.match`);
    ``links``: (name, symmetric sparse account x account matrix of link strengths 0..1) per kind
    (content, phrasing). Joins are transitive (connected components of the joined pairs)."""
    from scipy.sparse import csr_matrix

    k = len(groups)
    joined: list[str | None] = [None] * k
    if k < 2:
        return np.arange(k), joined

    rng = np.random.default_rng(seed)
    sizes = np.array([len(g) for g in groups], dtype=float)
    pairs = np.maximum(sizes * (sizes - 1), 1.0)
    one_hot = csr_matrix(
        (np.ones(int(sizes.sum())), (np.repeat(np.arange(k), sizes.astype(int)), np.concatenate(groups))),
        shape=(k, n_accounts),
    )
    kinds: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name, matrix in links:
        m = csr_matrix(matrix)
        total = (one_hot @ m @ one_hot.T).toarray()
        within = np.diag(total) / pairs
        kinds.append((name, total / np.maximum(np.outer(sizes, sizes), 1.0), within))
    # infrastructure: only groups that share a rare value at all are measured pair by pair
    share = np.zeros((k, k), dtype=bool)
    for _, _, profile in infra.kinds:
        used = one_hot @ profile
        share |= (used @ used.T).toarray() > 0
    infra_within = np.array([infra.mean_match_within(np.asarray(g))[0] for g in groups]) if infra.kinds else None
    pairs_joined: list[tuple[int, int]] = []
    for i in range(k):
        for j in range(i + 1, k):
            how = next((name for name, between, within in kinds if _same(between[i, j], within[i], within[j])), None)
            if how is None and infra_within is not None and share[i, j]:
                cross = _infra_between(infra, groups[i], groups[j], rng)
                how = "shared infrastructure" if _same(cross, infra_within[i], infra_within[j]) else None
            if how is not None:
                joined[i] = joined[i] or how
                joined[j] = joined[j] or how
                pairs_joined.append((i, j))
    ends = np.array(pairs_joined, dtype=np.int64).reshape(-1, 2)
    labels = components(k, ends[:, 0], ends[:, 1])
    # (a group joined to none is an operation of its own)
    return np.where(labels >= 0, labels, k + np.arange(k)), joined
