"""``detect``: score every account and group coordinated ones into campaigns, on the DataFrames
:func:`clusterkit.campaigns.signals.detection_inputs` returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix

from .calibrate import calibrate
from .evidence import (
    APPLICATION,
    DISGUISED,
    FIRES,
    GATES,
    HINTS,
    WEIGHTS,
    GroupEvidence,
    elicit_shares,
    individual,
    near_lift,
    score_evidence,
)
from .linking import (
    COACT_WEIGHT,
    CONTENT_CORE,
    INFRA_WEIGHT,
    STRANGER_P,
    ContentLinks,
    InfraIndex,
    SharedTemplates,
    bursts,
    communities,
    components,
    coordination,
    cores,
    index,
    operations,
    successions,
)
from .params import FALLBACK_THRESHOLD, MIN_CAMPAIGN_SCORE, DetectParams

__all__ = ["PASS_CONTENT", "PASS_LINKED", "PASS_NEAR", "PASS_SWARM", "Detection", "detect"]

#: the highest account score of an unflagged account (flagged ones score 0.5 and more)
UNFLAGGED_MAX = 0.4999
#: the passes that form candidate groups (recorded as each campaign's ``pass``)
PASS_LINKED, PASS_SWARM, PASS_CONTENT, PASS_NEAR = 1, 2, 3, 4


@dataclass
class Detection:
    """Per-account scores and per-campaign summaries."""

    accounts: pd.DataFrame
    campaigns: pd.DataFrame
    edges: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the input signals plus those computed during detection (``near_lift``)
    signals: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per pass: candidates tested, whether they were calibrated, and the pool of ordinary accounts
    calibration: list[dict[str, Any]] = field(default_factory=list)
    #: flagged groups joined as one operation: the campaign kept, the groups joined, the link
    merges: list[dict[str, Any]] = field(default_factory=list)


def detect(
    signals: pd.DataFrame,
    cells: pd.DataFrame,
    prompts: pd.DataFrame,
    *,
    infra_used: pd.DataFrame | None = None,
    neighbours: tuple[np.ndarray, np.ndarray] | None = None,
    app_likeness: Mapping[str, float] | None = None,
    elicits: Mapping[str, float] | None = None,
    params: DetectParams | None = None,
) -> Detection:
    """Score every account and group coordinated ones into campaigns.

    Pass 1 links accounts (same clusters at the same times, or taking over from one another;
    shared rare infrastructure), finds communities and scores each for campaign evidence. Pass 2
    scores swarms: bursts of new accounts sharing a value - an infrastructure value or a semantic
    cluster they work (:func:`.linking.bursts`). Pass 3 (when ``neighbours`` — prompt hashes
    and the row indices of each one's nearest prompts — is given) looks among the remaining
    accounts for those whose traffic is significantly enriched next to the flagged campaigns'
    prompts and links them among themselves: low-and-slow resellers that hide behind human timing
    and cover traffic.

    ``app_likeness`` maps mined templates (``prompts["template"]``) to how much their fixed part
    reads as a transformation of the user's own text (:mod:`.intent`): a group whose traffic is one
    such task is an application, not a campaign. ``elicits`` maps them (scripted follow-ups too) to
    how clearly their fixed part asks for the model's own reasoning, answers or grades
    (:func:`.intent.template_intents`; none elicit when not given).

    Last, flagged groups linked to one another as much as within themselves are joined into one
    campaign (:func:`.linking.operations`; recorded in ``Detection.merges``).
    """
    params = params or DetectParams()
    signals = signals.reset_index(drop=True).copy()
    signals["elicit_share"] = elicit_shares(prompts, signals["account_id"], elicits)
    idx = index(signals)
    n = len(signals)
    # an edge needs COACT * coact + INFRA * infra >= edge_threshold with infra <= 1: pairs below
    # that much co-activity are never edges, and are dropped before infrastructure is compared
    floor = max(0.0, (params.edge_threshold - INFRA_WEIGHT) / COACT_WEIGHT - 1e-9)
    rows, cols, coact = coordination(cells, idx, floor, cell_cap=params.cell_cap)
    # relays are never active together: accounts that take over from one another link as well
    # (a pair found both ways keeps the stronger link)
    r2, c2, relay = successions(signals, cells, idx, floor)
    rows, cols, coact = _union_pairs(n, (rows, cols, coact), (np.minimum(r2, c2), np.maximum(r2, c2), relay))
    if infra_used is None:
        infra_used = pd.DataFrame(columns=["account_id", "kind", "value", "n"])
    infra_index = InfraIndex(infra_used, idx)
    infra = infra_index.match(rows, cols)
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

    # accounts whose prompts are one another's nearest neighbours, whenever they are sent
    content = ContentLinks(prompts, neighbours, idx) if neighbours is not None else None
    # accounts that wrap their prompts in the same mined templates, whenever they send them
    phrasing = SharedTemplates(prompts, idx, app_likeness)
    evidence_of = GroupEvidence(signals, prompts, infra_index, idx, typical, params, app_likeness, content, phrasing)
    rng = np.random.default_rng(params.seed)
    calibrations: list[dict[str, Any]] = []

    def purified(members: np.ndarray) -> np.ndarray:
        """A group without the members outside its shared phrasing (where most members share one
        script's templates, an account that sends none of them was taken in by its other links) or
        off its pace (where most keep clockwork timing, a clearly human one) or keeping the address
        and client the group rotates request by request: candidates and the null groups they are
        calibrated against alike."""
        return members[
            ~(phrasing.strangers(members) | evidence_of.off_pace(members) | infra_index.unrotated(members, STRANGER_P))
        ]

    def group_score(members: np.ndarray) -> float:
        return score_evidence(evidence_of(purified(members), rng))

    def candidates(labels: np.ndarray) -> tuple[list[np.ndarray], list[dict[str, float]], np.ndarray]:
        """The groups of ``labels`` large enough to be campaigns (purified), their evidence and scores."""
        groups = [purified(np.flatnonzero(labels == k)) for k in sorted(set(labels[labels >= 0]))]
        groups = [g for g in groups if len(g) >= params.min_campaign_accounts]
        evidences = [evidence_of(g, rng) for g in groups]
        return groups, evidences, np.array([score_evidence(e) for e in evidences])

    def members_of(groups: list[np.ndarray], raw: np.ndarray, at_least: float = -np.inf) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for g, r in zip(groups, raw):
            out[g] |= r >= at_least
        return out

    def evaluate(
        found: tuple[list[np.ndarray], list[dict[str, float]], np.ndarray],
        pass_no: int,
        pool: np.ndarray,
        peers: Any = None,
    ) -> None:
        """Calibrate the candidate groups ``found`` against matched random groups of the ``pool``
        accounts and record them.

        With ``peers`` the null groups are drawn along the pass's own links, and only candidates
        that could be flagged at all leave the pool: the pass's candidates are mostly ordinary
        communities - people asking about one niche - and taking them all out would leave the
        null none of their like."""
        groups, evidences, raw = found
        grouped = members_of(groups, raw)
        contenders = members_of(groups, raw, MIN_CAMPAIGN_SCORE)
        cal = None
        if params.flag_threshold is None:
            cal = calibrate(
                groups,
                raw,
                group_score,
                cells=cells,
                idx=idx,
                n_req=evidence_of.n_req,
                pool=pool & ~(grouped if peers is None else contenders),
                seed=params.seed + pass_no,
                n_null=params.null_groups,
                peers=peers,
            )
        threshold = params.flag_threshold if params.flag_threshold is not None else FALLBACK_THRESHOLD
        calibrations.append(
            {"pass": pass_no, "candidates": len(groups), "calibrated": cal is not None, "pool": cal.pool if cal else 0}
        )
        for k, (member_idx, evidence, score) in enumerate(zip(groups, evidences, raw)):
            flagged = (
                bool(cal.q_values[k] <= params.fdr and score >= MIN_CAMPAIGN_SCORE)
                if cal is not None
                else bool(score >= threshold)
            )
            confidence = (
                {
                    "p_value": float(cal.p_values[k]),
                    "q_value": float(cal.q_values[k]),
                    "expected_false_groups": float(cal.expected_false[k]),
                    "tested": len(groups),
                }
                if cal is not None
                else {"p_value": None, "q_value": None, "expected_false_groups": None, "tested": len(groups)}
            )
            campaign_id = f"C{len(campaigns) + 1:03d}"
            campaigns.append(record(campaign_id, member_idx, evidence, float(score), flagged, confidence, pass_no))

    def record(
        campaign_id: str,
        member_idx: np.ndarray,
        evidence: dict[str, float],
        score: float,
        flagged: bool,
        confidence: dict[str, Any],
        pass_no: int,
        merged_from: tuple[list[str], str] | None = None,
    ) -> dict[str, Any]:
        """A group's campaign record, its members' scores, group and reasons written into ``acc``."""
        members = signals.iloc[member_idx]
        fired = [name for name in (*WEIGHTS, DISGUISED) if evidence[name] >= FIRES]
        where = acc.index[member_idx]
        # the account score keeps "flagged <=> score >= 0.5", however the decision was made:
        # flagged groups map onto the upper half, others onto the lower, ordered by group score
        shown = 0.5 + 0.5 * score if flagged else min(0.5 * score, UNFLAGGED_MAX)
        acc.loc[where, "score"] = shown
        acc.loc[where, "group_id"] = campaign_id
        if flagged:
            acc.loc[where, "campaign_id"] = campaign_id
            joined = (
                f"; one operation of groups {', '.join(merged_from[0])}, linked by {merged_from[1]} as much as within"
                if merged_from
                else ""
            )
            acc.loc[where, "reasons"] = (
                f"member of campaign {campaign_id} ({len(member_idx)} accounts"
                f"{_confidence_words(confidence)}{joined}): " + "; ".join(fired[:4])
            )
        else:
            # (a gate that also weighs is named once)
            weak = list(
                dict.fromkeys(
                    [name for name in GATES if evidence[name] < FIRES]
                    + [name for name in WEIGHTS if evidence[name] < FIRES and WEIGHTS[name] >= 0.1]
                )
            )
            if evidence[APPLICATION] >= FIRES:
                why = f"looks like an application: {APPLICATION} ({evidence[APPLICATION]:.0%} of its templated traffic)"
            elif confidence["q_value"] is not None and score >= MIN_CAMPAIGN_SCORE:
                why = f"as campaign-like as chance groups of ordinary accounts{_confidence_words(confidence)}"
            else:
                why = f"not campaign-like: lacks {', '.join(weak[:3]) or 'enough evidence'}"
            acc.loc[where, "reasons"] = (
                f"coordinated with {len(member_idx) - 1} other accounts (group {campaign_id}) but {why}"
            )
        return {
            "campaign_id": campaign_id,
            "score": score,
            "flagged": flagged,
            **{key: confidence[key] for key in ("p_value", "q_value", "expected_false_groups")},
            "accounts": len(member_idx),
            "requests": int(members["n_req"].sum()),
            "first_seen": members["first_ts"].min(),
            "last_seen": members["last_ts"].max(),
            "signals": fired,
            "evidence": evidence,
            "members": members["account_id"].tolist(),
            "pass": pass_no,
            "tested": confidence["tested"],
        }

    def merge_operations(content_links: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> list[dict[str, Any]]:
        """Join the groups that are one operation (:func:`.linking.operations`) with a flagged
        campaign into the first flagged one: its evidence and score are the union's, its confidence
        the least confident flagged part's. An unflagged candidate joins only where its evidence
        opens the gates (score at least ``MIN_CAMPAIGN_SCORE``) and it is one operation with a flagged
        campaign: a few accounts of a campaign that a pass grouped apart are too few to be significant
        on their own (q 0.07 for three of a reseller network's accounts on tuning cell k10, linked
        to its flagged part by shared phrasing at 0.98 of the part's own). Returns what was joined."""
        flagged = [c for c in campaigns if c["flagged"]]
        if not flagged:
            return []
        current = acc["campaign_id"].to_numpy()
        grouped_in = acc["group_id"].to_numpy()
        parts = [np.flatnonzero(current == c["campaign_id"]) for c in flagged]
        # (an unflagged group's accounts that a later pass re-grouped are no longer its own)
        joinable = []
        for c in campaigns:
            if not c["flagged"] and c["score"] >= MIN_CAMPAIGN_SCORE:
                own = np.flatnonzero((grouped_in == c["campaign_id"]) & pd.isna(current))
                if len(own):
                    joinable.append(c)
                    parts.append(own)
        if len(parts) < 2:
            return []
        pieces = flagged + joinable
        links = [("shared phrasing", _symmetric(n, phrasing.links()))]
        if content_links is not None:
            links.insert(0, ("one semantic sweep", _symmetric(n, content_links)))
        labels, how = operations(parts, n, infra_index, links, params.seed)
        done = []
        for label in np.unique(labels):
            joined = np.flatnonzero(labels == label)
            if len(joined) < 2 or joined[0] >= len(flagged):  # (only flagged parts come first)
                continue
            first = pieces[joined[0]]
            ids = [pieces[j]["campaign_id"] for j in joined]
            members = np.concatenate([parts[j] for j in joined])
            evidence = evidence_of(members, rng)
            weakest = max(
                (j for j in joined if j < len(flagged)),
                key=lambda j: (flagged[j]["q_value"] or 0.0, -flagged[j]["score"]),
            )
            confidence = {
                key: flagged[weakest][key] for key in ("p_value", "q_value", "expected_false_groups", "tested")
            }
            kinds = ", ".join(dict.fromkeys(how[j] for j in joined if how[j]))
            merged = record(
                first["campaign_id"],
                members,
                evidence,
                float(score_evidence(evidence)),
                True,
                confidence,
                first["pass"],
                (ids, kinds),
            )
            campaigns[campaigns.index(first)] = merged
            campaigns[:] = [c for c in campaigns if c["campaign_id"] not in ids[1:]]
            unflagged = [pieces[j]["campaign_id"] for j in joined if j >= len(flagged)]
            done.append(
                {
                    "into": first["campaign_id"],
                    "groups": ids,
                    "unflagged": unflagged,
                    "linked_by": kinds,
                    "accounts": len(members),
                }
            )
        return done

    # Candidate groups of the first three passes are formed before any is calibrated: an
    # undetected campaign of a later pass must not sit in an earlier pass's null (a null group
    # seeded on one swarm account and grown through the clusters it works is that swarm).
    first = candidates(community)
    in_pass1 = members_of(first[0], first[2])
    # swarms: many accounts with a handful of requests each link to nobody by co-activity; bursts
    # of new accounts sharing a value are their candidate groups (outside pass 1's groups)
    # (a swarm on rotated infrastructure shares no client or address, but its accounts arrive
    # together in the semantic regions they work: each cluster is a value too)
    swarm = bursts(signals, pd.concat([infra_used, _regions(cells)], ignore_index=True), idx, params.seed)
    # (a pass-1 group that cannot be a campaign at all keeps no account from a swarm: a swarm's
    # hand-overs can link it into a few pieces, each too small to be one)
    contenders1 = members_of(first[0], first[2], MIN_CAMPAIGN_SCORE)
    swarm[contenders1] = -1
    second = candidates(swarm)
    in_swarms = members_of(second[0], second[2])
    third: tuple[list[np.ndarray], list[dict[str, float]], np.ndarray] = ([], [], np.zeros(0))
    linked = None
    content_links = None
    if content is not None:
        # pass 3: accounts in no group so far that send slices of one semantic sweep (relays with
        # long hand-overs, resellers behind human timing)
        # (accounts of earlier candidates were judged with the group they came in; an account
        # sending fewer requests than the ordinary account carries no slice of a sweep)
        free = ~in_pass1 & ~in_swarms & (evidence_of.n_req >= typical["n_req"])
        # (and those sharing a wrapper: a reseller network's harvest behind one operator's phrasing)
        content_links = content.links()
        c_rows, c_cols, c_strength = _union_pairs(n, content_links, phrasing.links(free))
        both = free[c_rows] & free[c_cols]
        by_content = communities(n, c_rows[both], c_cols[both], c_strength[both], params.seed)
        by_content = cores(by_content, c_rows[both], c_cols[both], CONTENT_CORE)
        linked = coo_matrix((c_strength, (c_rows, c_cols)), shape=(n, n))
        third = candidates(by_content)
    in_content = members_of(third[0], third[2])
    # (pass 3's accounts are outside the earlier passes' groups already)
    later = [members_of(groups, raw, MIN_CAMPAIGN_SCORE) for groups, _, raw in (second, third)]
    evaluate(first, PASS_LINKED, ~later[0] & ~later[1])
    evaluate(second, PASS_SWARM, ~contenders1 & ~later[1])
    if content is not None:
        evaluate(third, PASS_CONTENT, free, peers=linked + linked.T)
    core = acc["campaign_id"].notna().to_numpy()
    if neighbours is not None and neighbours[1].shape[1] and core.any() and (~core).any():
        near_of = near_lift(prompts, neighbours, signals["account_id"][core].to_numpy(), params.enrich_p)
        signals["near_lift"] = signals["account_id"].map(near_of.lift)
        suspects = signals["account_id"].map(near_of.enriched).fillna(False).to_numpy(bool) & ~core
        # the suspects are few and already filtered: any co-activity link between two of them joins
        # their groups (not content links: an account alone is tested against the log-wide rate, and
        # under an English-only model a language's heavy speakers are all next to a campaign in
        # their language - and content-linked to one another)
        both = suspects[rows] & suspects[cols]
        s_rows, s_cols = rows[both], cols[both]
        # and an unflagged pass-3 group whose traffic, pooled, is enriched next to the campaigns
        # stays one (a reseller network's slices are each too thin to tell on their own)
        names = signals["account_id"].to_numpy()
        for group in third[0]:
            if not core[group].any() and near_of.group_enriched(names[group], params.enrich_p):
                suspects[group] = True
                s_rows, s_cols = np.r_[s_rows, group[:-1]], np.r_[s_cols, group[1:]]
        near = components(n, s_rows, s_cols)
        evidence_of.set_near(signals["near_lift"].to_numpy(float))
        evaluate(
            candidates(near), PASS_NEAR, ~in_pass1 & ~in_swarms & ~in_content & ~core
        )  # accounts re-grouped here leave earlier groups

    # Flagged groups that are one operation - a swarm split by the windows its communities fall
    # in, a relay whose hand-over pass 1 links and whose slices pass 3 does - become one campaign.
    merges = merge_operations(content_links)

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
    return Detection(
        accounts=acc, campaigns=camp, edges=edges, signals=signals, calibration=calibrations, merges=merges
    )


def _regions(cells: pd.DataFrame) -> pd.DataFrame:
    """Each account's semantic clusters as values (``kind`` "region"), shaped like ``infra_used``."""
    used = cells.groupby(["account_id", "cluster"], as_index=False)["n"].sum()
    return pd.DataFrame(
        {"account_id": used["account_id"], "kind": "region", "value": used["cluster"].astype(str), "n": used["n"]}
    )


def _symmetric(n: int, links: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Any:
    """The (row < col) pairs ``links`` as a symmetric n x n sparse matrix of their strengths."""
    rows, cols, strength = links
    m = coo_matrix((strength, (rows, cols)), shape=(n, n)).tocsr()
    return m + m.T


def _union_pairs(
    n: int, *links: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (row < col) pair list from several, keeping each pair's largest weight."""
    rows = np.concatenate([r for r, _, _ in links]).astype(np.int64)
    cols = np.concatenate([c for _, c, _ in links]).astype(np.int64)
    weight = np.concatenate([w for _, _, w in links]).astype(float)
    if not len(rows):
        return rows, cols, weight
    key = rows * n + cols
    order = np.lexsort((-weight, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    pick = order[first]
    return rows[pick], cols[pick], weight[pick]


def _confidence_words(confidence: dict[str, Any]) -> str:
    if confidence["q_value"] is None:
        return ""
    return (
        f"; q = {confidence['q_value']:.3g}, ~{confidence['expected_false_groups']:.2g} of {confidence['tested']} groups "
        "expected this campaign-like by chance"
    )
