"""Campaign detection end to end on a simulated log: every planted campaign style is detected and
grouped; no benign look-alike (heavy app, evaluation team, classroom, popular prompts) is flagged."""

import csv
import json

import pandas as pd
import pytest

from clusterkit.campaigns import DetectParams, detect, score
from clusterkit.cli import main
from clusterkit.evaluate import evaluate, load_truth
from clusterkit.simulate import simulate
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
def scored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campaigns")
    sim = simulate(tmp / "sim", seed=0)
    db = tmp / "c.duckdb"
    # the one-command path: ingest -> embed -> map -> cluster -> score
    assert main(["run", str(sim.requests_path), "--db", str(db)]) == 0
    with Store(db) as store:
        result = score(store)  # the stored score run, reused
        assert result.reused
        accounts = store.account_scores(result.run_id)
        campaigns = store.campaigns(result.run_id)
    truth = pd.read_csv(sim.truth_path)
    return db, sim, result, accounts.merge(truth, on="account_id", how="left"), campaigns


@pytest.mark.slow
@pytest.mark.parametrize("group", CAMPAIGNS)
def test_each_planted_campaign_is_flagged_and_grouped(scored, group):
    _, _, _, accounts, _ = scored
    members = accounts[accounts["group"] == group]
    assert len(members) == 5
    assert members["flagged"].all(), members[["account_id", "score", "reasons"]]
    assert members["campaign_id"].nunique() == 1 and members["campaign_id"].notna().all()
    others = accounts[(accounts["campaign_id"] == members["campaign_id"].iloc[0]) & (accounts["group"] != group)]
    assert others.empty, others[["account_id", "group"]]


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
        assert row.n_accounts == 5 and row.n_requests > 0 and row.first_seen < row.last_seen
        assert len(row.keywords) > 0 and 1 <= len(row.examples) <= 3 and len(row.signals) >= 3
    with Store(db) as store:
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


def test_detect_on_hand_made_signals():
    """Three accounts sweeping one region together at volume, two casual users: only the three."""
    ts = pd.Timestamp("2026-03-01", tz="UTC")
    rows = []
    for i in range(5):
        sweep = i < 3
        rows.append(
            {
                "account_id": f"a{i}",
                "n_req": 60 if sweep else 4,
                "n_prompts": 60 if sweep else 4,
                "first_ts": ts,
                "last_ts": ts + pd.Timedelta(hours=48 if sweep else 2),
                "span_hours": 48.0,
                "n_clusters": 3,
                "noise_share": 0.0,
                "top_cluster_share": 0.4,
                "unique_share": 1.0,
                "popular_share": 0.0,
                "template_share": 0.5,
                "cot_share": 0.5,
                "grader_share": 0.0,
                "hour_entropy": 0.95 if sweep else 0.2,
                "gap_cv": 0.1 if sweep else 1.5,
                "gap_median": 60.0,
                "user_agent": "bot/1" if sweep else f"browser{i}",
                "ip_prefix": "10.0.0" if sweep else f"10.0.{i}",
                "org_id": None,
                "system_hash": None,
                "ua_peers": 2 if sweep else 0,
                "ip_peers": 2 if sweep else 0,
                "org_peers": 0,
                "sys_peers": 0,
            }
        )
    signals = pd.DataFrame(rows)
    cells = pd.DataFrame(
        [
            {"account_id": f"a{i}", "cluster": c, "window": w, "n": 5, "n_prompts": 5}
            for i in range(3)
            for c in range(3)
            for w in range(8)
        ]
        + [
            {"account_id": "a3", "cluster": 0, "window": 1, "n": 4, "n_prompts": 4},
            {"account_id": "a4", "cluster": 2, "window": 5, "n": 4, "n_prompts": 4},
        ]
    )
    prompts = pd.DataFrame(
        [
            {"account_id": f"a{i}", "prompt_hash": f"p{i}-{j}", "n": 1}
            for i in range(5)
            for j in range(60 if i < 3 else 4)
        ]
    )
    det = detect(signals, cells, prompts, DetectParams(min_campaign_accounts=3))
    flagged = set(det.accounts.loc[det.accounts["flagged"], "account_id"])
    assert flagged == {"a0", "a1", "a2"}
    assert len(det.campaigns) == 1 and det.campaigns["accounts"][0] == 3


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
