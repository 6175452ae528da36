"""Benign calibration of the flag decision: q-values, and matched random groups of the log's own
ordinary accounts as the null (a planted coordinated group is significant, a chance group is not)."""

import numpy as np
import pandas as pd
import pytest

from clusterkit.campaigns import DetectParams, detect
from clusterkit.campaigns.calibrate import MIN_POOL, bh_qvalues, calibrate
from clusterkit.campaigns.linking import index
from clusterkit.errors import ClusterkitError


def test_bh_qvalues_match_the_definition():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    q = bh_qvalues(p)
    # sorted p: .01 .03 .04 .5 -> p*m/rank: .04 .06 .0533 .5 -> running min from the top: .04 .0533 .0533 .5
    assert q == pytest.approx([0.04, 0.05333333, 0.05333333, 0.5])
    assert bh_qvalues(np.array([])).size == 0
    assert (bh_qvalues(np.array([0.9, 0.95])) <= 1).all()


def _log(n_ordinary: int, rng: np.random.Generator, planted: int = 0):
    """Ordinary accounts: lognormal volumes, a few clusters each, human timing. Planted ones: the same
    clusters and windows, scripted, even and busy, each sending its own prompts."""
    ts = pd.Timestamp("2026-03-01", tz="UTC")
    rows, cells, prompts = [], [], []
    for i in range(n_ordinary + planted):
        plant = i >= n_ordinary
        a = f"{'p' if plant else 'o'}{i}"
        n = 80 if plant else int(np.clip(rng.lognormal(2.0, 0.8), 1, 300))
        rows.append(
            {
                "account_id": a,
                "n_req": n,
                "first_ts": ts,
                "last_ts": ts + pd.Timedelta(hours=72 if plant else float(rng.uniform(1, 72))),
                "popular_share": 0.0,
                "template_share": 0.0,
                "elicit_share": 0.0,
                "hour_entropy": 0.99 if plant else float(rng.uniform(0.3, 0.85)),
                "gap_cv": 0.1 if plant else float(rng.uniform(0.8, 3.0)),
                "pivot_hours": np.nan,
            }
        )
        clusters = [0, 1, 2] if plant else rng.choice(8, size=2, replace=False).tolist()
        windows = range(12) if plant else rng.choice(12, size=3, replace=False).tolist()
        for c in clusters:
            for w in windows:
                cells.append(
                    {"account_id": a, "cluster": int(c), "window": int(w), "n": max(1, n // 36), "n_prompts": 1}
                )
        prompts += [{"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1} for j in range(n)]
    return pd.DataFrame(rows), pd.DataFrame(cells), pd.DataFrame(prompts)


def test_a_planted_group_is_significant_and_a_chance_group_is_not():
    rng = np.random.default_rng(0)
    signals, cells, _ = _log(300, rng, planted=5)
    idx = index(signals)
    n_req = signals["n_req"].to_numpy(float)
    planted = np.flatnonzero(signals["account_id"].str.startswith("p").to_numpy())
    chance = rng.choice(np.flatnonzero(~signals["account_id"].str.startswith("p").to_numpy()), 5, replace=False)
    score = {tuple(planted): 0.9, tuple(chance): 0.1}
    # the score function stands in for the evidence: high for groups of planted accounts only
    score_of = lambda g: 0.9 if np.isin(g, planted).all() else float(rng.uniform(0, 0.3))  # noqa: E731
    pool = np.ones(len(signals), dtype=bool)
    pool[planted] = False
    cal = calibrate(
        [planted, chance],
        np.array([score[tuple(planted)], score[tuple(chance)]]),
        score_of,
        cells=cells,
        idx=idx,
        n_req=n_req,
        pool=pool,
        seed=1,
        n_null=500,
    )
    assert cal is not None and cal.pool == len(signals) - len(planted)
    assert cal.p_values[0] == pytest.approx(1 / 501)  # no null group of ordinary accounts scores 0.9
    assert cal.p_values[1] > 0.5 and cal.q_values[1] > 0.5
    assert cal.expected_false[0] == pytest.approx(2 / 501)
    # null groups have the candidates' sizes, never contain the excluded accounts, no account twice
    (null,) = cal.null_scores.values()
    assert len(null) == 500


def test_null_groups_are_matched_and_drawn_from_the_pool():
    from clusterkit.campaigns.calibrate import _Sampler

    rng = np.random.default_rng(3)
    signals, cells, _ = _log(200, rng)
    n_req = signals["n_req"].to_numpy(float)
    pool = np.ones(len(signals), dtype=bool)
    pool[:20] = False
    sampler = _Sampler(cells, index(signals), n_req, pool, seed=0)
    busy = np.full(40, sampler.volume_class.max())
    for _ in range(50):
        g = sampler.group(6, busy)
        assert len(g) == 6 and len(set(g.tolist())) == 6 and pool[g].all()
    # matched on volume: groups drawn for busy members are busier than the pool at large
    drawn = np.concatenate([sampler.group(6, busy) for _ in range(50)])
    assert np.median(n_req[drawn]) > 2 * np.median(n_req[pool])


def test_detect_reports_calibrated_confidence_and_flags_the_planted_group():
    rng = np.random.default_rng(5)
    signals, cells, prompts = _log(300, rng, planted=5)
    det = detect(signals, cells, prompts, params=DetectParams(null_groups=300))
    assert det.calibration[0]["calibrated"] and det.calibration[0]["pool"] >= MIN_POOL
    flagged = det.campaigns[det.campaigns["flagged"]]
    assert len(flagged) == 1 and sorted(flagged.iloc[0]["members"]) == [f"p{i}" for i in range(300, 305)]
    assert flagged.iloc[0]["q_value"] <= 0.05 and flagged.iloc[0]["expected_false_groups"] < 0.05
    acc = det.accounts.set_index("account_id")
    assert (acc.loc[flagged.iloc[0]["members"], "score"] >= 0.5).all()
    assert acc.loc[flagged.iloc[0]["members"][0], "reasons"].count("q = ") == 1
    assert (acc.loc[~acc["flagged"], "score"] < 0.5).all()  # flagged <=> score >= 0.5 holds


def test_a_small_log_falls_back_to_the_fixed_threshold():
    rng = np.random.default_rng(5)
    signals, cells, prompts = _log(MIN_POOL - 10, rng, planted=4)
    det = detect(signals, cells, prompts)
    assert det.calibration and not det.calibration[0]["calibrated"]
    assert det.campaigns["q_value"].isna().all()


@pytest.mark.parametrize("bad", [{"fdr": 0.0}, {"fdr": 1.5}, {"null_groups": 10}])
def test_bad_calibration_parameters_are_refused(bad):
    with pytest.raises(ClusterkitError):
        DetectParams(**bad)


def test_a_later_pass_campaign_is_kept_out_of_an_earlier_pass_null():
    """A swarm (pass 2) is not yet a candidate when pass 1 is calibrated; left in the pool, null
    groups seeded on one swarm account and grown through the cluster it works would be that swarm,
    and pass 1's null would score like a campaign. Every pass's contenders leave every pool."""
    rng = np.random.default_rng(5)
    signals, cells, prompts = _log(300, rng, planted=5)
    start = pd.Timestamp("2026-03-01", tz="UTC") + pd.Timedelta(hours=40)
    swarm = [f"s{i}" for i in range(40)]
    first = [start + pd.Timedelta(minutes=3 * i) for i in range(40)]
    signals = pd.concat(
        [
            signals,
            pd.DataFrame(
                {
                    "account_id": swarm,
                    "n_req": 3,
                    "first_ts": first,
                    "last_ts": [t + pd.Timedelta(minutes=20) for t in first],
                    "popular_share": 0.0,
                    "template_share": 0.0,
                    "elicit_share": 0.0,
                    "hour_entropy": 0.3,
                    "gap_cv": np.nan,
                    "pivot_hours": np.nan,
                }
            ),
        ],
        ignore_index=True,
    )
    cells = pd.concat(
        [cells, pd.DataFrame({"account_id": swarm, "cluster": 9, "window": 7, "n": 3, "n_prompts": 3})],
        ignore_index=True,
    )
    prompts = pd.concat(
        [
            prompts,
            pd.DataFrame([{"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1} for a in swarm for j in range(3)]),
        ],
        ignore_index=True,
    )
    det = detect(signals, cells, prompts, params=DetectParams(null_groups=300))
    by_pass = {c["pass"]: c for c in det.calibration}
    flagged = det.campaigns[det.campaigns["flagged"]].set_index("pass")
    assert sorted(flagged.loc[2, "members"]) == sorted(swarm) and len(flagged.loc[1, "members"]) == 5
    # pass 1's pool: every account but its own candidates' and the swarm's
    in_pass1 = det.campaigns.loc[det.campaigns["pass"] == 1, "accounts"].sum()
    assert by_pass[1]["pool"] == len(signals) - in_pass1 - len(swarm)
