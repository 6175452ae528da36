"""Campaign detection end to end on a simulated log: every planted campaign style is detected and
grouped; no benign look-alike (heavy app, evaluation team, classroom, popular prompts) is flagged."""

import csv
import json

import numpy as np
import pandas as pd
import pytest

from clusterkit.campaigns import DetectParams, detect, score
from clusterkit.campaigns.detect import PASS_NEAR
from clusterkit.campaigns.params import MIN_CAMPAIGN_SCORE
from clusterkit.cli import main
from clusterkit.evaluate import evaluate, load_truth
from clusterkit.store import Store

CAMPAIGNS = [
    "campaign:broad_sweep",
    "campaign:cot_extraction",
    "campaign:grader",
    "campaign:agentic_coding",
    "campaign:zh_sweep",
]
BENIGN = ["benign:heavy_app", "benign:eval_team", "benign:classroom"]


@pytest.fixture(scope="module")
def scored(scored_sim):
    # the one-command path (conftest): ingest -> embed -> map -> cluster -> score -> report
    db, sim, truth = scored_sim
    with Store(db) as store:
        result = score(store)  # the stored score run, reused
        assert result.reused
        accounts = store.account_scores(result.run_id)
        campaigns = store.campaigns(result.run_id)
    return db, sim, result, accounts.merge(truth, on="account_id", how="left"), campaigns


@pytest.mark.slow
@pytest.mark.parametrize("group", CAMPAIGNS)
def test_each_planted_campaign_is_flagged_and_grouped(scored, group):
    _, _, _, accounts, _ = scored
    members = accounts[accounts["group"] == group]
    assert len(members) >= 3  # campaign sizes vary
    assert members["flagged"].all(), members[["account_id", "score", "reasons"]]
    assert members["campaign_id"].nunique() == 1 and members["campaign_id"].notna().all()
    # no ordinary or benign account is swept into it (a reseller slice of the same sweep may be)
    others = accounts[(accounts["campaign_id"] == members["campaign_id"].iloc[0]) & (accounts["group"] != group)]
    assert (others["label"] == "campaign").all(), others[["account_id", "group"]]


@pytest.mark.slow
@pytest.mark.parametrize("group", ["campaign:grader", "campaign:cot_extraction"])
def test_templates_are_mined_from_the_data(scored, group):
    """The grader rubric and the reasoning instruction wrap varying questions: found as shared
    prefixes/suffixes, not from keyword lists."""
    _, _, _, accounts, campaigns = scored
    cid = accounts.loc[accounts["group"] == group, "campaign_id"].iloc[0]
    evidence = json.loads(campaigns.set_index("campaign_id").loc[cid, "evidence"])
    assert evidence["templated prompts"] >= 0.9
    assert "templated prompts" in campaigns.set_index("campaign_id").loc[cid, "signals"]


@pytest.mark.slow
@pytest.mark.parametrize("group", [*BENIGN, "organic"])
def test_benign_look_alikes_are_not_flagged(scored, group):
    _, _, _, accounts, _ = scored
    members = accounts[accounts["group"] == group]
    assert len(members) > 0
    assert not members["flagged"].any(), members[members["flagged"]][["account_id", "score", "reasons"]]


@pytest.mark.slow
def test_scores_reasons_and_campaigns_are_stored(scored):
    db, _, result, accounts, campaigns = scored
    assert accounts["score"].between(0, 1).all() and (accounts["reasons"].str.len() > 0).all()
    flagged = campaigns[campaigns["flagged"]]
    assert len(flagged) == result.n_campaigns == len(CAMPAIGNS)
    for row in flagged.itertuples():
        assert row.n_accounts >= 3 and row.n_requests > 0 and row.first_seen < row.last_seen
        assert len(row.keywords) > 0 and 1 <= len(row.examples) <= 3 and len(row.signals) >= 3
        assert len(set(row.keywords)) == len(row.keywords)  # merged from several clusters, once each
    with Store(db) as store:
        members = accounts.loc[accounts["flagged"], "account_id"].tolist()
        edges = store.account_edges(result.run_id, members)
        assert len(edges) >= len(members) / 2 and edges["weight"].between(0, 1).all()
        again = score(store)
        assert store.run(result.run_id)["parent_run_id"] == store.latest_run("cluster")
    assert again.reused and again.run_id == result.run_id


@pytest.mark.slow
def test_evaluation_on_the_simulated_truth(scored):
    _, sim, _, accounts, _ = scored
    ev = evaluate(accounts, load_truth(sim.truth_path))
    assert ev.average_precision >= 0.9
    assert ev.flagged_fpr == 0.0
    assert ev.ari >= 0.8


