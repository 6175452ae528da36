"""Named evidence that a group of linked accounts is a distillation campaign, and the score built
from it: every score comes with its reasons in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .linking import (
    RELAY_GAP_HOURS,
    SWARM_BRIEF_HOURS,
    SWARM_MAX_REQUESTS,
    SWARM_MIN_ACCOUNTS,
    SWARM_OPENING_HOURS,
    ContentLinks,
    InfraIndex,
    SharedTemplates,
    arrival_burst,
    arrival_clock,
    epoch_seconds,
    spans,
)
from .params import DetectParams


def _entropy(counts: np.ndarray) -> float:
    counts = counts[counts > 0]
    if len(counts) < 2:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(counts)))


NEAR = "works next to a flagged campaign's prompts"
RELAY = "relay: accounts take over from one another"
SWARM = "swarm: many new accounts appear together, each sending a few disjoint prompts"
COHESION = "one semantic sweep (members' distinct prompts are one another's nearest neighbours)"
PHRASING = "shared phrasing (members wrap their prompts in the same mined templates)"

#: counter-evidence: the group's prompts are one task wrapped around its users' own text
APPLICATION = "one task over its users' own text (an application)"
#: share of a group's requests that must fall in mined templates for the application evidence to count
APP_TEMPLATED = 1 / 3
AUTOMATION = "machine or network evidence"
#: accounts of different organisations (billing identities) sending from the same rare addresses,
#: clients and system prompts: one operator behind accounts made to look unrelated. Benign groups
#: that burst (an org's benchmark run over its own keys) are one organisation; a classroom's
#: students share a school's network but send the same few questions (no coverage, no volume)
DISGUISED = "distinct organisations on shared infrastructure"
#: what the fixed part of the members' mined templates asks for, read by meaning in any language
#: (:mod:`.intent`): the model's own reasoning, complete answers or grades - what a distillation
#: campaign harvests - rather than a transformation of the user's text
ELICIT = "templates elicit the model's reasoning, answers or grades"

# Weights of the named evidences (they sum to 1.12: shared phrasing came in at the weight of shared
# infrastructure, both an operator's fingerprint; what templates elicit, read by meaning, at the same
# weight in place of two 0.02 regular-expression hints; the others as they were).
# Low-weight prompt hint: "templated" only helps.
WEIGHTS = {
    "sustained volume per account": 0.15,
    "coverage sweep (accounts send disjoint prompts)": 0.17,
    "even load across accounts": 0.10,
    "persistent (active over a day or more)": 0.10,
    "round-the-clock timing": 0.08,
    "scripted regular timing": 0.08,
    "shared client or infrastructure": 0.08,
    RELAY: 0.08,
    SWARM: 0.15,
    NEAR: 0.05,
    COHESION: 0.10,
    PHRASING: 0.08,
    "pivot to a new model within a day of release": 0.03,
    "templated prompts": 0.02,
    ELICIT: 0.08,
}
# A campaign runs over time and at volume: a one-off burst (an evaluation) or a handful of
# requests cannot be one, whatever else it looks like; and a group of busy people who talk about
# the same things at the same hours is not one either unless something machine-like or a link to a
# known campaign shows. These evidences gate the score (multiplied in as square roots). (A pivot to a
# new model within a day of its release is no machine evidence: enthusiasts do it too.)
MACHINE = (
    "round-the-clock timing",
    "scripted regular timing",
    "shared client or infrastructure",
    NEAR,
    "templated prompts",
    ELICIT,
    RELAY,
    SWARM,
    COHESION,
    PHRASING,
)
PERSISTENT = "persistent (active over a day or more)"
GATES = ("sustained volume per account", PERSISTENT, AUTOMATION)
#: a swarm opens the volume and persistence gates: its accounts are many and brief by design
_OPENED_BY_SWARM = ("sustained volume per account", PERSISTENT)
#: and an operator hiding behind distinct organisations opens the persistence gate: a scripted sweep
#: over parallel workers may finish within the hour, a burst as short as an evaluation run
_OPENED_BY_DISGUISE = (PERSISTENT,)
FIRES = 0.5


#: per-account prompt hints: (evidence, signal column)
HINTS = (
    ("templated prompts", "template_share"),
    (ELICIT, "elicit_share"),
)


def elicit_shares(prompts: pd.DataFrame, accounts: pd.Series, elicits: Mapping[str, float] | None) -> np.ndarray:
    """Per account of ``accounts``: the share of its requests in mined templates that elicit the
    model's own capability, each weighted by its elicitation (``elicits``, :func:`.intent.elicitation`;
    0 where nothing was mined)."""
    if not elicits or "template" not in prompts or prompts.empty:
        return np.zeros(len(accounts))
    weight = np.nan_to_num(prompts["template"].map(elicits).to_numpy(float)) * prompts["n"].to_numpy(float)
    owner = prompts["account_id"].to_numpy()
    sent = pd.Series(prompts["n"].to_numpy(float)).groupby(owner).sum()
    share = pd.Series(weight).groupby(owner).sum() / sent
    return accounts.map(share).fillna(0.0).to_numpy(float)


#: the share of members at either end left out of a group's span (for "persistent")
SPAN_TRIM = 0.1
#: accounts with fewer requests say nothing about the regularity of their timing
MIN_TIMED_REQUESTS = 5


#: a coefficient of variation of the gaps from which timing reads as wholly human (bursty people
#: exceed 1; a Poisson stream is 1; clockwork is near 0)
HUMAN_GAP_CV = 1.5
#: the gap CV of arrivals at random (a Poisson stream): a scripted worker may sleep at random
RANDOM_GAP_CV = 1.0


def regularity(gap_cv: np.ndarray) -> np.ndarray:
    """0..1 per account: how clockwork its timing is (1 at gap CV 0, 0 from ``HUMAN_GAP_CV``; NaN stays NaN)."""
    return np.clip(1 - np.asarray(gap_cv, dtype=float) / HUMAN_GAP_CV, 0, 1)


def _scripted(gap_cv: np.ndarray) -> float:
    """0..1 from the median coefficient of variation of the gaps (0 for clockwork, >1 for people),
    over the members with enough requests to tell; 0 when none has."""
    known = gap_cv[~np.isnan(gap_cv)]
    return float(regularity(np.median(known))) if len(known) else 0.0


def _beyond(share: float, ordinary: float) -> float:
    """0..1: how far ``share`` goes from what an ordinary account shows towards all of its prompts."""
    return float(np.clip((share - ordinary) / max(1.0 - ordinary, 1e-9), 0, 1))


class GroupEvidence:
    """Named evidence (each 0..1) that a group of accounts is a distillation campaign, for any set
    of account rows: per-account signals and the prompts each account sent are laid out once as
    arrays, so evidence for thousands of groups (the observed candidates and the matched random
    groups of the null, :mod:`.calibrate`) costs microseconds each.

    ``typical`` holds what an ordinary account shows (``n_req`` and the prompt-hint shares):
    volume and prompt hints count only beyond it (where every user's prompts fall into
    near-duplicate families, as in a large log of popular questions, "templated" says nothing)."""

    #: members whose pairs are compared (shared infrastructure, relay overlap) in a large group
    MAX_MEMBERS = 200

    def __init__(
        self,
        signals: pd.DataFrame,
        prompts: pd.DataFrame,
        infra: InfraIndex,
        idx: dict[str, int],
        typical: dict[str, float],
        params: DetectParams,
        app_likeness: Mapping[str, float] | None = None,
        content: ContentLinks | None = None,
        phrasing: SharedTemplates | None = None,
    ) -> None:
        self.infra, self.typical, self.params, self.content = infra, typical, params, content
        self.phrasing = phrasing
        col = lambda name: signals[name].to_numpy(dtype=float) if name in signals else np.full(len(signals), np.nan)  # noqa: E731
        self.n_req = col("n_req")
        self.hour_entropy = col("hour_entropy")
        # each account's organisation as a code (-1: not in the log)
        self.org = pd.factorize(signals["org_id"])[0] if "org_id" in signals else np.full(len(signals), -1)
        self.pivot = col("pivot_hours")
        self.near = col("near_lift")
        # (a hint the signals lack - no template was mined - is shown by no account)
        self.hints = {column: np.nan_to_num(col(column)) for _, column in HINTS}
        self.first, self.last = epoch_seconds(signals["first_ts"]), epoch_seconds(signals["last_ts"])
        self.log_start = float(self.first.min()) if len(signals) else 0.0
        self.log_span = max(float(self.last.max() - self.first.min()), 1.0) if len(signals) else 1.0
        self.clock = arrival_clock(
            self.first[self.first >= self.log_start + SWARM_OPENING_HOURS * 3600], self.log_start
        )
        self.clock_span = (
            max(float(self.clock(self.last.max()) - self.clock(self.first.min())), 1.0) if len(signals) else 1.0
        )
        # a gap CV means nothing below a handful of requests (the SQL fills it with 0 there)
        self.gap_cv = np.where(self.n_req >= MIN_TIMED_REQUESTS, col("gap_cv"), np.nan)
        # each account's (account, prompt) rows, accounts in row order (CSR layout)
        owner = prompts["account_id"].map(idx).to_numpy()
        order = np.argsort(owner, kind="stable")
        self.n = prompts["n"].to_numpy(float)[order]
        # per (account, prompt) row: the app-likeness of its mined template (NaN: no template)
        if "template" in prompts and app_likeness:
            self.app = prompts["template"].map(app_likeness).to_numpy(float)[order]
        else:
            self.app = np.full(len(order), np.nan)
        self.ptr = np.r_[0, np.cumsum(np.bincount(owner, minlength=len(signals)))]
        # what counts as one item of a sweep: a prompt, or its near-duplicate family where it has
        # one (a classroom's typing variations of one question are one item); and how many accounts
        # of the whole log sent each item
        item, _ = pd.factorize(prompts["prompt_hash"])
        if "family" in prompts:  # (families as negative codes: apart from the prompts' own)
            family = prompts["family"].fillna(-1).to_numpy(np.int64)
            item = np.where(family >= 0, -1 - family, item)
        items, _ = pd.factorize(item)
        self.items = items[order]
        sent = pd.DataFrame({"a": owner, "i": items}).drop_duplicates()
        self.owners = np.bincount(sent["i"].to_numpy(), minlength=int(items.max()) + 1 if len(items) else 0)

    def set_near(self, near_lift: np.ndarray) -> None:
        self.near = np.asarray(near_lift, dtype=float)

    def _disjoint(self, members: np.ndarray) -> float:
        """Share of the members' (account, prompt) rows whose item (the prompt, or its near-duplicate
        family) no other account of the log sent: a sweep's items are its own. The same items sent
        by other members (a classroom, however each student types the question) or by accounts
        outside the group (a public benchmark other orgs run too, a popular prompt) are no coverage."""
        items = self.items[spans(self.ptr[members], self.ptr[members + 1])]
        if not len(items):
            return 0.0
        return float((self.owners[items] == 1).mean())

    def off_pace(self, members: np.ndarray) -> np.ndarray:
        """The members whose timing is unlike the group's: where more than half the members send
        enough to tell and the group's timing reads as scripted (its "scripted regular timing", at
        least ``FIRES``), those less regular than that by ``FIRES`` or more and burstier than a random
        stream (gap CV above ``RANDOM_GAP_CV``) - a person whose co-activity with a scripted fleet
        took them in. (A worker given random sleeps, a Poisson stream at CV 1, stays.) None where
        the group is not scripted."""
        cv = self.gap_cv[np.asarray(members, dtype=np.int64)]
        timed = ~np.isnan(cv)
        pace = _scripted(cv)
        if timed.sum() * 2 <= len(cv) or pace < FIRES:
            return np.zeros(len(cv), dtype=bool)
        known = np.where(timed, cv, 0.0)
        return timed & (regularity(known) <= pace - FIRES) & (known > RANDOM_GAP_CV)

    def _application(self, members: np.ndarray) -> float:
        """0..1: how much of the members' traffic is one task over their users' own text - the
        request-weighted app-likeness of the mined templates their prompts fall in, when at least
        ``APP_TEMPLATED`` of their requests are templated at all."""
        rows = spans(self.ptr[members], self.ptr[members + 1])
        if not len(rows):
            return 0.0
        n, app = self.n[rows], self.app[rows]
        templated = ~np.isnan(app)
        if n[templated].sum() < APP_TEMPLATED * n.sum():
            return 0.0
        return float((n[templated] * app[templated]).sum() / n[templated].sum())

    def _relay(self, members: np.ndarray) -> float:
        """Share of the members (all but the first to start) whose first request comes within
        ``RELAY_GAP_HOURS`` after another member's last one, times the share of member pairs that
        are never active at the same time."""
        if len(members) < 2:
            return 0.0
        first, last = self.first[members], self.last[members]
        ends = np.sort(last)
        gap = RELAY_GAP_HOURS * 3600
        lo = np.searchsorted(ends, first - gap, side="left")
        hi = np.searchsorted(ends, first, side="right")
        own = (last >= first - gap) & (last <= first)  # a member's own end never counts
        takes_over = (hi - lo - own) > 0
        takes_over[np.argmin(first)] = False
        # relays are never active together: discount by the share of member pairs whose active
        # spans overlap (ordinary users who happen to start as others stop mostly overlap others)
        pick = np.arange(len(members))
        if len(pick) > self.MAX_MEMBERS:
            pick = np.random.default_rng(0).choice(len(pick), self.MAX_MEMBERS, replace=False)
        i, j = np.triu_indices(len(pick), 1)
        a, b = pick[i], pick[j]
        overlap = float(((first[a] < last[b]) & (first[b] < last[a])).mean())
        return float(takes_over.sum() / (len(members) - 1)) * (1 - overlap)

    def _swarm(self, members: np.ndarray) -> float:
        """0..1: the share of members that first appear together (in :func:`.linking.arrival_burst`)
        beyond what accounts appearing at random over the log would, times the share of members
        that are small (at most ``SWARM_MAX_REQUESTS`` requests) and brief (active at most
        ``SWARM_BRIEF_HOURS``)."""
        m = len(members)
        if m < SWARM_MIN_ACCOUNTS:
            return 0.0
        # first appearances in the log's opening hours are not arrivals (see linking.bursts); time
        # runs on the clock of the log's daily arrival profile (linking.arrival_clock)
        t = np.sort(self.first[members])
        t = self.clock(t[t >= self.log_start + SWARM_OPENING_HOURS * 3600])
        if len(t) < SWARM_MIN_ACCOUNTS:
            return 0.0
        span = self.clock_span
        start, count = arrival_burst(t, span)
        length = float(t[start + count - 1] - t[start])
        arrive = float(np.clip((count - m * length / span) / m, 0, 1))
        brief = (self.n_req[members] <= SWARM_MAX_REQUESTS) & (
            self.last[members] - self.first[members] <= SWARM_BRIEF_HOURS * 3600
        )
        return arrive * float(brief.mean())

    def _pair_infra(self, members: np.ndarray, rng: np.random.Generator | None) -> tuple[float, float]:
        """Mean shared-infrastructure match over the members' pairs (of a random ``MAX_MEMBERS``
        of them in a large group), and the same leaving the organisation out."""
        if len(members) > self.MAX_MEMBERS:
            members = (rng or np.random.default_rng(0)).choice(members, self.MAX_MEMBERS, replace=False)
        return self.infra.mean_match_within(members, without="org_id")

    def _disguised(self, members: np.ndarray, infra_but_org: float) -> float:
        """0..1: the share of member pairs in two different known organisations (0 where the log
        names none), times their shared-infrastructure match on everything but the organisation."""
        org = self.org[members]
        known = org[org >= 0]
        m = len(known)
        if m < 2:
            return 0.0
        same = np.bincount(known).astype(float)
        distinct = 1 - float((same * (same - 1)).sum()) / (m * (m - 1))
        return distinct * (m / len(org)) * infra_but_org

    def __call__(self, members: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, float]:
        members = np.asarray(members, dtype=np.int64)
        typical, params = self.typical, self.params
        # the group's span without its outliers: one member active for weeks (an ordinary account
        # a community took in) does not make an afternoon's group persistent
        span = (np.quantile(self.last[members], 1 - SPAN_TRIM) - np.quantile(self.first[members], SPAN_TRIM)) / 3600
        near = np.nan_to_num(self.near[members], nan=1.0)
        infra, infra_but_org = self._pair_infra(members, rng)
        evidence = {
            "sustained volume per account": float(
                np.clip(np.median(self.n_req[members]) / (4 * typical["n_req"]), 0, 1)
            ),
            "coverage sweep (accounts send disjoint prompts)": self._disjoint(members),
            "even load across accounts": _entropy(self.n_req[members]),
            PERSISTENT: float(min(1.0, span / max(params.min_span_hours * 2, 1e-9))),
            # a person's day spans ~16 waking hours (normalised entropy ~0.87); scripts use all 24
            "round-the-clock timing": float(np.clip((np.nanmean(self.hour_entropy[members]) - 0.85) / 0.13, 0, 1)),
            "scripted regular timing": _scripted(self.gap_cv[members]),
            "shared client or infrastructure": infra,
            RELAY: self._relay(members),
            SWARM: 0.0,
            NEAR: float(np.clip((near.mean() - 1) / 1.5, 0, 1)),
            COHESION: 0.0,
            PHRASING: self.phrasing.shared(members) if self.phrasing is not None else 0.0,
            "pivot to a new model within a day of release": float(
                np.mean(np.nan_to_num(self.pivot[members], nan=1e9) <= 24)
            ),
        }
        for name, column in HINTS:
            evidence[name] = _beyond(float(np.nanmean(self.hints[column][members])), typical.get(column, 0.0))
        coverage = evidence["coverage sweep (accounts send disjoint prompts)"]
        evidence[SWARM] = self._swarm(members) * coverage
        # the same few questions asked by many (a classroom) are close together too: a sweep's
        # items are distinct
        if self.content is not None:
            evidence[COHESION] = self.content.own_regions(members) * coverage
        evidence[AUTOMATION] = max(evidence[name] for name in MACHINE)
        evidence[APPLICATION] = self._application(members)
        evidence[DISGUISED] = self._disguised(members, infra_but_org)
        return evidence


def score_evidence(evidence: dict[str, float]) -> float:
    """The weighted evidence times the square roots of the gates, times what is left once the
    application counter-evidence is taken out (an app's one task over its users' text scores 0)."""
    score = sum(WEIGHTS[name] * evidence[name] for name in WEIGHTS)

    def gate(name: str) -> float:
        opened = [evidence.get(SWARM, 0.0)] * (name in _OPENED_BY_SWARM)
        opened += [evidence.get(DISGUISED, 0.0)] * (name in _OPENED_BY_DISGUISE)
        return max([evidence[name], *opened])

    gated = score * np.prod([np.sqrt(gate(g)) for g in GATES])
    return float(min(1.0, gated * (1 - evidence.get(APPLICATION, 0.0))))


def individual(signals: pd.DataFrame, typical: float) -> tuple[np.ndarray, list[str]]:
    """A small score (< 0.5, never a flag on its own) from one account's own behaviour, for ranking."""
    volume = np.clip(signals["n_req"].to_numpy(float) / (8 * typical), 0, 1)
    clock = signals["hour_entropy"].to_numpy(float)
    regular = regularity(signals["gap_cv"].to_numpy(float)) * (signals["n_req"].to_numpy() >= MIN_TIMED_REQUESTS)
    near = np.clip((signals["near_lift"].fillna(1).to_numpy(float) - 1) / 1.5, 0, 1) if "near_lift" in signals else 0
    score = 0.4 * (0.3 * volume + 0.2 * clock + 0.2 * regular + 0.3 * near)
    reasons = []
    for v, c, r, x in zip(volume, clock, regular, np.broadcast_to(near, volume.shape)):
        words = [
            w
            for w, value in (
                ("high volume", v),
                ("round-the-clock activity", c),
                ("regular timing", r),
                ("prompts next to a flagged campaign's", x),
            )
            if value >= 0.7
        ]
        reasons.append("not coordinated with other accounts" + (f"; alone: {', '.join(words)}" if words else ""))
    return score, reasons


