"""Named evidence that a group of linked accounts is a distillation campaign, and the score built
from it: every score comes with its reasons in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .params import DetectParams


def _entropy(counts: np.ndarray) -> float:
    counts = counts[counts > 0]
    if len(counts) < 2:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(counts)))


NEAR = "works next to a flagged campaign's prompts"
AUTOMATION = "machine or network evidence"

# Weights of the named evidences (they sum to 1). Low-weight prompt hints: keyword lists only help.
WEIGHTS = {
    "sustained volume per account": 0.15,
    "coverage sweep (accounts send disjoint prompts)": 0.22,
    "even load across accounts": 0.10,
    "persistent (active over a day or more)": 0.10,
    "round-the-clock timing": 0.08,
    "scripted regular timing": 0.08,
    "shared client or infrastructure": 0.08,
    NEAR: 0.10,
    "pivot to a new model within a day of release": 0.03,
    "templated prompts": 0.02,
    "reasoning elicitation (chain of thought)": 0.02,
    "grader / rubric prompts": 0.02,
}
# A campaign runs over time and at volume: a one-off burst (an evaluation) or a handful of
# requests cannot be one, whatever else it looks like; and a group of busy people who talk about
# the same things at the same hours is not one either unless something machine-like or a link to a
# known campaign shows. These evidences gate the score (multiplied in as square roots).
MACHINE = (
    "round-the-clock timing",
    "scripted regular timing",
    "shared client or infrastructure",
    NEAR,
    "pivot to a new model within a day of release",
    "templated prompts",
    "reasoning elicitation (chain of thought)",
    "grader / rubric prompts",
)
GATES = ("sustained volume per account", "persistent (active over a day or more)", AUTOMATION)
FIRES = 0.5


#: per-account prompt hints: (evidence, signal column)
HINTS = (
    ("templated prompts", "template_share"),
    ("reasoning elicitation (chain of thought)", "cot_share"),
    ("grader / rubric prompts", "grader_share"),
)


def _beyond(share: float, ordinary: float) -> float:
    """0..1: how far ``share`` goes from what an ordinary account shows towards all of its prompts."""
    return float(np.clip((share - ordinary) / max(1.0 - ordinary, 1e-9), 0, 1))


def campaign_evidence(
    members: pd.DataFrame, prompts: pd.DataFrame, pair_infra: float, typical: dict[str, float], params: DetectParams
) -> dict[str, float]:
    """Named evidence (each 0..1) that a community is a distillation campaign. ``typical`` holds
    what an ordinary account shows (``n_req`` and the prompt-hint shares): volume and prompt hints
    count only beyond it (where every user's prompts fall into near-duplicate families, as in a
    large log of popular questions, "templated" says nothing)."""
    mine = prompts[prompts["account_id"].isin(members["account_id"])]
    per_prompt = mine.groupby("prompt_hash")["account_id"].nunique()
    disjoint = float((mine["prompt_hash"].map(per_prompt) == 1).mean()) if len(mine) else 0.0
    span = (members["last_ts"].max() - members["first_ts"].min()).total_seconds() / 3600
    pivot = members["pivot_hours"].to_numpy(dtype=float) if "pivot_hours" in members else np.array([np.nan])
    near = members["near_lift"].to_numpy(dtype=float) if "near_lift" in members else np.array([np.nan])
    evidence = {
        "sustained volume per account": float(np.clip(members["n_req"].median() / (4 * typical["n_req"]), 0, 1)),
        "coverage sweep (accounts send disjoint prompts)": disjoint * (1 - float(members["popular_share"].mean())),
        "even load across accounts": _entropy(members["n_req"].to_numpy(dtype=float)),
        "persistent (active over a day or more)": float(min(1.0, span / max(params.min_span_hours * 2, 1e-9))),
        # a person's day spans ~16 waking hours (normalised entropy ~0.87); scripts use all 24
        "round-the-clock timing": float(np.clip((members["hour_entropy"].mean() - 0.85) / 0.13, 0, 1)),
        "scripted regular timing": float(np.clip(1 - members["gap_cv"].median() / 1.5, 0, 1)),
        "shared client or infrastructure": pair_infra,
        NEAR: float(np.clip((np.nan_to_num(near, nan=1.0).mean() - 1) / 1.5, 0, 1)),
        "pivot to a new model within a day of release": float(np.mean(np.nan_to_num(pivot, nan=1e9) <= 24)),
    }
    for name, column in HINTS:
        evidence[name] = _beyond(float(members[column].mean()), typical[column])
    evidence[AUTOMATION] = max(evidence[name] for name in MACHINE)
    return evidence


def score_evidence(evidence: dict[str, float]) -> float:
    score = sum(WEIGHTS[name] * evidence[name] for name in WEIGHTS)
    return float(min(1.0, score * np.prod([np.sqrt(evidence[g]) for g in GATES])))


def individual(signals: pd.DataFrame, typical: float) -> tuple[np.ndarray, list[str]]:
    """A small score (< 0.5, never a flag on its own) from one account's own behaviour, for ranking."""
    volume = np.clip(signals["n_req"].to_numpy(float) / (8 * typical), 0, 1)
    clock = signals["hour_entropy"].to_numpy(float)
    regular = np.clip(1 - signals["gap_cv"].to_numpy(float) / 1.5, 0, 1) * (signals["n_req"].to_numpy() >= 5)
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


def near_lift(
    prompts: pd.DataFrame, neighbours: tuple[np.ndarray, np.ndarray], core: np.ndarray, min_p: float
) -> tuple[pd.Series, pd.Series]:
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
    hit = rest["prompt_hash"].map(near).fillna(False).to_numpy(bool) * rest["n"].to_numpy()
    k = pd.Series(hit).groupby(rest["account_id"].to_numpy()).sum()
    n = rest.groupby("account_id")["n"].sum().reindex(k.index)
    base = max(float(k.sum() / max(n.sum(), 1)), 1e-6)
    lift = (k / n) / base
    enriched = pd.Series(binom.sf(k.to_numpy() - 1, n.to_numpy(), base) <= min_p, index=k.index)
    return lift, enriched