@pytest.mark.slow
def test_cli_exports(scored, tmp_path, capsys):
    db, sim, _, _, _ = scored
    out = tmp_path / "accounts.csv"
    assert main(["accounts", "--db", str(db), "--format", "csv", "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:5] == ["account_id", "score", "flagged", "campaign_id", "reasons"]
    assert len(rows) == sim.n_accounts
    assert main(["campaigns", "--db", str(db), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sum(c["flagged"] for c in listed) == len(CAMPAIGNS)
    assert main(["evaluate", "--db", str(db), "--truth", str(sim.truth_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["flagged_fpr"] == 0.0


def _account(account_id: str, n_req: int, hours: float, *, scripted: bool) -> dict:
    ts = pd.Timestamp("2026-03-01", tz="UTC")
    return {
        "account_id": account_id,
        "n_req": n_req,
        "n_prompts": n_req,
        "first_ts": ts,
        "last_ts": ts + pd.Timedelta(hours=hours),
        "span_hours": hours,
        "n_clusters": 3,
        "noise_share": 0.0,
        "top_cluster_share": 0.4,
        "unique_share": 1.0,
        "popular_share": 0.0,
        "template_share": 0.5 if scripted else 0.0,
        "hour_entropy": 0.98 if scripted else 0.7,
        "gap_cv": 0.1 if scripted else 2.5,
        "gap_median": 60.0,
        "user_agent": None,
        "ip_prefix": None,
        "org_id": None,
        "system_hash": None,
        "ua_peers": 0,
        "ip_peers": 0,
        "org_peers": 0,
        "sys_peers": 0,
        "pivot_hours": None,
    }


def _cells(account_id: str, clusters, windows, n: int) -> list[dict]:
    return [
        {"account_id": account_id, "cluster": c, "window": w, "n": n, "n_prompts": n} for c in clusters for w in windows
    ]


def test_detect_on_hand_made_signals():
    """Three accounts sweeping one region together at volume from a shared proxy network, two
    casual users: only the three, linked through their activity and their rotating prefixes."""
    signals = pd.DataFrame(
        [_account(f"a{i}", 60, 48, scripted=True) for i in range(3)]
        + [_account(f"a{i}", 4, 2, scripted=False) for i in (3, 4)]
    )
    cells = pd.DataFrame(
        [c for i in range(3) for c in _cells(f"a{i}", range(3), range(8), 5)]
        + _cells("a3", [0], [1], 4)
        + _cells("a4", [2], [5], 4)
    )
    prompts = pd.DataFrame(
        [
            {"account_id": f"a{i}", "prompt_hash": f"p{i}-{j}", "n": 1}
            for i in range(5)
            for j in range(60 if i < 3 else 4)
        ]
    )
    infra = pd.DataFrame(
        [
            {"account_id": f"a{i}", "kind": "ip_prefix", "value": f"10.0.{p}", "n": 20}
            for i in range(3)
            for p in range(3)
        ]
        + [{"account_id": f"a{i}", "kind": "ip_prefix", "value": f"10.9.{i}", "n": 4} for i in (3, 4)]
    )
    det = detect(signals, cells, prompts, infra_used=infra, params=DetectParams(min_campaign_accounts=3))
    flagged = set(det.accounts.loc[det.accounts["flagged"], "account_id"])
    assert flagged == {"a0", "a1", "a2"}
    assert len(det.campaigns) == 1 and det.campaigns["accounts"][0] == 3
    evidence = det.campaigns["evidence"][0]
    assert evidence["shared client or infrastructure"] > 0.5 and evidence["scripted regular timing"] > 0.5
    assert set(det.edges[["a", "b"]].to_numpy().ravel()) == {"a0", "a1", "a2"}


def test_people_co_active_with_a_scripted_fleet_are_not_its_members():
    """Six clockwork workers sweep three regions together; two people ask about the same regions in
    the same windows, at volume, with human gaps: co-activity links all eight, but the two are off
    the fleet's pace and leave its group - neither flagged nor counted in its evidence."""
    signals = pd.DataFrame(
        [_account(f"w{i}", 60, 48, scripted=True) for i in range(6)]
        + [_account(f"h{i}", 60, 48, scripted=False) for i in range(2)]
        + [_account(f"c{i}", 4, 2, scripted=False) for i in range(4)]  # casual users elsewhere
    )
    names = signals["account_id"].tolist()
    cells = pd.DataFrame(
        [c for a in names[:8] for c in _cells(a, range(3), range(8), 5)]
        + [c for i, a in enumerate(names[8:]) for c in _cells(a, [5 + i], [i], 4)]
    )
    prompts = pd.DataFrame(
        [{"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1} for a in names for j in range(60 if a[0] != "c" else 4)]
    )
    det = detect(signals, cells, prompts, params=DetectParams(min_campaign_accounts=3))
    assert len(det.edges) == 28  # all eight linked with all
    flagged = set(det.accounts.loc[det.accounts["flagged"], "account_id"])
    assert flagged == {f"w{i}" for i in range(6)}
    assert det.campaigns["members"][0] == [f"w{i}" for i in range(6)]


def test_off_pace_members_only_where_the_group_keeps_clockwork_pace():
    from clusterkit.campaigns.evidence import GroupEvidence
    from clusterkit.campaigns.linking import InfraIndex, index

    signals = pd.DataFrame(
        [_account(f"w{i}", 60, 48, scripted=True) for i in range(4)]
        + [_account(f"h{i}", 60, 48, scripted=False) for i in range(4)]
        + [_account("few", 3, 1, scripted=False)]
    )
    signals.loc[signals["account_id"] == "h3", "gap_cv"] = 0.5  # irregular, but not far off a fleet's pace
    signals.loc[signals["account_id"] == "h2", "gap_cv"] = 1.0  # a worker sleeping at random (Poisson)
    prompts = pd.DataFrame([{"account_id": a, "prompt_hash": f"{a}-0", "n": 1} for a in signals["account_id"]])
    idx = index(signals)
    no_infra = InfraIndex(pd.DataFrame(columns=["account_id", "kind", "value", "n"]), idx)
    evidence = GroupEvidence(signals, prompts, no_infra, idx, {"n_req": 5.0}, DetectParams())
    # four workers, one person, the random sleeper, h3 and one with too few requests to tell
    fleet = np.array([0, 1, 2, 3, 4, 6, 7, 8])
    assert evidence.off_pace(fleet).tolist() == [False] * 4 + [True, False, False, False]
    people = np.array([4, 5, 0, 1])  # half human: nobody is off its pace
    assert not evidence.off_pace(people).any()


def test_coordination_floor_drops_only_pairs_below_it():
    """Pairs below the floor can never become edges; the rest keep their exact weights, whether
    found all at once or a block of accounts at a time."""
    from clusterkit.campaigns.linking import coordination as _coordination
    from clusterkit.campaigns.linking import index as _index

    rng = np.random.default_rng(4)
    accounts = [f"a{i}" for i in range(40)]
    cells = pd.DataFrame(
        [
            {"account_id": a, "cluster": int(c), "window": int(w), "n": int(rng.integers(1, 9)), "n_prompts": 1}
            for a in accounts
            for c, w in {(int(rng.integers(0, 4)), int(rng.integers(0, 6))) for _ in range(int(rng.integers(2, 10)))}
        ]
    )
    idx = _index(pd.DataFrame({"account_id": accounts}))
    rows, cols, weight = _coordination(cells, idx)
    assert len(rows) > 100 and 0 < (weight < 0.2).sum() < len(rows)  # a floor of 0.2 has pairs to drop
    kept = _coordination(cells, idx, floor=0.2)
    expected = {(r, c): w for r, c, w in zip(rows, cols, weight) if w >= 0.2}
    assert {(r, c): w for r, c, w in zip(*kept)} == pytest.approx(expected)
    assert len(kept[0]) == len(expected)
    blocked = _coordination(cells, idx, floor=0.2, block=7)  # pairs found 7 accounts at a time
    assert {(r, c): w for r, c, w in zip(*blocked)} == pytest.approx(expected) and len(blocked[0]) == len(expected)


def _busy_cells_with_a_small_campaign(seed: int = 1) -> pd.DataFrame:
    """1,500 background accounts spread over 30 clusters x 20 windows (about 40 accounts per cell)
    and a campaign of 8 accounts, each sending one request per window to one of 5 clusters: any two
    of them share only a few cells, every one of them busy."""
    rng = np.random.default_rng(seed)
    n = 24_000
    rows = pd.DataFrame(
        {
            "account_id": [f"o{a}" for a in rng.integers(0, 1500, n)],
            "cluster": rng.integers(0, 30, n),
            "window": rng.integers(0, 20, n),
        }
    )
    campaign = pd.DataFrame(
        [{"account_id": f"c{a}", "cluster": int(rng.integers(0, 5)), "window": w} for a in range(8) for w in range(20)]
    )
    return (
        pd.concat([rows, campaign])
        .groupby(["account_id", "cluster", "window"], as_index=False)
        .size()
        .rename(columns={"size": "n"})
    )


def test_busy_cells_are_split_into_groups_of_at_most_the_cap():
    """Cells with at most ``cap`` accounts keep one key; busier ones are split into groups of at
    most ``cap`` accounts, every row staying within its own cell; the same input gives the same groups."""
    from clusterkit.campaigns.linking import cell_groups as _cell_groups

    cells = _busy_cells_with_a_small_campaign()
    cell = cells["cluster"] * 10_000_000 + cells["window"]
    assert _cell_groups(cells, 10_000).equals(cell)  # no cell is over the cap: unchanged
    keys = _cell_groups(cells, 10)
    per_cell = keys.groupby(cell).nunique()
    accounts = cell.value_counts()
    assert (per_cell.loc[accounts.index] == np.ceil(accounts / 10)).all() and per_cell.max() > 3
    assert keys.value_counts().max() <= 10
    assert keys.groupby(keys).apply(lambda k: cell[k.index].nunique()).eq(1).all()  # a group never spans cells
    assert keys.equals(_cell_groups(cells.sample(frac=1, random_state=0), 10).sort_index())


def test_capped_cells_still_link_a_small_campaign_hidden_in_busy_cells():
    """Splitting busy cells cuts the pairs to compare by several times, yet the campaign's accounts
    (which share only a few busy cells) are still found as pairs: groups follow the regions an
    account works (MinHash), so accounts sweeping the same clusters tend to land together. Groups
    drawn at random find about half of its pairs here (11-18 of 28 over five seeds; these 24-26)."""
    from clusterkit.campaigns.linking import cell_groups as _cell_groups
    from clusterkit.campaigns.linking import index as _index
    from clusterkit.campaigns.linking import profiles as _profiles

    cells = _busy_cells_with_a_small_campaign()
    idx = _index(pd.DataFrame({"account_id": sorted(cells["account_id"].unique())}))
    campaign = [idx[f"c{a}"] for a in range(8)]

    def pairs(keys):
        m = _profiles(keys, cells["account_id"], np.ones(len(cells)), idx)
        linked = (m[campaign] @ m[campaign].T).toarray() > 0
        return (linked.sum() - 8) // 2, (m @ m.T).nnz

    every, all_compared = pairs(cells["cluster"] * 10_000_000 + cells["window"])
    assert every == 28 and all_compared > 700_000
    found, compared = pairs(_cell_groups(cells, 10))
    assert found >= 24 and compared < all_compared / 3


def test_cell_cap_below_two_is_refused():
    with pytest.raises(Exception, match="cell_cap must be at least 2"):
        DetectParams(cell_cap=1)


def test_no_linked_accounts_means_no_campaign():
    """Accounts that never share a cluster and time window: scored alone, none flagged."""
    signals = pd.DataFrame([_account(f"a{i}", 30, 48, scripted=i == 0) for i in range(4)])
    cells = pd.DataFrame([c for i in range(4) for c in _cells(f"a{i}", [i], [i], 30)])
    prompts = pd.DataFrame([{"account_id": f"a{i}", "prompt_hash": f"p{i}", "n": 30} for i in range(4)])
    det = detect(signals, cells, prompts)
    assert det.campaigns.empty and det.edges.empty and not det.accounts["flagged"].any()
    assert (det.accounts["score"] < 0.5).all() and det.accounts["reasons"].str.startswith("not coordinated").all()


@pytest.mark.parametrize("ordinary_share, flagged", [(0.0, True), (0.8, False)])
def test_prompt_hints_count_beyond_what_ordinary_accounts_show(ordinary_share, flagged):
    """Busy users who talk about the same things at the same hours, most of whose prompts fall
    into near-duplicate families: "templated" is their only machine-like evidence. Where ordinary
    accounts show none of that, it flags them; where every account's prompts fall into such
    families (a large log of popular questions, reworded), it says nothing."""
    signals = pd.DataFrame(
        [{**_account(f"u{i}", 60, 48, scripted=False), "template_share": 0.85} for i in range(3)]
        + [{**_account(f"o{i}", 10, 30, scripted=False), "template_share": ordinary_share} for i in range(40)]
    )
    cells = pd.DataFrame(
        [c for i in range(3) for c in _cells(f"u{i}", range(3), range(8), 5)]
        + [c for i in range(40) for c in _cells(f"o{i}", [10 + i % 5], [i % 8], 10)]
    )
    prompts = pd.DataFrame(
        [{"account_id": f"u{i}", "prompt_hash": f"u{i}-{j}", "n": 1} for i in range(3) for j in range(60)]
        + [{"account_id": f"o{i}", "prompt_hash": f"o{i}-{j}", "n": 1} for i in range(40) for j in range(10)]
    )
    det = detect(signals, cells, prompts, params=DetectParams(min_campaign_accounts=3))
    (group,) = det.campaigns.to_dict(orient="records")
    assert sorted(group["members"]) == ["u0", "u1", "u2"]
    expected = (0.85 - ordinary_share) / (1 - ordinary_share)
    assert group["evidence"]["templated prompts"] == pytest.approx(expected)
    assert bool(det.accounts.set_index("account_id").loc[["u0", "u1", "u2"], "flagged"].all()) is flagged
    assert not det.accounts.loc[det.accounts["account_id"].str.startswith("o"), "flagged"].any()


def test_second_pass_finds_low_and_slow_resellers():
    """Resellers: human timing, no shared infrastructure, half their traffic next to a flagged
    campaign's prompts and half cover traffic. Pass 1 must not flag them (nothing machine-like),
    pass 2 must (their traffic is enriched next to the campaign), and busy ordinary users who talk
    about the same things at the same hours must stay unflagged."""
    signals = pd.DataFrame(
        [_account(f"c{i}", 60, 48, scripted=True) for i in range(3)]
        + [_account(f"r{i}", 60, 48, scripted=False) for i in range(3)]
        + [_account(f"u{i}", 60, 48, scripted=False) for i in range(3)]
        + [_account(f"o{i}", 10, 30, scripted=False) for i in range(40)]
    )
    cells = pd.DataFrame(
        [c for i in range(3) for c in _cells(f"c{i}", range(3), range(8), 5)]
        + [c for i in range(3) for c in _cells(f"r{i}", range(3, 6), range(0, 8, 2), 5)]
        + [c for i in range(3) for c in _cells(f"u{i}", range(6, 9), range(1, 8, 2), 5)]
        + [c for i in range(40) for c in _cells(f"o{i}", [10 + i % 5], [i % 8], 10)]
    )
    rows = [{"account_id": f"c{i}", "prompt_hash": f"c{i}-{j}", "n": 1} for i in range(3) for j in range(60)]
    rows += [{"account_id": f"r{i}", "prompt_hash": f"r{i}-{j}", "n": 1} for i in range(3) for j in range(60)]
    rows += [{"account_id": f"u{i}", "prompt_hash": f"u{i}-{j}", "n": 1} for i in range(3) for j in range(60)]
    rows += [{"account_id": f"o{i}", "prompt_hash": f"o{i}-{j}", "n": 1} for i in range(40) for j in range(10)]
    prompts = pd.DataFrame(rows)
    hashes = prompts["prompt_hash"].to_numpy()
    campaign_rows = np.flatnonzero(prompts["account_id"].str.startswith("c").to_numpy())
    ordinary_rows = np.flatnonzero(prompts["account_id"].str.startswith("o").to_numpy())
    # a reseller's first 30 prompts sit among the campaign's; everything else among ordinary ones
    near_campaign = prompts["account_id"].str.startswith("r").to_numpy() & (
        prompts["prompt_hash"].str.split("-").str[1].astype(int).to_numpy() < 30
    )
    ind = np.where(near_campaign[:, None], campaign_rows[:5][None, :], ordinary_rows[:5][None, :])
    det = detect(signals, cells, prompts, neighbours=(hashes, ind), params=DetectParams(min_campaign_accounts=3))
    acc = det.accounts.set_index("account_id")
    assert set(acc.index[acc["flagged"]]) == {"c0", "c1", "c2", "r0", "r1", "r2"}
    assert acc.loc["r0", "campaign_id"] != acc.loc["c0", "campaign_id"]
    resellers = det.campaigns[det.campaigns["pass"] == PASS_NEAR].iloc[0]
    assert "works next to a flagged campaign's prompts" in resellers["signals"]
    assert not acc.loc[["u0", "u1", "u2"], "flagged"].any()
    assert "not campaign-like" in acc.loc["u0", "reasons"]
    assert det.signals.set_index("account_id").loc["r0", "near_lift"] > 2


@pytest.mark.slow
def test_cluster_and_template_signals_are_stored(scored):
    db, _, result, _, _ = scored
    with Store(db) as store:
        clusters = store.group_signals(result.run_id, "cluster")
        templates = store.group_signals(result.run_id, "template")
        n_clusters = store.run(store.run(result.run_id)["parent_run_id"])["stats"]["n_clusters"]
    assert len(clusters) == n_clusters and len(templates) > 0
    for df in (clusters, templates):
        assert df["prompt_diversity"].between(0, 1).all() and df["load_evenness"].between(0, 1).all()
        assert df["synchrony"].between(0, 1).all() and df["flagged_share"].between(0, 1).all()
    sweeps = clusters[clusters["pattern"] == "coverage sweep"]
    assert len(sweeps) >= 1 and sweeps["flagged_share"].mean() >= 0.8


@pytest.mark.slow
def test_every_style_on_a_small_log_of_real_prompts(shared_prompts, tmp_path):
    """`simulate --corpora --size small`: every planted style is flagged — low-and-slow resellers
    included (at least 7 of 10: they hide behind human timing and cover traffic) — and no organic
    or benign account is. Skipped where ../shared/data/prompts is absent."""
    from clusterkit.simulate import simulate

    sim = simulate(tmp_path / "sim", corpora=shared_prompts, size="small", seed=2)
    db = tmp_path / "s.duckdb"
    assert main(["run", str(sim.requests_path), "--db", str(db)]) == 0
    with Store(db, read_only=True) as store:
        accounts = store.account_scores(store.latest_run("score"))
    acc = accounts.merge(pd.read_csv(sim.truth_path), on="account_id")
    share = acc.groupby("group")["flagged"].mean()
    for group in CAMPAIGNS:
        assert share[group] == 1.0, group
    assert share["campaign:reseller"] >= 0.7
    assert not acc.loc[acc["label"] != "campaign", "flagged"].any()
    ev = evaluate(accounts, load_truth(sim.truth_path))
    assert ev.average_precision >= 0.95 and ev.recall_at_1pct_fpr >= 0.9 and ev.ari >= 0.8


def test_prompt_neighbours_on_the_map_are_the_exact_nearest_others():
    """Pass 2's neighbours (a k-d tree queried in its own leaf order) are each prompt's k nearest
    other prompts, in row order, with the prompt itself left out even where points coincide."""
    from clusterkit.campaigns.scoring import map_neighbours as _neighbours

    rng = np.random.default_rng(8)
    coords = rng.standard_normal((600, 5)).astype(np.float32)
    coords[10:14] = coords[3]  # five prompts at one point
    hashes = np.array([f"p{i}" for i in range(600)])
    _, ind = _neighbours(hashes, coords, k=6)
    dist = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=2)
    np.fill_diagonal(dist, np.inf)
    assert ind.shape == (600, 6) and not (ind == np.arange(600)[:, None]).any()
    got = np.take_along_axis(dist, ind, axis=1)
    assert np.allclose(np.sort(got, axis=1), np.sort(dist, axis=1)[:, :6], atol=1e-5)
    assert set(ind[3][:4]) == {10, 11, 12, 13}


def test_requests_without_parameters_share_no_request_shape(scored):
    """Sending no body parameters is not a value accounts share (it would make every such account
    one 'request shape' for the swarm and infrastructure evidence)."""
    from clusterkit.campaigns import signals as sql

    db = scored[0]
    with Store(db, read_only=True) as store:
        run = store.latest_run("cluster")
        infra = sql.detection_inputs(store, run)["infra"]
        bare = store.sql(
            "SELECT account_id FROM requests GROUP BY 1 HAVING bool_and((extra->'request_params') IS NULL)"
        )["account_id"]
        with_params = store.sql("SELECT DISTINCT account_id FROM requests WHERE (extra->'request_params') IS NOT NULL")[
            "account_id"
        ]
    shapes = infra[infra["kind"] == "request_shape"]
    assert len(bare) and len(with_params)
    assert not shapes["account_id"].isin(bare).any()
    assert with_params.isin(shapes["account_id"]).all()


def test_an_unflagged_groups_reasons_name_each_missing_signal_once(scored):
    accounts = scored[3]
    lacking = accounts["reasons"].str.extract(r"lacks (.*)$")[0].dropna()
    assert len(lacking)  # the tiny log has unflagged candidate groups
    for missing in lacking:
        names = [n.strip() for n in missing.split(", ")]
        assert len(names) == len(set(names)), missing


def _infra_rows(accounts, kind: str, values, n: int = 10) -> list[dict]:
    return [{"account_id": a, "kind": kind, "value": v, "n": n} for a in accounts for v in values]


def test_groups_linked_across_as_much_as_within_are_one_operation():
    """Two pieces of one swarm share its addresses and client as much as each does within itself:
    one operation. A campaign sharing only a common client with them, or content-linked to them
    by a pair or two, is not."""
    from scipy.sparse import coo_matrix

    from clusterkit.campaigns.linking import InfraIndex, index, operations

    names = [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)] + [f"c{i}" for i in range(8)]
    names += [f"o{i}" for i in range(200)]  # ordinary accounts: the rare values stay rare
    idx = index(pd.DataFrame({"account_id": names}))
    swarm = names[:20]
    infra = pd.DataFrame(
        _infra_rows(swarm, "ip_prefix", ["10.0.1", "10.0.2", "10.0.3"])
        + _infra_rows(swarm, "system_hash", ["sys-1"])
        + _infra_rows(names[:28], "user_agent", ["httpx/0.27"])  # the third campaign's client too
        + _infra_rows(names[20:28], "ip_prefix", ["10.7.7"])
        + [{"account_id": a, "kind": "ip_prefix", "value": f"192.168.{i}", "n": 3} for i, a in enumerate(names[28:])]
    )
    groups = [np.arange(0, 10), np.arange(10, 20), np.arange(20, 28)]
    # content: the third campaign's accounts all linked among themselves, two of them to the swarm once
    pairs = [(i, j) for i in range(20, 28) for j in range(i + 1, 28)] + [(0, 20), (1, 21)]
    r, c = np.array(pairs).T
    m = coo_matrix((np.ones(len(r)), (r, c)), shape=(len(names), len(names))).tocsr()
    labels, how = operations(groups, len(names), InfraIndex(infra, idx), [("one semantic sweep", m + m.T)])
    assert labels[0] == labels[1] != labels[2]
    assert how == ["shared infrastructure", "shared infrastructure", None]
    # the same content links across as within: the third group is one with the first
    pairs = [(i, j) for i in range(20) for j in range(20, 28)] + [
        (i, j) for i in range(20, 28) for j in range(i + 1, 28)
    ]
    r, c = np.array(pairs).T
    m = coo_matrix((np.ones(len(r)), (r, c)), shape=(len(names), len(names))).tocsr()
    no_infra = InfraIndex(pd.DataFrame(columns=["account_id", "kind", "value", "n"]), idx)
    labels, how = operations(groups, len(names), no_infra, [("one semantic sweep", m + m.T)])
    assert labels[0] == labels[2] and labels[1] == labels[2]
    assert how == ["one semantic sweep"] * 3


def _shifts(second: int = 6, requests: int = 60, hours: float = 20, params: DetectParams | None = None):
    """Six scripted workers sweep three regions on day one, ``second`` more on day three (``requests``
    each over ``hours``), all through one proxy network with one system prompt; a second fleet of six
    with its own network works other regions; 60 casual users. Returns the detection and the first
    fleet's accounts."""
    fleet = [f"w{i}" for i in range(6 + second)]
    shift = {a: 0 if i < 6 else 12 for i, a in enumerate(fleet)} | {f"x{i}": 0 for i in range(6)}
    size = {a: (requests, hours) if shift[a] else (60, 20) for a in shift}
    signals = pd.DataFrame(
        [_account(a, size[a][0], size[a][1], scripted=True) for a in shift]
        + [_account(f"c{i}", 4, 2, scripted=False) for i in range(60)]
    )
    start = pd.Timestamp("2026-03-01", tz="UTC")
    for a, w in shift.items():
        signals.loc[signals["account_id"] == a, "first_ts"] = start + pd.Timedelta(hours=6 * w)
        signals.loc[signals["account_id"] == a, "last_ts"] = start + pd.Timedelta(hours=6 * w + size[a][1])
    cells = pd.DataFrame(
        [c for a, w in shift.items() for c in _cells(a, range(3) if a[0] == "w" else range(6, 9), range(w, w + 4), 5)]
        + [c for i in range(60) for c in _cells(f"c{i}", [10 + i % 20], [i % 16], 4)]
    )
    sent = dict(zip(signals["account_id"], signals["n_req"]))
    prompts = pd.DataFrame([{"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1} for a in sent for j in range(sent[a])])
    infra = pd.DataFrame(
        # (each address used by half the fleet's workers: few enough to be rare in this small log)
        [
            r
            for i, a in enumerate(fleet)
            for r in _infra_rows([a], "ip_prefix", [f"10.0.{i % 4}", f"10.0.{(i + 1) % 4}"])
        ]
        + _infra_rows([a for a in shift if a[0] == "x"], "ip_prefix", ["10.5.5"])
        + _infra_rows(fleet, "system_hash", ["sys-w"])
        + [{"account_id": f"c{i}", "kind": "ip_prefix", "value": f"10.9.{i}", "n": 4} for i in range(60)]
    )
    det = detect(signals, cells, prompts, infra_used=infra, params=params or DetectParams(min_campaign_accounts=3))
    return det, fleet


def test_a_fleet_working_in_two_shifts_from_one_network_is_one_campaign():
    """Never active together, each shift of the fleet is its own linked group, both flagged - and
    one campaign, with the groups it joined in its reasons. The second fleet, with its own network,
    in other regions, stays apart."""
    det, fleet = _shifts()
    flagged = det.campaigns[det.campaigns["flagged"]]
    assert sorted(map(sorted, flagged["members"])) == [sorted(fleet), sorted(f"x{i}" for i in range(6))]
    (merge,) = det.merges
    assert merge["accounts"] == 12 and merge["linked_by"] == "shared infrastructure" and len(merge["groups"]) == 2
    assert merge["unflagged"] == []
    acc = det.accounts.set_index("account_id")
    assert acc.loc[fleet, "campaign_id"].nunique() == 1
    assert f"one operation of groups {', '.join(merge['groups'])}" in acc.loc["w0", "reasons"]


def test_an_unflagged_piece_of_a_flagged_operation_joins_it():
    """Three workers of a second shift, 20 requests over six hours each, are not flagged on their
    own (under a fixed threshold of 0.6) but their evidence opens the gates and they share the
    fleet's network as much as it does within: they join its campaign. Three that send 15 over three
    hours (score under ``MIN_CAMPAIGN_SCORE``) stay a group of their own."""
    params = DetectParams(min_campaign_accounts=3, flag_threshold=0.6)
    det, fleet = _shifts(3, 20, 6, params)
    (merge,) = det.merges
    (piece,) = merge["unflagged"]
    assert merge["groups"][1:] == [piece] and merge["accounts"] == 9
    acc = det.accounts.set_index("account_id")
    assert acc.loc[fleet, "flagged"].all() and acc.loc[fleet, "campaign_id"].nunique() == 1
    assert f"one operation of groups {', '.join(merge['groups'])}" in acc.loc["w6", "reasons"]
    det, fleet = _shifts(3, 15, 3, params)
    assert det.merges == []
    acc = det.accounts.set_index("account_id")
    assert acc.loc[fleet[:6], "flagged"].all() and not acc.loc[fleet[6:], "flagged"].any()
    (apart,) = det.campaigns.loc[~det.campaigns["flagged"], "score"]
    assert 0 < apart < MIN_CAMPAIGN_SCORE


def test_members_keeping_the_address_a_swarm_rotates_are_strangers():
    """A swarm on a proxy network sends every request from a new address and client; two people who
    arrived with it sent four questions each from one address and one browser: they leave its group.
    A member with one repeat among four requests stays, so does one that drew one client four times
    but rotated its addresses, and a group that does not rotate has none."""
    from clusterkit.campaigns.linking import STRANGER_P, InfraIndex, index

    kinds = ("ip_prefix", "user_agent")
    swarm = [f"s{i}" for i in range(20)]
    names = swarm + ["p0", "p1"] + [f"o{i}" for i in range(10)]
    # every request from a new address and client; s0's fourth request repeats its first address
    rows = [
        {"account_id": a, "kind": k, "value": f"{k}-{a}-{j}", "n": 1} for a in swarm for k in kinds for j in range(4)
    ]
    rows[next(i for i, r in enumerate(rows) if r["value"] == "ip_prefix-s0-3")]["value"] = "ip_prefix-s0-0"
    # s1 drew one client for all four requests, but rotated its addresses
    for r in rows:
        if r["account_id"] == "s1" and r["kind"] == "user_agent":
            r["value"] = "user_agent-s1"
    rows += [{"account_id": a, "kind": k, "value": f"{k}-{a}", "n": 4} for a in names[20:] for k in kinds]
    infra = pd.DataFrame(rows).groupby(["account_id", "kind", "value"], as_index=False)["n"].sum()
    index_ = InfraIndex(infra, index(pd.DataFrame({"account_id": names})))
    group = np.arange(22)
    assert index_.unrotated(group, STRANGER_P).tolist() == [False] * 20 + [True, True]
    assert not index_.unrotated(np.arange(20, 32), STRANGER_P).any()  # people keep their addresses
