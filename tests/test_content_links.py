"""Linking accounts by what they send, whenever they send it: the nearest neighbours of one
account's prompts are another's (slices of one semantic sweep), tested on hand-built neighbour
lists and through ``detect`` on a log of human-paced resellers."""

import itertools

import numpy as np
import pandas as pd
from test_calibrate import _log

from clusterkit.campaigns import detect
from clusterkit.campaigns.detect import PASS_CONTENT
from clusterkit.campaigns.evidence import COHESION
from clusterkit.campaigns.linking import ContentLinks, index


def _neighbours(groups: list[list[str]], k: int, rng: np.random.Generator):
    """Hashes and a k-NN table in which each prompt's neighbours are drawn from its own group."""
    hashes = np.array([h for g in groups for h in g], dtype=object)
    pos = {h: i for i, h in enumerate(hashes)}
    ind = np.empty((len(hashes), k), dtype=np.int64)
    for g in groups:
        rows = np.array([pos[h] for h in g])
        for r in rows:
            ind[r] = rng.choice(rows[rows != r], size=k, replace=len(rows) - 1 < k)
    return hashes, ind


def _sweep_log(rng: np.random.Generator, *, family: bool = False, cover: int = 10):
    """200 ordinary accounts, each asking about one of 40 topics (its prompts' neighbours are
    prompts of that topic), and 8 resellers whose 20 sweep items each neighbour only one another
    (plus ``cover`` ordinary prompts each). With ``family`` the sweep is one question asked again and
    again (one near-duplicate family), not a sweep."""
    prompts, topics = [], {t: [] for t in range(40)}
    for i in range(200):
        a, topic = f"o{i}", i % 40
        for j in range(int(rng.integers(3, 30))):
            prompts.append({"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1, "family": -1})
            topics[topic].append(f"{a}-{j}")
    sweep = []
    for i in range(8):
        a = f"r{i}"
        for j in range(20):
            prompts.append({"account_id": a, "prompt_hash": f"{a}-s{j}", "n": 1, "family": 7 if family else -1})
            sweep.append(f"{a}-s{j}")
        for j in range(cover):
            h = f"{a}-c{j}"
            prompts.append({"account_id": a, "prompt_hash": h, "n": 1, "family": -1})
            topics[int(rng.integers(40))].append(h)
    prompts = pd.DataFrame(prompts)
    accounts = pd.DataFrame({"account_id": prompts["account_id"].unique()})
    return accounts, prompts, _neighbours([*topics.values(), sweep], 10, rng)


def with_resellers(signals: pd.DataFrame, cells: pd.DataFrame, rng: np.random.Generator, n: int = 8):
    """``signals`` and ``cells`` with ``n`` resellers r0.. added: ordinary-looking accounts of 30
    requests over three days, human timing, in ten random (cluster, window) cells each."""
    extra = []
    for i in range(n):
        extra.append(
            {
                **signals.iloc[0].to_dict(),
                "account_id": f"r{i}",
                "n_req": 30,
                "gap_cv": 1.4,
                "hour_entropy": 0.7,
                "last_ts": signals.iloc[0]["first_ts"] + pd.Timedelta(hours=72),
            }
        )
        cells = pd.concat(
            [
                cells,
                pd.DataFrame(
                    [
                        {"account_id": f"r{i}", "cluster": int(c), "window": int(w), "n": 3, "n_prompts": 3}
                        for c, w in zip(rng.choice(8, 10), rng.choice(12, 10))
                    ]
                ),
            ]
        )
    return pd.concat([signals, pd.DataFrame(extra)], ignore_index=True), cells


def test_slices_of_one_sweep_link_and_ordinary_accounts_do_not():
    rng = np.random.default_rng(3)
    accounts, prompts, neighbours = _sweep_log(rng)
    idx = index(accounts)
    content = ContentLinks(prompts, neighbours, idx)
    rows, cols, strength = content.links()
    names = accounts["account_id"].to_numpy()
    pairs = {tuple(sorted((names[r], names[c]))) for r, c in zip(rows, cols)}
    resellers = [f"r{i}" for i in range(8)]
    assert set(itertools.combinations(resellers, 2)) <= pairs  # every reseller pair linked
    assert ((strength >= 0.5) & (strength <= 1)).all()
    # ordinary accounts sharing a topic link too (that is for the evidence to judge); a reseller's
    # cover traffic links it to an ordinary account at most now and then
    mixed = [p for p in pairs if p[0].startswith("r") != p[1].startswith("r")]
    assert len(mixed) <= 2 and len([p for p in pairs if p[0].startswith("r") and p[1].startswith("r")]) == 28
    r = np.array([idx[a] for a in resellers])
    o = np.array([idx[f"o{i}"] for i in range(0, 200, 25)])  # eight accounts of eight topics
    # where members' prompts meet, the sweep's neighbourhoods are all its own; two of a topic's
    # five accounts share theirs with the three others; accounts of eight topics never meet
    assert content.own_regions(r) > 0.7
    topic = np.array([idx[f"o{i}"] for i in (0, 40)])
    assert 0 < content.own_regions(topic) < 0.5
    assert content.own_regions(o) == 0.0


def test_cover_traffic_does_not_dilute_a_sweep():
    """Resellers sending two ordinary prompts for every sweep item: their cover prompts meet
    other members' cover now and then by chance, which must not count as much as the sweep items
    whose whole neighbourhoods are the members' own."""
    rng = np.random.default_rng(3)
    accounts, prompts, neighbours = _sweep_log(rng, cover=40)
    idx = index(accounts)
    content = ContentLinks(prompts, neighbours, idx)
    # (a mean over every member prompt that meets another member's gives 0.42 here: the chance
    # meetings of cover prompts weighed as much as the sweep's items)
    assert content.own_regions(np.array([idx[f"r{i}"] for i in range(8)])) > 0.6
    assert content.own_regions(np.array([idx[f"o{i}"] for i in range(0, 200, 25)])) < 0.1


def test_the_same_question_asked_again_is_no_sweep():
    rng = np.random.default_rng(3)
    accounts, prompts, neighbours = _sweep_log(rng, family=True)
    content = ContentLinks(prompts, neighbours, index(accounts))
    names = accounts["account_id"].to_numpy()
    rows, cols, _ = content.links()
    assert not any(names[r].startswith("r") and names[c].startswith("r") for r, c in zip(rows, cols))
    assert content.own_regions(np.array([index(accounts)[f"r{i}"] for i in range(8)])) < 0.1


def test_a_language_that_is_one_region_is_no_sweep_but_a_sweep_inside_it_is():
    """Under an English-only model the speakers of one language are one another's neighbours
    whatever they ask: closeness their script explains does not count. Slices of a sweep in that
    language are closer to one another than to the rest of its speakers."""
    rng = np.random.default_rng(4)
    rows, english, chinese, sweep = [], [], [], []
    for i in range(100):
        a = f"e{i}"
        rows += [
            {"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1, "family": -1, "language": "latin"} for j in range(10)
        ]
        english += [f"{a}-{j}" for j in range(10)]
    for i in range(20):
        a = f"z{i}"
        rows += [
            {"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1, "family": -1, "language": "zh"} for j in range(10)
        ]
        chinese += [f"{a}-{j}" for j in range(10)]
    for i in range(8):
        a = f"r{i}"
        rows += [
            {"account_id": a, "prompt_hash": f"{a}-{j}", "n": 1, "family": -1, "language": "zh"} for j in range(15)
        ]
        sweep += [f"{a}-{j}" for j in range(15)]
    prompts = pd.DataFrame(rows)
    hashes = prompts["prompt_hash"].to_numpy(dtype=object)
    pos = {h: i for i, h in enumerate(hashes)}
    ind = np.empty((len(hashes), 10), dtype=np.int64)
    for h in english:  # English prompts: neighbours among English ones
        ind[pos[h]] = [pos[x] for x in rng.choice(english, 10)]
    for h in chinese:  # the language blob: any Chinese prompt, the sweep's included
        ind[pos[h]] = [pos[x] for x in rng.choice(chinese + sweep, 10)]
    for h in sweep:  # the sweep: mostly its own items, some of the blob
        ind[pos[h]] = [pos[x] for x in [*rng.choice(sweep, 8), *rng.choice(chinese, 2)]]
    accounts = pd.DataFrame({"account_id": prompts["account_id"].unique()})
    idx = index(accounts)
    content = ContentLinks(prompts, (hashes, ind), idx)
    speakers = np.array([idx[f"z{i}"] for i in range(10)])
    resellers = np.array([idx[f"r{i}"] for i in range(8)])
    assert content.own_regions(speakers) < 0.15
    assert content.own_regions(resellers) > 0.5
    # without the script, the speakers would look like one sweep
    plain = ContentLinks(prompts.drop(columns="language"), (hashes, ind), idx)
    assert plain.own_regions(speakers) > 2 * content.own_regions(speakers)


def test_detect_groups_human_paced_resellers_by_content():
    """Resellers with human timing and no shared infrastructure link by nothing but content: the
    content pass groups them and names the sweep among the evidence."""
    rng = np.random.default_rng(5)
    signals, cells, _ = _log(200, rng)
    _, prompts, neighbours = _sweep_log(rng)
    signals, cells = with_resellers(signals, cells, rng)
    det = detect(signals, cells, prompts, neighbours=neighbours)
    by_content = det.campaigns[det.campaigns["pass"] == PASS_CONTENT]
    found = [set(m) for m in by_content["members"]]
    resellers = {f"r{i}" for i in range(8)}
    best = max(found, key=lambda m: len(m & resellers))
    assert best == resellers
    group = by_content[[set(m) == resellers for m in by_content["members"]]].iloc[0]
    assert group["evidence"][COHESION] > 0.5