class NearLift(NamedTuple):
    """Per account outside the flagged campaigns (see :func:`near_lift`)."""

    #: how much more of its traffic lies next to the campaigns' prompts than all such accounts' does
    lift: pd.Series
    #: whether that excess is significant on its own
    enriched: pd.Series
    #: its requests next to the campaigns' prompts, and how many the traffic of all such accounts
    #: in the same scripts would put there
    hits: pd.Series
    expected: pd.Series

    def group_enriched(self, accounts: Any, min_p: float) -> bool:
        """Whether the accounts' traffic, pooled, is significantly enriched next to the campaigns'
        prompts beyond what their scripts explain (Poisson test at ``min_p``): a reseller network's
        slices are each too thin to tell on their own. (Under an English-only model a language's
        prompts are one another's neighbours whatever they ask: that language's ordinary speakers,
        linked by content, are next to a campaign in their language without being part of it.)"""
        from scipy.stats import poisson

        k = float(self.hits.reindex(accounts).fillna(0).sum())
        mean = float(self.expected.reindex(accounts).fillna(0).sum())
        return bool(mean > 0 and poisson.sf(k - 1, mean) <= min_p)


def near_lift(
    prompts: pd.DataFrame, neighbours: tuple[np.ndarray, np.ndarray], core: np.ndarray, min_p: float
) -> NearLift:
    """Per account outside the flagged campaigns: how much more of its traffic lies next to the
    campaigns' prompts (most of a prompt's nearest neighbours sent by flagged accounts) than the
    traffic of all such accounts does (lift), and whether that excess is significant (binomial
    test at ``min_p``): resellers mix campaign slices into ordinary-looking traffic."""
    from scipy.stats import binom

    hashes, ind = neighbours
    flagged_hashes = prompts.loc[prompts["account_id"].isin(core), "prompt_hash"].unique()
    is_flagged = pd.Index(hashes).isin(flagged_hashes)  # hashed: np.isin on strings is quadratic
    near = pd.Series(is_flagged[ind].mean(axis=1) >= 0.5, index=hashes)
    rest = prompts[~prompts["account_id"].isin(core)]
    owner = rest["account_id"].to_numpy()
    hit = pd.Series(rest["prompt_hash"].map(near).fillna(False).to_numpy(bool) * rest["n"].to_numpy())
    k = hit.groupby(owner).sum()
    n = rest.groupby("account_id")["n"].sum().reindex(k.index)
    base = max(float(k.sum() / max(n.sum(), 1)), 1e-6)
    lift = (k / n) / base
    enriched = pd.Series(binom.sf(k.to_numpy() - 1, n.to_numpy(), base) <= min_p, index=k.index)
    # per script: the share of all such accounts' traffic in it that lies next to the campaigns'
    script = pd.Series(rest["language"].fillna("").to_numpy() if "language" in rest else np.zeros(len(rest)))
    volume = pd.Series(rest["n"].to_numpy(float))
    rate = (hit.groupby(script).sum() / volume.groupby(script).sum()).clip(lower=1e-6)
    expected = (volume * script.map(rate)).groupby(owner).sum().reindex(k.index)
    return NearLift(lift, enriched, k, expected)
