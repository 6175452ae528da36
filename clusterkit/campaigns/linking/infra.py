"""Shared rare infrastructure (IP prefixes, clients, organisation, system prompt, request shape) and
its weight in an account pair's edge."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .graph import pair_cosine, profiles, spans

__all__ = [
    "COACT_WEIGHT",
    "INFRA_WEIGHT",
    "ROTATED_KINDS",
    "InfraIndex",
]


# an account pair's edge weight: co-activity and shared rare infrastructure
COACT_WEIGHT, INFRA_WEIGHT = 0.7, 0.3

# (kind, strength of a shared value, largest share of accounts for a value to count as rare)
_INFRA = (
    ("ip_prefix", 0.6, 0.05),
    ("user_agent", 0.4, 0.10),
    ("org_id", 0.8, 0.05),
    ("system_hash", 0.6, 0.20),
    ("request_shape", 0.3, 0.05),
)


#: the kinds a proxy network can rotate request by request (a person keeps an address and a client
#: for a session; organisations, system prompts and request shapes are not rotated for cover)
ROTATED_KINDS = ("ip_prefix", "user_agent")


class InfraIndex:
    """Each account's use of *rare* infrastructure values per kind (IP prefixes, clients,
    organisation, system prompt), built once; values many accounts share (a popular browser) do
    not count."""

    def __init__(self, infra: pd.DataFrame, idx: dict[str, int]) -> None:
        self.kinds: list[tuple[str, float, Any]] = []
        #: per rotated kind: each account's later requests (all but its first with the kind) and how
        #: many of them brought a value it had not used before
        self.rotation: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for kind in ROTATED_KINDS:
            used = infra[infra["kind"] == kind]
            if used.empty:
                continue
            a = used["account_id"].map(idx).to_numpy()
            later = np.maximum(np.bincount(a, weights=used["n"].to_numpy(float), minlength=len(idx)) - 1, 0)
            new = np.maximum(np.bincount(a, minlength=len(idx)).astype(float) - 1, 0)
            self.rotation[kind] = (later, new)
        for kind, strength, rare in _INFRA:
            used = infra[infra["kind"] == kind]
            if used.empty:
                continue
            peers = used.groupby("value")["account_id"].transform("nunique")
            used = used[peers <= max(10, rare * len(idx))]
            if used.empty:
                continue
            m = profiles(used["value"], used["account_id"], np.sqrt(used["n"].to_numpy(float)), idx)
            self.kinds.append((kind, strength, m))

    def mean_match_within(self, members: np.ndarray, without: str | None = None) -> tuple[float, float]:
        """Mean :meth:`match` over every pair of ``members`` (one small Gram matrix per kind), and
        the same leaving out the kind ``without`` - both from one pass over the kinds."""
        m = len(members)
        if m < 2 or not self.kinds:
            return 0.0, 0.0
        miss, miss_without = np.ones((m, m)), np.ones((m, m))
        for kind, strength, profile in self.kinds:
            # the members' rows as a small dense matrix over the values they use (numpy only:
            # scipy's per-call overhead dominated thousands of calls for the null groups)
            starts, ends = profile.indptr[members], profile.indptr[members + 1]
            lengths = ends - starts
            if lengths.sum() == 0:
                continue
            pos = spans(starts, ends)
            owner = np.repeat(np.arange(m), lengths)
            values, column = np.unique(profile.indices[pos], return_inverse=True)
            dense = np.zeros((m, len(values)))
            np.add.at(dense, (owner, column), profile.data[pos])
            kept = 1 - strength * np.clip(dense @ dense.T, 0, 1)
            miss *= kept
            if kind != without:
                miss_without *= kept
        i, j = np.triu_indices(m, 1)
        return float((1 - miss[i, j]).mean()), float((1 - miss_without[i, j]).mean())

    def unrotated(self, members: np.ndarray, improbable: float) -> np.ndarray:
        """The members that keep their address and client where the group rotates them: for each
        kind where more than half the members with later requests bring a new value in most of them
        (a proxy network's accounts, request by request), those whose few new values would happen
        less often than ``improbable`` at the group's own rate (binomial, the rate smoothed by one
        of each) - in every such kind: people who arrived with a swarm and sent a few questions from
        one address and one browser (a member that drew one client three times by chance still
        rotates its addresses). None where the group rotates nothing."""
        from scipy.stats import binom

        members = np.asarray(members, dtype=np.int64)
        out, rotated = np.ones(len(members), dtype=bool), False
        for later, new in self.rotation.values():
            lat, nw = later[members], new[members]
            timed = lat > 0
            if (timed & (nw * 2 > lat)).sum() * 2 <= timed.sum():
                continue
            rate = (nw[timed].sum() + 1) / (lat[timed].sum() + 2)
            out &= timed & (binom.cdf(nw, lat, rate) < improbable)
            rotated = True
        return out if rotated else np.zeros(len(members), dtype=bool)

    def match(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """0..1 per pair: 1 - prod(1 - strength x overlap) over kinds, where overlap is the cosine
        of the two accounts' use of rare values of that kind."""
        miss = np.ones(len(rows))
        for _, strength, m in self.kinds:
            miss *= 1 - strength * np.clip(pair_cosine(m, rows, cols), 0, 1)
        return 1 - miss
