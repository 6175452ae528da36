"""Shared phrasing: accounts that wrap their prompts in the same mined templates (a fixed head or
tail around varying content, :mod:`..signals`), however far apart in time or meaning they send them.

A reseller network's accounts each send a slice of one harvest behind one wrapper ("... Please give
your best, most complete answer."); their timing, infrastructure and cover traffic are each
account's own, but the wrapper is the operator's. Templates are mined from the log itself, in any
language, so no phrase of ours is looked for."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .graph import pair_cosine, profiles, spans

__all__ = ["PHRASING_MIN_USES", "STRANGER_P", "SharedTemplates"]

#: two accounts are linked when at least this many of their prompts are in templates both use
#: (counting, per template, the fewer of their two uses): one prompt each in a popular wrapper is
#: what anyone might send once
PHRASING_MIN_USES = 2


#: a member is a stranger to its group's phrasing when sending none of its prompts in the group's
#: shared templates would happen by chance less often than this, at the share of the group's
#: prompts so wrapped
STRANGER_P = 0.01


class SharedTemplates:
    """Which mined templates each account uses (how many distinct prompts in each), the account
    pairs they link and how much of a group's traffic is phrasing its members share."""

    def __init__(
        self, prompts: pd.DataFrame, idx: dict[str, int], app_likeness: Mapping[str, float] | None = None
    ) -> None:
        from scipy.sparse import csr_matrix

        n = len(idx)
        self.n_rows = np.bincount(prompts["account_id"].map(idx).to_numpy(), minlength=n).astype(float)
        used = (
            prompts.dropna(subset=["template"]).groupby(["account_id", "template"], as_index=False).size()
            if "template" in prompts
            else pd.DataFrame(columns=["account_id", "template", "size"])
        )
        codes, names = pd.factorize(used["template"])
        #: per template: how much its fixed part reads as a transformation of the user's own text
        #: (an application's one task is its users' phrasing, not an operator's)
        self.app = np.zeros(max(len(names), 1))
        self.app[: len(names)] = np.nan_to_num(pd.Series(names).map(app_likeness or {}).to_numpy(float), nan=0.0)
        rows = used["account_id"].map(idx).to_numpy(np.int64)
        self.uses = csr_matrix((used["size"].to_numpy(float), (rows, codes)), shape=(n, max(len(names), 1)))
        self.uses.sort_indices()
        #: all uses of each template in the log (by accounts that use it)
        self.total = np.asarray(self.uses.sum(axis=0)).ravel()
        self.profile = (
            profiles(used["template"], used["account_id"], np.sqrt(used["size"].to_numpy(float)), idx)
            if len(used)
            else csr_matrix((n, 1))
        )

    def links(self, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs (a < b, both in ``among`` when given) with at least ``PHRASING_MIN_USES`` prompts
        in templates both use, and their strength: the cosine of their (idf-weighted) template use,
        1 for two accounts in the same one wrapper only."""
        from scipy.sparse import diags

        keep = np.ones(self.uses.shape[0]) if among is None else np.asarray(among, dtype=float)
        uses = (diags(keep) @ self.uses).tocsr()
        # sum over templates of min(uses_a, uses_b, PHRASING_MIN_USES): one indicator per level
        common = None
        for level in range(1, PHRASING_MIN_USES + 1):
            at = (uses >= level).astype(float)
            common = at @ at.T if common is None else common + at @ at.T
        common = common.tocoo()
        pick = (common.row < common.col) & (common.data >= PHRASING_MIN_USES)
        rows, cols = common.row[pick].astype(np.int64), common.col[pick].astype(np.int64)
        return rows, cols, np.clip(pair_cosine(self.profile, rows, cols), 0, 1)

    def wrapped(self, members: np.ndarray) -> np.ndarray:
        """Per member: how many of its prompts are in templates at least two members use."""
        members = np.asarray(members, dtype=np.int64)
        out = np.zeros(len(members))
        if len(members) < 2:
            return out
        pos = spans(self.uses.indptr[members], self.uses.indptr[members + 1])
        if not len(pos):
            return out
        template = self.uses.indices[pos]
        member = np.repeat(np.arange(len(members)), np.diff(self.uses.indptr)[members])
        users = np.bincount(template, minlength=self.uses.shape[1])
        shared = users[template] >= 2
        return np.bincount(member[shared], weights=self.uses.data[pos][shared], minlength=len(members))

    def strangers(self, members: np.ndarray) -> np.ndarray:
        """The members outside the group's phrasing: where most members wrap prompts in templates
        they share (an operator's script), those that send none of them although, at the share of
        the group's prompts so wrapped, so many unwrapped prompts would be improbable
        (``STRANGER_P``: a swarm account's three prompts missing a wrapper half the sweep wears is
        chance; an account's fifteen missing one all the others wear is not). None where the
        group's members mostly share no phrasing."""
        wrapped = self.wrapped(members)
        if (wrapped > 0).sum() * 2 <= len(wrapped):
            return np.zeros(len(wrapped), dtype=bool)
        rows = self.n_rows[np.asarray(members, dtype=np.int64)]
        share = min(float(wrapped.sum() / max(rows.sum(), 1.0)), 1.0)
        return (wrapped == 0) & ((1.0 - share) ** rows < STRANGER_P)

    def shared(self, members: np.ndarray) -> float:
        """0..1: the share of the members' prompts sent in templates at least two members use, each
        weighted by how much of that template's use is the members' own (a wrapper popular across
        the log says little about this group) and by how little it reads as an application's task."""
        members = np.asarray(members, dtype=np.int64)
        if len(members) < 2:
            return 0.0
        # the members' rows of the CSR layout, without scipy's per-call overhead (thousands of null
        # groups are scored per pass)
        pos = spans(self.uses.indptr[members], self.uses.indptr[members + 1])
        if not len(pos):
            return 0.0
        template = self.uses.indices[pos]
        by_template = np.bincount(template, weights=self.uses.data[pos], minlength=self.uses.shape[1])
        users = np.bincount(template, minlength=self.uses.shape[1])
        own = np.where(users >= 2, by_template / np.maximum(self.total, 1), 0.0) * (1 - self.app)
        return float((by_template * own).sum() / max(self.n_rows[members].sum(), 1.0))
