"""Campaign detection: link accounts that work the same semantic regions at the same times from
shared infrastructure, group them into communities, and score each community for the hallmarks
of a distillation campaign (a coverage sweep: many accounts, disjoint prompts, even load,
persistent scripted timing, templated / reasoning-elicitation / grading prompts).

Everything here works on the DataFrames :meth:`Store.account_signals` returns; the scores are
sums of named evidence, so every score comes with its reasons in words.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .errors import ClusterkitError
from .lineage import package_versions

__all__ = ["DetectParams", "Detection", "detect"]


@dataclass(frozen=True)
class DetectParams:
    """Tunable thresholds; defaults are set on simulated logs and documented in the README."""

    edge_threshold: float = 0.35
    min_campaign_accounts: int = 3
    flag_threshold: float = 0.5
    min_span_hours: float = 12.0
    seed: int = 42


@dataclass
class Detection:
    """Per-account scores and per-campaign summaries."""

    accounts: pd.DataFrame
    campaigns: pd.DataFrame
    edges: pd.DataFrame = field(default_factory=pd.DataFrame)


def _index(signals: pd.DataFrame) -> dict[str, int]:
    return {a: i for i, a in enumerate(signals["account_id"])}


def _coactivity(cells: pd.DataFrame, idx: dict[str, int]) -> Any:
    """Cosine similarity of accounts over (cluster, time window) cells, rare cells weighing more."""
    from scipy.sparse import csr_matrix, diags

    if cells.empty:
        return csr_matrix((len(idx), len(idx)))
    keys = cells["cluster"].astype(np.int64) * 10_000_000 + cells["window"].astype(np.int64)
    codes, uniq = pd.factorize(keys)
    rows = cells["account_id"].map(idx).to_numpy()
    a = csr_matrix((np.ones(len(cells)), (rows, codes)), shape=(len(idx), len(uniq)))
    per_cell = np.asarray((a > 0).sum(axis=0)).ravel()
    idf = np.log1p(len(idx) / np.maximum(per_cell, 1))
    aw = a @ diags(idf)
    gram = (aw @ aw.T).tocsr()
    norms = np.sqrt(np.maximum(gram.diagonal(), 1e-12))
    inv = diags(1 / norms)
    sim = (inv @ gram @ inv).tocoo()
    keep = sim.row < sim.col
    return sim.row[keep], sim.col[keep], sim.data[keep]


# (column, peer-count column, strength of a shared value, largest share of accounts for "rare")
_INFRA = (
    ("ip_prefix", "ip_peers", 0.6, 0.05),
    ("user_agent", "ua_peers", 0.4, 0.10),
    ("org_id", "org_peers", 0.8, 0.05),
    ("system_hash", "sys_peers", 0.6, 0.20),
)


def _infra_match(signals: pd.DataFrame, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """0..1 per pair: 1 - prod(1 - strength) over the rare values the two accounts share
    (an IP prefix, a client, an organisation, a system prompt)."""
    n = len(signals)
    miss = np.ones(len(rows))
    for col, peers, strength, rare in _INFRA:
        values = signals[col].to_numpy()
        share = (signals[peers].to_numpy() + 1) / max(n, 1)
        same = (values[rows] == values[cols]) & pd.notna(values[rows]) & (share[rows] <= rare)
        miss *= 1 - strength * same
    return 1 - miss


def _communities(n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, seed: int) -> np.ndarray:
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


def _entropy(counts: np.ndarray) -> float:
    counts = counts[counts > 0]
    if len(counts) < 2:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(counts)))


def _campaign_evidence(
    members: pd.DataFrame, prompts: pd.DataFrame, pair_infra: float, typical_volume: float, params: DetectParams
) -> dict[str, float]:
    """Named evidence (each 0..1) that a community is a distillation campaign."""
    mine = prompts[prompts["account_id"].isin(members["account_id"])]
    per_prompt = mine.groupby("prompt_hash")["account_id"].nunique()
    disjoint = float((mine["prompt_hash"].map(per_prompt) == 1).mean()) if len(mine) else 0.0
    span = (members["last_ts"].max() - members["first_ts"].min()).total_seconds() / 3600
    return {
        "sustained volume per account": float(np.clip(members["n_req"].median() / (4 * typical_volume), 0, 1)),
        "coverage sweep (accounts send disjoint prompts)": disjoint * (1 - float(members["popular_share"].mean())),
        "even load across accounts": _entropy(members["n_req"].to_numpy(dtype=float)),
        "persistent (active over a day or more)": float(min(1.0, span / max(params.min_span_hours * 2, 1e-9))),
        "round-the-clock timing": float(members["hour_entropy"].mean()),
        "scripted regular timing": float(np.clip(1 - members["gap_cv"].median() / 1.5, 0, 1)),
        "shared client or infrastructure": pair_infra,
        "templated prompts": float(members["template_share"].mean()),
        "reasoning elicitation (chain of thought)": float(members["cot_share"].mean()),
        "grader / rubric prompts": float(members["grader_share"].mean()),
    }


_WEIGHTS = {
    "sustained volume per account": 0.15,
    "coverage sweep (accounts send disjoint prompts)": 0.25,
    "even load across accounts": 0.10,
    "persistent (active over a day or more)": 0.10,
    "round-the-clock timing": 0.10,
    "scripted regular timing": 0.10,
    "shared client or infrastructure": 0.10,
    "templated prompts": 0.04,
    "reasoning elicitation (chain of thought)": 0.03,
    "grader / rubric prompts": 0.03,
}
# A campaign runs over time and at volume: a one-off burst (an evaluation) or a handful of
# requests cannot be one, whatever else it looks like. These evidences gate the score.
_GATES = ("sustained volume per account", "persistent (active over a day or more)")
_FIRES = 0.5


def _individual(signals: pd.DataFrame, typical: float) -> tuple[np.ndarray, list[str]]:
    """A small score (< 0.5, never a flag on its own) from one account's own behaviour, for ranking."""
    volume = np.clip(signals["n_req"].to_numpy(float) / (8 * typical), 0, 1)
    clock = signals["hour_entropy"].to_numpy(float)
    regular = np.clip(1 - signals["gap_cv"].to_numpy(float) / 1.5, 0, 1) * (signals["n_req"].to_numpy() >= 5)
    score = 0.4 * (0.4 * volume + 0.3 * clock + 0.3 * regular)
    reasons = []
    for v, c, r in zip(volume, clock, regular):
        words = [w for w, x in (("high volume", v), ("round-the-clock activity", c), ("regular timing", r)) if x >= 0.7]
        reasons.append("not coordinated with other accounts" + (f"; alone: {', '.join(words)}" if words else ""))
    return score, reasons


