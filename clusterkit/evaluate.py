"""Evaluation of account scores against a labelled truth file (``account_id,label,group``).

Positives are ``campaign`` accounts; ``organic`` and ``benign`` ones are negatives. Reported:
average precision of the score; recall at 1% false-positive rate over *organic* accounts; recall
and false-positive rate of the ``flagged`` decision, overall and per truth group; and how well
campaign ids group the campaign accounts (adjusted Rand index over them, each unassigned account
counted as its own group).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["Evaluation", "GroupResult", "evaluate", "load_truth"]

_LABELS = ("organic", "campaign", "benign")


@dataclass(frozen=True)
class GroupResult:
    group: str
    label: str
    accounts: int
    flagged: int

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.accounts if self.accounts else 0.0


@dataclass(frozen=True)
class Evaluation:
    average_precision: float
    recall_at_1pct_fpr: float
    flagged_recall: float
    flagged_fpr: float
    ari: float
    groups: list[GroupResult] = field(default_factory=list)
    missing_scores: int = 0
    unlabelled_scores: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "average_precision": self.average_precision,
            "recall_at_1pct_fpr": self.recall_at_1pct_fpr,
            "flagged_recall": self.flagged_recall,
            "flagged_fpr": self.flagged_fpr,
            "ari": self.ari,
            "groups": [
                {"group": g.group, "label": g.label, "accounts": g.accounts, "flagged": g.flagged} for g in self.groups
            ],
            "missing_scores": self.missing_scores,
            "unlabelled_scores": self.unlabelled_scores,
        }


def load_truth(path: str | os.PathLike[str]) -> dict[str, tuple[str, str]]:
    """``{account_id: (label, group)}`` from a truth CSV; bad rows are errors naming the line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such truth file")
    out: dict[str, tuple[str, str]] = {}
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"account_id", "label", "group"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise InputError(f"{p}: header must hold {', '.join(sorted(need))}; found {reader.fieldnames}")
        for row in reader:
            line = reader.line_num
            account, label = (row["account_id"] or "").strip(), (row["label"] or "").strip()
            if not account:
                raise InputError(f"{p} line {line}: empty account_id")
            if label not in _LABELS:
                raise InputError(f"{p} line {line}: label {label!r} is not one of {', '.join(_LABELS)}")
            if account in out:
                raise InputError(f"{p} line {line}: account {account!r} is listed twice")
            out[account] = (label, (row["group"] or label).strip())
    if not out:
        raise InputError(f"{p}: no accounts")
    return out


def _recall_at_fpr(y: np.ndarray, s: np.ndarray, organic: np.ndarray, max_fpr: float) -> float:
    """Highest recall of a threshold on ``s`` whose FPR over organic accounts is <= max_fpr."""
    neg = np.sort(s[organic])[::-1]
    allowed = int(np.floor(max_fpr * len(neg)))
    if len(neg) == 0:
        return float((s[y] > -np.inf).mean()) if y.any() else 0.0
    # scores strictly above the (allowed+1)-th highest organic score keep FPR <= max_fpr
    threshold = neg[allowed] if allowed < len(neg) else -np.inf
    return float((s[y] > threshold).mean()) if y.any() else 0.0


def evaluate(scores: Any, truth: dict[str, tuple[str, str]]) -> Evaluation:
    """Compare ``scores`` (DataFrame-like with ``account_id``, ``score``, ``flagged``,
    ``campaign_id``) with ``truth`` from :func:`load_truth`."""
    from sklearn.metrics import adjusted_rand_score, average_precision_score

    by_account = {
        str(a): (float(sc), bool(fl), None if cid is None or cid != cid else str(cid))
        for a, sc, fl, cid in zip(scores["account_id"], scores["score"], scores["flagged"], scores["campaign_id"])
    }
    accounts = sorted(truth)
    s = np.array([by_account.get(a, (0.0, False, None))[0] for a in accounts])
    flagged = np.array([by_account.get(a, (0.0, False, None))[1] for a in accounts])
    labels = np.array([truth[a][0] for a in accounts])
    y = labels == "campaign"
    organic = labels == "organic"
    negatives = ~y
    ap = float(average_precision_score(y, s)) if y.any() and negatives.any() else 0.0
    groups = []
    for g in sorted({truth[a][1] for a in accounts}):
        members = np.array([truth[a][1] == g for a in accounts])
        groups.append(GroupResult(g, str(labels[members][0]), int(members.sum()), int(flagged[members].sum())))
    camp = [a for a in accounts if truth[a][0] == "campaign"]
    predicted = [by_account.get(a, (0, False, None))[2] or f"_alone_{a}" for a in camp]
    ari = float(adjusted_rand_score([truth[a][1] for a in camp], predicted)) if len(camp) > 1 else 0.0
    return Evaluation(
        average_precision=ap,
        recall_at_1pct_fpr=_recall_at_fpr(y, s, organic, 0.01),
        flagged_recall=float(flagged[y].mean()) if y.any() else 0.0,
        flagged_fpr=float(flagged[organic].mean()) if organic.any() else 0.0,
        ari=ari,
        groups=groups,
        missing_scores=sum(1 for a in accounts if a not in by_account),
        unlabelled_scores=sum(1 for a in by_account if a not in truth),
    )
