"""``detect``: score every account and group coordinated ones into campaigns, on the DataFrames
:func:`clusterkit.campaigns.signals.detection_inputs` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .evidence import FIRES, GATES, HINTS, WEIGHTS, campaign_evidence, individual, near_lift, score_evidence
from .linking import COACT_WEIGHT, INFRA_WEIGHT, communities, components, coordination, index, infra_match
from .params import DetectParams

__all__ = ["Detection", "detect"]


@dataclass
class Detection:
    """Per-account scores and per-campaign summaries."""

    accounts: pd.DataFrame
    campaigns: pd.DataFrame
    edges: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the input signals plus those computed during detection (``near_lift``)
    signals: pd.DataFrame = field(default_factory=pd.DataFrame)


def detect(
    signals: pd.DataFrame,
    cells: pd.DataFrame,
    prompts: pd.DataFrame,
    *,
    infra_used: pd.DataFrame | None = None,
    neighbours: tuple[np.ndarray, np.ndarray] | None = None,
    params: DetectParams | None = None,
) -> Detection:
    """Score every account and group coordinated ones into campaigns.

    Pass 1 links accounts (same clusters at the same times, shared rare infrastructure), finds
    communities and scores each for campaign evidence. Pass 2 (when ``neighbours`` — prompt hashes
    and the row indices of each one's nearest prompts — is given) looks among the remaining
    accounts for those whose traffic is significantly enriched next to the flagged campaigns'
    prompts and links them among themselves: low-and-slow resellers that hide behind human timing
    and cover traffic.
    """
    params = params or DetectParams()
    signals = signals.reset_index(drop=True).copy()
    idx = index(signals)
    n = len(signals)
    # an edge needs COACT * coact + INFRA * infra >= edge_threshold with infra <= 1: pairs below
    # that much co-activity are never edges, and are dropped before infrastructure is compared
    floor = max(0.0, (params.edge_threshold - INFRA_WEIGHT) / COACT_WEIGHT - 1e-9)
    rows, cols, coact = coordination(cells, idx, floor, cell_cap=params.cell_cap)
    if infra_used is None:
        infra_used = pd.DataFrame(columns=["account_id", "kind", "value", "n"])
    infra = infra_match(infra_used, idx, rows, cols)
    weight = COACT_WEIGHT * coact + INFRA_WEIGHT * infra
    keep = weight >= params.edge_threshold
    rows, cols, coact, infra, weight = rows[keep], cols[keep], coact[keep], infra[keep], weight[keep]
    community = communities(n, rows, cols, weight, params.seed)

    # What an ordinary account sends: the median over accounts outside every candidate group
    # (campaign accounts must not set the bar they are measured against).
    sizes = np.bincount(community[community >= 0], minlength=1)
    grouped = (community >= 0) & (sizes[np.maximum(community, 0)] >= params.min_campaign_accounts)
    baseline = signals[~grouped] if (~grouped).any() else signals
    typical = {column: float(baseline[column].median()) for _, column in HINTS}
    typical["n_req"] = float(max(baseline["n_req"].median(), 1.0))
    acc = signals[["account_id", "n_req", "first_ts", "last_ts"]].copy()
    acc["score"] = 0.0
    acc["campaign_id"] = None
    acc["group_id"] = None
    acc["reasons"] = ""
    campaigns: list[dict[str, Any]] = []

    def evaluate(labels: np.ndarray, pass_no: int) -> None:
        for k in sorted(set(labels[labels >= 0])):
            member_idx = np.flatnonzero(labels == k)
            if len(member_idx) < params.min_campaign_accounts:
                continue
            members = signals.iloc[member_idx]
            inside = np.isin(rows, member_idx) & np.isin(cols, member_idx)
            pair_infra = float(infra[inside].mean()) if inside.any() else 0.0
            evidence = campaign_evidence(members, prompts, pair_infra, typical, params)
            score = score_evidence(evidence)
            fired = [name for name in WEIGHTS if evidence[name] >= FIRES]
            campaign_id = f"C{len(campaigns) + 1:03d}"
            campaigns.append(
                {
                    "campaign_id": campaign_id,
                    "score": score,
                    "accounts": len(member_idx),
                    "requests": int(members["n_req"].sum()),
                    "first_seen": members["first_ts"].min(),
                    "last_seen": members["last_ts"].max(),
                    "signals": fired,
                    "evidence": evidence,
                    "members": members["account_id"].tolist(),
                    "pass": pass_no,
                }
            )
            where = acc.index[member_idx]
            acc.loc[where, "score"] = score
            acc.loc[where, "group_id"] = campaign_id
            if score >= params.flag_threshold:
                acc.loc[where, "campaign_id"] = campaign_id
                acc.loc[where, "reasons"] = (
                    f"member of campaign {campaign_id} ({len(member_idx)} accounts): " + "; ".join(fired[:4])
                )
            else:
                weak = [name for name in GATES if evidence[name] < FIRES] + [
                    name for name in WEIGHTS if evidence[name] < FIRES and WEIGHTS[name] >= 0.1
                ]
                acc.loc[where, "reasons"] = (
                    f"coordinated with {len(member_idx) - 1} other accounts (group {campaign_id}) "
                    f"but not campaign-like: lacks {', '.join(weak[:3]) or 'enough evidence'}"
                )

    evaluate(community, 1)
    core = acc["campaign_id"].notna().to_numpy()
    if neighbours is not None and neighbours[1].shape[1] and core.any() and (~core).any():
        lift, enriched = near_lift(prompts, neighbours, signals["account_id"][core].to_numpy(), params.enrich_p)
        signals["near_lift"] = signals["account_id"].map(lift)
        suspects = signals["account_id"].map(enriched).fillna(False).to_numpy(bool) & ~core
        both = suspects[rows] & suspects[cols]
        # the suspects are few and already filtered: any link between two of them joins their groups
        second = components(n, rows[both], cols[both])
        evaluate(second, 2)  # accounts re-grouped in pass 2 leave their pass-1 group

    # Accounts outside flagged campaigns keep at least their own (sub-threshold) score, for ranking.
    # (their volume is measured against every account, the campaign gates against ordinary ones)
    alone, alone_reasons = individual(signals, float(max(signals["n_req"].median(), 1.0)))
    member = acc["campaign_id"].notna().to_numpy()
    grouped = acc["group_id"].notna().to_numpy()
    acc["score"] = np.where(member, acc["score"], np.maximum(acc["score"].to_numpy(float), alone))
    acc.loc[~grouped, "reasons"] = np.asarray(alone_reasons, dtype=object)[~grouped]
    acc["flagged"] = member
    edges = pd.DataFrame(
        {
            "a": signals["account_id"].to_numpy()[rows],
            "b": signals["account_id"].to_numpy()[cols],
            "coactivity": coact,
            "infra": infra,
            "weight": weight,
        }
    )
    camp = pd.DataFrame(campaigns)
    if not camp.empty:
        camp = camp.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return Detection(accounts=acc, campaigns=camp, edges=edges, signals=signals)