def detect(
    signals: pd.DataFrame, cells: pd.DataFrame, prompts: pd.DataFrame, params: DetectParams | None = None
) -> Detection:
    """Score every account and group coordinated ones into campaigns."""
    params = params or DetectParams()
    idx = _index(signals)
    n = len(signals)
    rows, cols, coact = _coactivity(cells, idx) if n > 1 else (np.array([], int), np.array([], int), np.array([]))
    infra = _infra_match(signals, rows, cols)
    weight = 0.7 * coact + 0.3 * infra
    keep = weight >= params.edge_threshold
    edges = pd.DataFrame(
        {
            "a": signals["account_id"].to_numpy()[rows[keep]],
            "b": signals["account_id"].to_numpy()[cols[keep]],
            "coactivity": coact[keep],
            "infra": infra[keep],
            "weight": weight[keep],
        }
    )
    community = _communities(n, rows[keep], cols[keep], weight[keep], params.seed)

    # What an ordinary account sends: the median over accounts outside every candidate group
    # (campaign accounts must not set the bar they are measured against).
    sizes = np.bincount(community[community >= 0]) if (community >= 0).any() else np.zeros(0, int)
    grouped = (community >= 0) & (sizes[np.maximum(community, 0)] >= params.min_campaign_accounts)
    baseline = signals["n_req"][~grouped] if (~grouped).any() else signals["n_req"]
    typical = float(max(baseline.median(), 1.0))
    acc = signals[["account_id", "n_req", "first_ts", "last_ts"]].copy()
    acc["score"] = 0.0
    acc["flagged"] = False
    acc["campaign_id"] = None
    acc["group_id"] = None
    acc["reasons"] = ""
    campaigns = []
    for k in sorted(set(community[community >= 0])):
        member_idx = np.flatnonzero(community == k)
        if len(member_idx) < params.min_campaign_accounts:
            continue
        members = signals.iloc[member_idx]
        inside = np.isin(rows[keep], member_idx) & np.isin(cols[keep], member_idx)
        pair_infra = float(infra[keep][inside].mean()) if inside.any() else 0.0
        evidence = _campaign_evidence(members, prompts, pair_infra, typical, params)
        score = float(sum(_WEIGHTS[name] * value for name, value in evidence.items()))
        score *= float(np.prod([np.sqrt(evidence[g]) for g in _GATES]))
        fired = [name for name, value in evidence.items() if value >= _FIRES]
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
            }
        )
        where = acc.index[member_idx]
        acc.loc[where, "score"] = score
        acc.loc[where, "group_id"] = campaign_id
        if score >= params.flag_threshold:
            acc.loc[where, "campaign_id"] = campaign_id
            acc.loc[where, "reasons"] = f"member of campaign {campaign_id} ({len(member_idx)} accounts): " + "; ".join(
                fired[:4]
            )
        else:
            weak = [name for name, value in evidence.items() if value < _FIRES and _WEIGHTS[name] >= 0.1]
            acc.loc[where, "reasons"] = (
                f"coordinated with {len(member_idx) - 1} other accounts (group {campaign_id}) "
                f"but not campaign-like: lacks {', '.join(weak[:3]) or 'enough evidence'}"
            )
    # Accounts outside flagged campaigns keep at least their own (sub-threshold) score, for ranking.
    # (their volume is measured against every account, the campaign gates against ordinary ones)
    alone, alone_reasons = _individual(signals, float(max(signals["n_req"].median(), 1.0)))
    member = acc["campaign_id"].notna().to_numpy()
    grouped = acc["group_id"].notna().to_numpy()
    acc["score"] = np.where(member, acc["score"], np.maximum(acc["score"].to_numpy(float), alone))
    acc.loc[~grouped, "reasons"] = np.asarray(alone_reasons, dtype=object)[~grouped]
    acc["flagged"] = pd.Series(member, index=acc.index)
    camp = pd.DataFrame(campaigns)
    if not camp.empty:
        camp = camp.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return Detection(accounts=acc, campaigns=camp, edges=edges)


