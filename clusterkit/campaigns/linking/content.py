"""Pass 3's content links: accounts linked by what they send, whenever they send it (the nearest
neighbours of one account's prompts are another's), and the groups' cohesion."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .graph import spans

__all__ = [
    "CONTENT_ALPHA",
    "CONTENT_CORE",
    "ContentLinks",
]


#: content links: expected number of false links in the whole log (over every account pair) under
#: the null that nearest neighbours fall on prompts at random (a Bonferroni bound on the pairs)
CONTENT_ALPHA = 0.05
#: a content group's members are each content-linked to at least this many other members (an
#: ordinary account asking about the sweep's region links to one or two of them, not to more)
CONTENT_CORE = 3


class ContentLinks:
    """Accounts linked by what they send, whenever they send it: how often the nearest neighbours
    (in the map's reduced space) of one account's prompts are another account's prompts.

    Each prompt has ``k`` neighbour slots (those in its own near-duplicate family do not count); a slot that falls on a prompt several accounts sent is
    shared among them. Under the null that slots fall on the log's prompts at random, the hits of
    accounts a and b on each other are Poisson with mean ``(slots_a mass_b + slots_b mass_a) / N``
    (``mass``: an account's share of the prompts it sent). A pair whose hits are so many that
    fewer than ``CONTENT_ALPHA`` such pairs are expected in the whole log is linked: slices of one
    semantic sweep sent by accounts never active together (relays), or mixed into ordinary
    traffic (resellers). People who ask about the same niche link as well - which groups then
    count as campaigns is the evidence's and the calibration's decision, not the link's.

    The neighbour slots are kept for the groups' cohesion (:meth:`own_regions`): how much of the
    neighbourhoods where members meet is their own."""

    def __init__(self, prompts: pd.DataFrame, neighbours: tuple[np.ndarray, np.ndarray], idx: dict[str, int]):
        from scipy.sparse import csr_matrix, diags

        hashes, ind = neighbours
        n = len(idx)
        self.n_prompts, k = ind.shape if ind.ndim == 2 else (len(hashes), 0)
        pos = pd.Index(hashes).get_indexer(prompts["prompt_hash"])
        known = pos >= 0
        acc = prompts["account_id"].map(idx).to_numpy()[known]
        pos = pos[known]
        sent = csr_matrix((np.ones(len(pos)), (acc, pos)), shape=(n, self.n_prompts))
        owners = np.asarray(sent.sum(axis=0)).ravel()
        share = 1 / np.maximum(owners, 1)
        self.slots = np.asarray(sent.sum(axis=1)).ravel() * k
        self.mass = sent @ share
        self.k = k
        self.knn = None
        if k == 0 or not len(pos):
            self.hits = csr_matrix((n, n))
            return
        src, dst = np.repeat(np.arange(self.n_prompts), k), ind.ravel()
        if "family" in prompts:
            # a neighbour in the prompt's own near-duplicate family is the same question asked
            # again (a classroom, a popular prompt), not the next item of a sweep
            family = np.full(self.n_prompts, -1, dtype=np.int64)
            family[pos] = prompts["family"].fillna(-1).to_numpy(np.int64)[known]
            other = (family[src] < 0) | (family[src] != family[dst])
            src, dst = src[other], dst[other]
        knn = csr_matrix((np.ones(len(src)), (src, dst)), shape=(self.n_prompts, self.n_prompts))
        knn.sort_indices()
        self.knn, self.sent, self.share = knn, sent.tocsr(), share
        self.sent.sort_indices()
        # how the map's neighbours cross scripts: under an English-only model a language's prompts
        # are one another's neighbours whatever they ask; under a multilingual one they are not
        script = np.full(self.n_prompts, -1, dtype=np.int64)
        if "language" in prompts:
            codes, _ = pd.factorize(prompts["language"].fillna("").to_numpy()[known])
            script[pos] = codes
        self.script = script + 1
        n_scripts = int(self.script.max()) + 1
        flow = np.bincount(self.script[src] * n_scripts + self.script[dst], minlength=n_scripts**2)
        flow = flow.reshape(n_scripts, n_scripts).astype(float)
        self.script_flow = flow / np.maximum(flow.sum(axis=1, keepdims=True), 1)
        self.script_mass = np.bincount(self.script, weights=(owners > 0).astype(float), minlength=n_scripts)
        hits = ((sent @ knn) @ (diags(share) @ sent.T)).tocsr()
        hits.setdiag(0)
        hits.eliminate_zeros()
        self.hits = hits  # hits[a, b]: a's slots on b's prompts

    def links(self, alpha: float = CONTENT_ALPHA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linked pairs (a < b) and their strength: 0.5 at the threshold, 1 at its square."""
        from scipy.special import gammainc

        n = len(self.slots)
        both = (self.hits + self.hits.T).tocoo()
        keep = both.row < both.col
        rows, cols, h = both.row[keep].astype(np.int64), both.col[keep].astype(np.int64), both.data[keep]
        expected = (self.slots[rows] * self.mass[cols] + self.slots[cols] * self.mass[rows]) / max(self.n_prompts, 1)
        # P(X >= h) for X ~ Poisson(expected), continuous in h (slots on shared prompts are fractions)
        log_p = np.log(np.maximum(gammainc(np.maximum(h, 1e-9), np.maximum(expected, 1e-12)), 1e-300))
        log_max = np.log(alpha / max(n * (n - 1) / 2, 1))
        keep = (log_p <= log_max) & (h > expected)
        strength = 0.5 + 0.5 * np.clip(log_p[keep] / log_max - 1, 0, 1)
        return rows[keep], cols[keep], strength

    def own_regions(self, members: np.ndarray) -> float:
        """0..1: where the members' prompts are one another's neighbours, how much of those prompts'
        neighbourhoods is the members' own, beyond what their scripts explain. Over each meeting (a
        member prompt's neighbour slot on another member's prompt): the share of that prompt's slots
        that are on the members' prompts, against the share expected if slots crossed scripts as the
        log's do and fell, within a script, on the members' prompts as often as they make up that
        script. Slices of one sweep
        fill regions ordinary users rarely visit; people who share a niche meet in regions others
        visit too; and the speakers of one language under an English-only model, who are all of
        their script's region, are explained by it (under a multilingual model scripts explain little)."""
        if len(members) < 2 or self.knn is None:
            return 0.0
        sent, knn = self.sent, self.knn
        pos = spans(sent.indptr[members], sent.indptr[members + 1])
        if not len(pos):
            return 0.0
        member_of = np.repeat(np.arange(len(members)), np.diff(sent.indptr)[members])
        owner = members[member_of]
        prompt = sent.indices[pos]
        # the members' mass on each of their prompts (sorted, looked up: no log-sized array per call)
        unique, first = np.unique(prompt, return_inverse=True)
        held = np.bincount(first, weights=self.share[prompt])
        lengths = np.diff(knn.indptr)[prompt]
        slots = spans(knn.indptr[prompt], knn.indptr[prompt + 1])
        target = knn.indices[slots]
        pair = np.repeat(np.arange(len(prompt)), lengths)
        where = np.minimum(np.searchsorted(unique, target), len(unique) - 1)
        on_member = unique[where] == target
        # a slot on the member's own prompt (its own related questions) does not count
        own_keys = np.sort(owner.astype(np.int64) * self.n_prompts + prompt)
        key = owner[pair].astype(np.int64) * self.n_prompts + target
        at = np.minimum(np.searchsorted(own_keys, key), len(own_keys) - 1)
        weight = np.where(on_member, held[where], 0.0) - np.where(own_keys[at] == key, self.share[target], 0.0)
        inside = np.bincount(pair, weights=np.maximum(weight, 0.0), minlength=len(prompt))
        if not (inside > 0).any():
            return 0.0
        slots_of = np.maximum(lengths, 1)
        # each meeting (a slot on another member's prompt) weighs the share of its prompt's slots
        # that are the members' own: one chance meeting of a cover prompt weighs 1/k, not a whole
        # prompt's worth (the members' cover traffic does not dilute the sweep inside it)
        observed = float((inside**2 / slots_of).sum() / inside.sum())
        # expected: the members' (other than the prompt's own account's) share of each script, q;
        # a slot that lands on a member with chance q gives E[inside^2/k] / E[inside] = q + (1-q)/k
        n_scripts = len(self.script_mass)
        script = self.script[prompt]
        group = np.bincount(script, weights=self.share[prompt], minlength=n_scripts)
        own = np.zeros((len(members), n_scripts))
        np.add.at(own, (member_of, script), self.share[prompt])
        others = (group[None, :] - own) / np.maximum(self.script_mass, 1)[None, :]
        q = (self.script_flow[script] * others[member_of]).sum(axis=1)
        chance = q + (1 - q) / slots_of
        base = float((slots_of * q * chance).sum() / max((slots_of * q).sum(), 1e-12))
        return float(np.clip((observed - base) / max(1 - base, 1e-9), 0, 1))