# -- store-backed orchestration ---------------------------------------------------------------

_ACCOUNT_SIGNALS = (
    "n_req",
    "span_hours",
    "n_clusters",
    "unique_share",
    "popular_share",
    "template_share",
    "cot_share",
    "grader_share",
    "hour_entropy",
    "gap_cv",
    "ua_peers",
    "ip_peers",
    "org_peers",
    "sys_peers",
)


@dataclass(frozen=True)
class ScoreResult:
    """What ``score`` produced (or found already stored)."""

    run_id: int
    cluster_run_id: int
    n_accounts: int
    n_flagged: int
    n_campaigns: int
    reused: bool


def score(
    store: Any, *, cluster_run_id: int | None = None, params: DetectParams | None = None, window_hours: float = 6.0
) -> ScoreResult:
    """Score every account of a cluster run (default: the latest) and store the campaigns."""
    params = params or DetectParams()
    cluster_run_id = cluster_run_id or store.latest_run("cluster")
    if cluster_run_id is None:
        raise ClusterkitError("no cluster run yet: run `clusterkit cluster` (or `clusterkit run LOG`) first")
    run_params = {**asdict(params), "window_hours": window_hours, "cluster_run_id": cluster_run_id}
    found = store.find_run("score", run_params)
    if found is not None:
        stats = store.run(found)["stats"]
        return ScoreResult(found, cluster_run_id, stats["accounts"], stats["flagged"], stats["campaigns"], True)
    run_id = store.start_run(
        "score",
        run_params,
        parent_run_id=cluster_run_id,
        versions=package_versions("networkx", "scipy", "scikit-learn"),
    )
    try:
        t0 = time.perf_counter()
        inputs = store.account_signals(cluster_run_id, int(window_hours * 3600))
        t1 = time.perf_counter()
        signals = inputs["signals"]
        det = detect(signals, inputs["cells"], inputs["prompts"], params)
        acc = det.accounts
        table = pd.DataFrame(
            {
                "account_id": acc["account_id"].astype(str),
                "score": acc["score"].astype(float).clip(0, 1),
                "flagged": acc["flagged"].astype(bool),
                "campaign_id": acc["campaign_id"],
                "reasons": acc["reasons"].astype(str),
                "n_requests": acc["n_req"].astype("int64"),
                "signals": [
                    orjson.dumps({k: _plain(v) for k, v in row.items()}).decode()
                    for row in signals[list(_ACCOUNT_SIGNALS)].to_dict(orient="records")
                ],
            }
        )
        camp = det.campaigns
        if not camp.empty:
            members = pd.DataFrame(
                [(c, a) for c, ms in zip(camp["campaign_id"], camp["members"]) for a in ms],
                columns=["campaign_id", "account_id"],
            )
            context = store.campaign_context(cluster_run_id, members).set_index("campaign_id")
            camp = pd.DataFrame(
                {
                    "campaign_id": camp["campaign_id"],
                    "score": camp["score"].astype(float),
                    "flagged": camp["score"] >= params.flag_threshold,
                    "n_accounts": camp["accounts"].astype("int32"),
                    "n_requests": camp["requests"].astype("int64"),
                    "first_seen": camp["first_seen"],
                    "last_seen": camp["last_seen"],
                    "signals": camp["signals"],
                    "evidence": [orjson.dumps(e).decode() for e in camp["evidence"]],
                    "keywords": [list(context.loc[c, "keywords"]) for c in camp["campaign_id"]],
                    "examples": [list(context.loc[c, "examples"]) for c in camp["campaign_id"]],
                }
            )
        store.write_scores(run_id, table, camp)
        store.write_group_signals(run_id, cluster_run_id)
        t2 = time.perf_counter()
    except BaseException as exc:
        store.finish_run(run_id, status="failed", stats={"error": str(exc)[:500]})
        raise
    stats = {
        "accounts": len(table),
        "flagged": int(table["flagged"].sum()),
        "campaigns": int((camp["flagged"]).sum()) if len(camp) else 0,
    }
    store.finish_run(run_id, status="ok", timings={"signals": t1 - t0, "detect": t2 - t1}, stats=stats)
    return ScoreResult(run_id, cluster_run_id, stats["accounts"], stats["flagged"], stats["campaigns"], False)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if value != value else round(float(value), 4)
    return value
