"""Linking beyond co-activity (relays that take over from one another, swarms of many small new
accounts) and telling applications from campaigns by what their templates ask for."""

import numpy as np
import pandas as pd
import pytest
from test_calibrate import _log

from clusterkit.campaigns import DetectParams, detect
from clusterkit.campaigns.detect import PASS_LINKED, PASS_SWARM
from clusterkit.campaigns.evidence import RELAY, SWARM
from clusterkit.campaigns.intent import app_likeness, elicitation, fixed_part, read_intents
from clusterkit.campaigns.linking import SWARM_MIN_ACCOUNTS, bursts, index, successions

T0 = pd.Timestamp("2026-03-01", tz="UTC")


def _relay_accounts(k: int, hours: float = 20, gap_minutes: float = 10, overlap: bool = False):
    """``k`` accounts working clusters 0-2 one after another (or all at once when ``overlap``)."""
    rows, cells = [], []
    for i in range(k):
        start = T0 + pd.Timedelta(hours=0 if overlap else i * hours + i * gap_minutes / 60)
        rows.append(
            {"account_id": f"r{i}", "n_req": 40, "first_ts": start, "last_ts": start + pd.Timedelta(hours=hours)}
        )
        w0 = int((start - T0).total_seconds() // 21600)
        cells += [{"account_id": f"r{i}", "cluster": c, "window": w0, "n": 13, "n_prompts": 13} for c in range(3)]
    return pd.DataFrame(rows), pd.DataFrame(cells)


def test_successions_link_accounts_that_take_over_from_one_another():
    signals, cells = _relay_accounts(4)
    rows, cols, weight = successions(signals, cells, index(signals))
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 2), (2, 3)]
    assert (weight > 0.8).all()  # same regions, seamless hand-over, 40 requests each
    # a long pause is no hand-over; accounts active together are not a relay
    assert len(successions(*_relay_accounts(4, gap_minutes=20 * 60), index(_relay_accounts(4)[0]))[0]) == 0
    together, tcells = _relay_accounts(4, overlap=True)
    assert len(successions(together, tcells, index(together))[0]) == 0


def _swarm_log(rng, *, same_prompts: bool = False):
    """Ordinary accounts (from test_calibrate) plus 30 new accounts that appear within three hours,
    send 3 prompts each and share one request shape, which three ordinary accounts also use."""
    signals, cells, prompts = _log(300, rng)
    # ordinary accounts arrive all through a ten-day log
    life = signals["last_ts"] - signals["first_ts"]
    signals["first_ts"] = T0 + pd.to_timedelta(rng.uniform(0, 240, len(signals)), unit="h")
    signals["last_ts"] = signals["first_ts"] + life
    infra = [{"account_id": a, "kind": "user_agent", "value": "popular-sdk/1.0", "n": 1} for a in signals["account_id"]]
    infra += [{"account_id": a, "kind": "request_shape", "value": "shape-x", "n": 1} for a in signals["account_id"][:3]]
    swarm = []
    for i in range(30):
        a = f"s{i}"
        start = T0 + pd.Timedelta(hours=30 + 0.1 * i)
        swarm.append(
            {
                **signals.iloc[0].to_dict(),
                "account_id": a,
                "n_req": 3,
                "first_ts": start,
                "last_ts": start + pd.Timedelta(minutes=20),
                "hour_entropy": 0.2,
                "gap_cv": 0.5,
            }
        )
        cells = pd.concat(
            [cells, pd.DataFrame([{"account_id": a, "cluster": i % 8, "window": 5, "n": 3, "n_prompts": 3}])]
        )
        texts = [f"q{j}" for j in range(3)] if same_prompts else [f"{a}-{j}" for j in range(3)]
        prompts = pd.concat([prompts, pd.DataFrame([{"account_id": a, "prompt_hash": t, "n": 1} for t in texts])])
        infra.append({"account_id": a, "kind": "request_shape", "value": "shape-x", "n": 3})
        infra.append({"account_id": a, "kind": "user_agent", "value": "popular-sdk/1.0", "n": 3})
    signals = pd.concat([signals, pd.DataFrame(swarm)], ignore_index=True)
    return signals, cells.reset_index(drop=True), prompts.reset_index(drop=True), pd.DataFrame(infra)


def test_a_burst_of_new_small_accounts_sharing_a_value_is_one_swarm():
    signals, _, _, infra = _swarm_log(np.random.default_rng(2))
    labels = bursts(signals, infra, index(signals))
    swarm = signals["account_id"].str.startswith("s").to_numpy()
    (group,) = set(labels[swarm])
    assert group >= 0 and (labels[swarm] == group).all()
    # neither the three ordinary users of that shape nor the popular client's users join it
    assert (labels[~swarm] != group).all() and (labels[~swarm] == -1).all()
    assert SWARM_MIN_ACCOUNTS <= swarm.sum()


def test_arrival_burst_finds_the_interval_of_excess_arrivals():
    from clusterkit.campaigns.linking import arrival_burst, burst_significance

    rng = np.random.default_rng(0)
    day = 86400.0
    steady = np.sort(rng.uniform(0, 12 * day, 80))
    start, count = arrival_burst(steady, 12 * day)
    p, excess = burst_significance(steady, 12 * day, start, count)
    assert p > 1e-3 and excess < 3 * np.sqrt(80)  # steady arrivals: no burst
    burst = rng.uniform(5 * day, 6.5 * day, 60)  # 60 more over a day and a half
    t = np.sort(np.r_[steady, burst])
    start, count = arrival_burst(t, 12 * day)
    p, excess = burst_significance(t, 12 * day, start, count)
    inside = t[start : start + count]
    assert p < 1e-6 and excess > 45
    assert inside.min() >= 4.9 * day and inside.max() <= 6.6 * day and count >= 60


def _daytime_newcomers(rng, n: int = 1200, days: int = 7):
    """``n`` small, brief accounts arriving only by day (08-20 UTC) over ``days`` days, all in one
    popular region "r-pop"; a tenth of them also in region "r-7"."""
    day = rng.integers(0, days, n)
    start = T0 + pd.to_timedelta(day * 24 + rng.uniform(8, 20, n), unit="h")
    signals = pd.DataFrame(
        {
            "account_id": [f"o{i}" for i in range(n)],
            "n_req": 3,
            "first_ts": start,
            "last_ts": start + pd.Timedelta(minutes=30),
        }
    )
    infra = [{"account_id": a, "kind": "region", "value": "r-pop", "n": 2} for a in signals["account_id"]]
    infra += [{"account_id": a, "kind": "region", "value": "r-7", "n": 1} for a in signals["account_id"][::10]]
    return signals, infra


def test_a_popular_regions_daytime_newcomers_are_no_burst_and_a_swarm_in_busy_hours_is():
    """Ordinary newcomers arrive by day: measured against a steady rate, every day's busy hours in a
    popular region are a 'burst'; on the clock of the log's daily arrival profile they are none, and
    30 accounts arriving within two hours of one afternoon in a region still are."""
    from clusterkit.campaigns.linking import arrival_burst, arrival_clock, burst_significance

    rng = np.random.default_rng(5)
    signals, infra = _daytime_newcomers(rng)
    first = signals["first_ts"].astype("int64").to_numpy() / 1e9
    t = np.sort(first)
    span = float(t[-1] - t[0])
    start, count = arrival_burst(t, span)
    assert burst_significance(t, span, start, count)[0] < 1e-6  # a steady rate sees a burst
    clock = arrival_clock(t, float(t[0]))
    ticks = clock(t)
    start, count = arrival_burst(ticks, float(ticks[-1] - ticks[0]))
    assert burst_significance(ticks, float(ticks[-1] - ticks[0]), start, count)[0] > 1e-3
    assert (bursts(signals, pd.DataFrame(infra), index(signals)) == -1).all()

    swarm = pd.DataFrame(
        {
            "account_id": [f"s{i}" for i in range(30)],
            "n_req": 3,
            "first_ts": T0 + pd.to_timedelta(3 * 24 + 14 + rng.uniform(0, 2, 30), unit="h"),
        }
    )
    swarm["last_ts"] = swarm["first_ts"] + pd.Timedelta(minutes=20)
    infra += [{"account_id": a, "kind": "region", "value": "r-7", "n": 3} for a in swarm["account_id"]]
    signals = pd.concat([signals, swarm], ignore_index=True)
    labels = bursts(signals, pd.DataFrame(infra), index(signals))
    found = labels[signals["account_id"].str.startswith("s").to_numpy()]
    assert (found >= 0).all() and len(set(found)) == 1
    assert (labels != found[0]).sum() == (labels == -1).sum()  # nobody else is in a swarm
    assert (labels[~signals["account_id"].str.startswith("s").to_numpy()] != found[0]).sum() >= len(signals) - 30 - 3


def _slow_rotated_swarms(rng):
    """Two swarms arriving over a day and a half each, on the same days, rotating their clients:
    each swarm shares only its request shape, with ordinary users of that shape all through the
    log, and both share a popular client with the ordinary accounts arriving those days."""
    signals, _, _, infra = _swarm_log(rng)
    keep = ~signals["account_id"].str.startswith("s")
    signals, infra = signals[keep].reset_index(drop=True), infra[~infra["account_id"].str.startswith("s")]
    ordinary = signals["account_id"].to_numpy()
    rows, extra = [], []
    shape_users = rng.choice(ordinary, 40, replace=False)
    extra += [{"account_id": a, "kind": "request_shape", "value": "shape-a", "n": 1} for a in shape_users]
    for swarm, shape in (("a", "shape-a"), ("b", "shape-b")):
        for i in range(40):
            a = f"s{swarm}{i}"
            start = T0 + pd.Timedelta(hours=100 + rng.uniform(0, 36))
            rows.append(
                {
                    **signals.iloc[0].to_dict(),
                    "account_id": a,
                    "n_req": 4,
                    "first_ts": start,
                    "last_ts": start + pd.Timedelta(minutes=15),
                }
            )
            extra.append({"account_id": a, "kind": "request_shape", "value": shape, "n": 4})
            extra.append({"account_id": a, "kind": "user_agent", "value": "popular-sdk/1.0", "n": 1})
            for ua in rng.choice(25, 3, replace=False):
                extra.append({"account_id": a, "kind": "user_agent", "value": f"sdk-{swarm}-{ua}", "n": 1})
    signals = pd.concat([signals, pd.DataFrame(rows)], ignore_index=True)
    # ordinary small accounts arriving those days with the popular client
    late = signals["account_id"].isin(rng.choice(ordinary, 15, replace=False))
    signals.loc[late, "first_ts"] = T0 + pd.to_timedelta(rng.uniform(100, 136, late.sum()), unit="h")
    signals.loc[late, "last_ts"] = signals.loc[late, "first_ts"] + pd.Timedelta(minutes=10)
    signals.loc[late, "n_req"] = 2
    return signals, pd.concat([infra, pd.DataFrame(extra)], ignore_index=True)


def test_slow_rotated_swarms_are_found_whole_and_apart():
    signals, infra = _slow_rotated_swarms(np.random.default_rng(3))
    labels = bursts(signals, infra, index(signals))
    ids = signals["account_id"]
    a, b = ids.str.startswith("sa").to_numpy(), ids.str.startswith("sb").to_numpy()
    (la,), (lb,) = set(labels[a]), set(labels[b])
    assert la >= 0 and lb >= 0 and la != lb  # each whole, and not merged by the client they share
    # no ordinary account joins, but a few that look like the swarm's members: small, new about then,
    # with the swarm's request shape and the client (no infrastructure tells them apart)
    twins = ids.isin(infra.loc[infra["value"] == "shape-a", "account_id"]) & (signals["n_req"] <= 10)
    ordinary = ~(a | b)
    assert (labels[ordinary & ~twins.to_numpy()] == -1).all() and (labels[ordinary] != lb).all()
    assert (labels[ordinary] == la).sum() < 0.25 * a.sum()


def test_detect_flags_the_swarm_and_not_a_classroom():
    signals, cells, prompts, infra = _swarm_log(np.random.default_rng(2))
    det = detect(signals, cells, prompts, infra_used=infra, params=DetectParams(null_groups=300))
    acc = det.accounts.set_index("account_id")
    swarm = [f"s{i}" for i in range(30)]
    assert acc.loc[swarm, "flagged"].all()
    (camp,) = det.campaigns[det.campaigns["flagged"]].to_dict(orient="records")
    assert camp["pass"] == PASS_SWARM and camp["evidence"][SWARM] > 0.9 and SWARM in camp["signals"]
    assert not acc.drop(index=swarm)["flagged"].any()
    # the same burst sending the same few questions (a classroom): coordinated, never a campaign
    signals, cells, prompts, infra = _swarm_log(np.random.default_rng(2), same_prompts=True)
    det = detect(signals, cells, prompts, infra_used=infra, params=DetectParams(null_groups=300))
    assert not det.accounts["flagged"].any()


def test_a_swarm_linked_into_small_pieces_is_still_found():
    """Hand-overs inside a swarm can link it, by co-activity, into pass-1 pieces too small and too
    brief to be campaigns; those pieces keep none of its accounts from the swarm pass."""
    signals, cells, prompts, infra = _swarm_log(np.random.default_rng(2))
    swarm = [f"s{i}" for i in range(30)]
    # every five swarm accounts work a cluster of their own in the same two windows
    pieces = pd.DataFrame(
        [
            {"account_id": a, "cluster": 100 + i // 5, "window": w, "n": 3, "n_prompts": 1}
            for i, a in enumerate(swarm)
            for w in (5, 6)
        ]
    )
    cells = pd.concat([cells[~cells["account_id"].isin(swarm)], pieces], ignore_index=True)
    det = detect(signals, cells, prompts, infra_used=infra, params=DetectParams(null_groups=300))
    first = det.campaigns[det.campaigns["pass"] == PASS_LINKED]
    assert sum(set(m) <= set(swarm) for m in first["members"]) == 6 and not first["flagged"].any()
    (camp,) = det.campaigns[det.campaigns["flagged"]].to_dict(orient="records")
    assert camp["pass"] == PASS_SWARM and sorted(camp["members"]) == sorted(swarm)
    assert det.accounts.set_index("account_id").loc[swarm, "flagged"].all()


def _evidence_of(signals: pd.DataFrame, *, requests_each: int, typical: float):
    """GroupEvidence over ``signals``, each account sending one prompt of its own, no infrastructure."""
    from clusterkit.campaigns.evidence import GroupEvidence
    from clusterkit.campaigns.linking import InfraIndex

    prompts = pd.DataFrame(
        {"account_id": signals["account_id"], "prompt_hash": signals["account_id"], "n": requests_each}
    )
    idx = index(signals)
    no_infra = InfraIndex(pd.DataFrame(columns=["account_id", "kind", "value", "n"]), idx)
    ordinary = {"n_req": typical, "template_share": 0, "elicit_share": 0}
    return GroupEvidence(signals, prompts, no_infra, idx, ordinary, DetectParams())


def test_relay_evidence_needs_hand_overs_and_no_overlap():
    for overlap, expected in ((False, 1.0), (True, 0.0)):
        signals, _ = _relay_accounts(5, overlap=overlap)
        signals = signals.assign(popular_share=0.0, hour_entropy=0.5, gap_cv=1.0, template_share=0.0, elicit_share=0.0)
        ev = _evidence_of(signals, requests_each=40, typical=5.0)
        assert ev(np.arange(5))[RELAY] == pytest.approx(expected)


def test_coverage_counts_only_prompts_no_other_account_sent():
    """A sweep's items are its own: the same items sent by another member (a classroom, however
    each types the question) or by an account outside the group (a public benchmark other orgs run
    too) are no coverage."""
    from clusterkit.campaigns.evidence import GroupEvidence
    from clusterkit.campaigns.linking import InfraIndex

    signals, _ = _relay_accounts(4, overlap=True)
    signals = signals.assign(popular_share=0.0, hour_entropy=0.5, gap_cv=1.0, template_share=0.0, elicit_share=0.0)
    ids = signals["account_id"].tolist()
    # members 0-2 send items of their own and item "x"; member 0 and 1 both send "y"; the outsider
    # (account 3) sends "x" too
    sent = [(ids[0], "a0"), (ids[0], "y"), (ids[1], "a1"), (ids[1], "y"), (ids[2], "a2"), (ids[2], "x"), (ids[3], "x")]
    prompts = pd.DataFrame(sent, columns=["account_id", "prompt_hash"]).assign(n=1)
    idx = index(signals)
    no_infra = InfraIndex(pd.DataFrame(columns=["account_id", "kind", "value", "n"]), idx)
    ordinary = {"n_req": 5.0, "template_share": 0, "elicit_share": 0}
    ev = GroupEvidence(signals, prompts, no_infra, idx, ordinary, DetectParams())
    # 6 member rows: a0, a1, a2 are their own; y (twice, inside) and x (sent outside) are not
    assert ev(np.arange(3))["coverage sweep (accounts send disjoint prompts)"] == pytest.approx(3 / 6)
    # a question each typed their own way (a0 and a1: one near-duplicate family) is one item too
    prompts["family"] = np.where(prompts["prompt_hash"].isin(["a0", "a1"]), 7, -1)
    ev = GroupEvidence(signals, prompts, no_infra, idx, ordinary, DetectParams())
    assert ev(np.arange(3))["coverage sweep (accounts send disjoint prompts)"] == pytest.approx(1 / 6)


def test_fixed_part_of_a_mined_template():
    texts = [
        "summarize the following text in 2 sentences: the cat sat",
        "summarize the following text in 2 sentences: a dog ran",
    ]
    assert (
        fixed_part("summarize the following text in 2 sent …", texts) == "summarize the following text in 2 sentences:"
    )
    tails = ["what is 2+2? think step by step and show all work.", "name a bird. think step by step and show all work."]
    assert fixed_part("… think step by step and show all work.", tails) == "think step by step and show all work."
    # a format in two variants (with and without an input field): the fixed part is what most of its
    # prompts share, not the fragment common to both
    with_input = "below is an instruction that describes a task, paired with an input. ### instruction:"
    without = "below is an instruction that describes a task. write a response. ### instruction:"
    asks = ["write a poem", "name a bird", "add 2 and 3", "edit this", "sum these"]
    variants = [f"{without} {a}" for a in asks[:3]] + [f"{with_input} {a}" for a in asks[3:]]
    assert fixed_part("below is an instruction that describes a …", variants) == without
    assert fixed_part("below is an instruction that describes a …", variants[2:]) == with_input


def _templated_group(rng, template_app: float):
    signals, cells, prompts = _log(300, rng, planted=5)
    prompts["template"] = np.where(prompts["account_id"].str.startswith("p"), "T", None)
    return detect(
        signals,
        cells,
        prompts,
        app_likeness={"T": template_app},
        elicits={"T": float(elicitation(np.array([template_app]))[0])},
        params=DetectParams(null_groups=300),
    )


def test_a_group_doing_one_task_over_its_users_text_is_an_application():
    planted = [f"p{i}" for i in range(300, 305)]
    det = _templated_group(np.random.default_rng(5), template_app=0.95)
    acc = det.accounts.set_index("account_id")
    assert not acc.loc[planted, "flagged"].any()
    assert acc.loc[planted[0], "reasons"].count("looks like an application") == 1
    det = _templated_group(np.random.default_rng(5), template_app=0.05)
    assert det.accounts.set_index("account_id").loc[planted, "flagged"].all()


@pytest.mark.slow
def test_template_intent_is_read_by_meaning_in_any_language():
    """Phrasings that are not among the prototypes, in English, Chinese and Russian, read with the
    intent model (the multilingual USE, whatever model the map was built with)."""
    from clusterkit.campaigns.intent import INTENT_MODEL
    from clusterkit.embed import embed_texts, get_embedder

    transform = [
        "Turn the meeting notes below into a short summary for the team:",
        "Please translate this customer email into Spanish:",
        "Fix any typos and grammar mistakes in the paragraph below:",
        "Tag this support ticket with one of: billing, bug, feature request.",
        "把下面这段客户留言翻译成英文：",
        "Исправь орфографические ошибки в письме ниже:",
    ]
    elicit = [
        "Before you answer, lay out every single step of your thinking in detail.",
        "Rate the assistant's reply from 1 to 10 on accuracy and helpfulness, criterion by criterion.",
        "Give the most complete and thorough answer you possibly can to the question below.",
        "请详细写出你的思考过程，一步一步推理。",
        "请想象并写出得出这个答案时的内部推理过程。",
        "Сначала запиши весь ход своих мыслей, а потом дай ответ.",
    ]
    # frames naming no task: the request is in the varying part (a sweep in an instruction format)
    frames = ["### Prompt:", "User input:", "用户的问题：", "Инструкция:", "Below is a request. Respond to it."]
    emb = get_embedder(model=INTENT_MODEL)
    encode = lambda texts: embed_texts(texts, embedder=emb)  # noqa: E731
    p = app_likeness(transform + elicit, encode)
    assert (p[: len(transform)] > 0.5).all(), p
    assert (p[len(transform) :] < 0.5).all(), p
    likeness, frame = read_intents(transform + elicit + frames, encode)
    elicits = elicitation(likeness, frame)
    assert (elicits[len(transform) : -len(frames)] > 0.5).all(), elicits
    assert (likeness[-len(frames) :] < 0.2).all() and (elicits[-len(frames) :] < 0.2).all(), (likeness, elicits)
    assert (frame[-len(frames) :] > 0.5).all() and (frame[: -len(frames)] < 0.5).all(), frame


def test_accounts_active_when_the_log_begins_are_no_swarm():
    """Everyone already active at the start of the log first appears in its opening hours: not a burst."""
    signals, _, _, infra = _swarm_log(np.random.default_rng(2))
    start = signals["first_ts"].min()
    early = signals["account_id"].str.startswith("o").to_numpy()[:60]
    signals.loc[signals.index[:60][early], "first_ts"] = start + pd.to_timedelta(
        np.linspace(0, 3, early.sum()), unit="h"
    )
    signals.loc[signals.index[:60][early], "last_ts"] = signals["first_ts"] + pd.Timedelta(minutes=30)
    signals.loc[signals.index[:60][early], "n_req"] = 3
    # ... sharing one value of their own (a company's proxy), which nobody else uses
    ids = signals["account_id"].iloc[:60][early]
    infra = pd.concat([infra, pd.DataFrame({"account_id": ids, "kind": "ip_prefix", "value": "10.1.2", "n": 3})])
    labels = bursts(signals, infra, index(signals))
    assert (labels[:60][early] == -1).all()
    assert (labels[signals["account_id"].str.startswith("s").to_numpy()] >= 0).all()  # the real swarm still is one


def test_each_account_has_a_bounded_number_of_candidate_predecessors():
    from clusterkit.campaigns.linking import RELAY_CANDIDATES

    n = 200  # accounts all ending within minutes, one starting just after: a busy short log
    rows = [
        {"account_id": f"a{i}", "n_req": 40, "first_ts": T0, "last_ts": T0 + pd.Timedelta(hours=5, minutes=i % 60)}
        for i in range(n)
    ]
    rows.append(
        {
            "account_id": "late",
            "n_req": 40,
            "first_ts": T0 + pd.Timedelta(hours=7),
            "last_ts": T0 + pd.Timedelta(hours=9),
        }
    )
    signals = pd.DataFrame(rows)
    cells = pd.DataFrame(
        [{"account_id": r["account_id"], "cluster": 0, "window": 0, "n": 40, "n_prompts": 40} for r in rows]
    )
    _, later, _ = successions(signals, cells, index(signals))
    assert (later == n).sum() == RELAY_CANDIDATES  # the closest hand-overs only, not all 200
    assert np.bincount(later, minlength=n + 1).max() <= RELAY_CANDIDATES


def test_flagged_means_score_at_least_half_with_a_fixed_threshold_too():
    rng = np.random.default_rng(5)
    signals, cells, prompts = _log(300, rng, planted=5)
    for threshold in (0.05, 0.3, 0.99):
        acc = detect(signals, cells, prompts, params=DetectParams(flag_threshold=threshold)).accounts
        assert (acc["flagged"] == (acc["score"] >= 0.5)).all(), threshold


def test_tiny_accounts_do_not_look_scripted():
    """The SQL gives accounts with under four requests a gap CV of 0: that is no evidence of a script."""
    signals = pd.DataFrame(
        {
            "account_id": [f"t{i}" for i in range(4)],
            "n_req": 2,
            "first_ts": T0,
            "last_ts": T0 + pd.Timedelta(hours=1),
            "popular_share": 0.0,
            "hour_entropy": 0.3,
            "gap_cv": 0.0,
            "template_share": 0.0,
            "elicit_share": 0.0,
        }
    )
    ev = _evidence_of(signals, requests_each=2, typical=2.0)
    assert ev(np.arange(4))["scripted regular timing"] == 0.0


def test_a_swarm_that_shares_no_value_is_found_by_the_regions_it_works():
    """On rotated infrastructure a swarm shares no client, address or request shape; its accounts
    still arrive together in the semantic clusters they work, which ordinary people reach all
    through the log."""
    from clusterkit.campaigns.detect import _regions

    signals, cells, _, infra = _swarm_log(np.random.default_rng(2))
    swarm = signals["account_id"].str.startswith("s").to_numpy()
    rotated = infra[infra["kind"] != "request_shape"].copy()
    rotated.loc[rotated["account_id"].str.startswith("s"), "value"] = [f"ua-{i}" for i in range(swarm.sum())]
    in_swarm = cells["account_id"].str.startswith("s")
    cells.loc[in_swarm, "cluster"] = 2  # one coding region, which ordinary accounts work too
    assert (cells.loc[~in_swarm, "cluster"] == 2).sum() > 30
    idx = index(signals)
    assert (bursts(signals, rotated, idx)[swarm] == -1).all()  # no shared value bursts
    labels = bursts(signals, pd.concat([rotated, _regions(cells)], ignore_index=True), idx)
    (group,) = set(labels[swarm])
    # (one ordinary newcomer who reached that region within the burst's hours is taken in with it)
    assert group >= 0 and (labels[~swarm] == group).sum() <= 1


def test_a_short_burst_opens_the_persistence_gate_only_behind_distinct_organisations():
    """Four scripted workers finishing a sweep within the hour: as short as an org's benchmark run
    over its own keys. What tells them apart is an operator behind accounts of distinct organisations
    sending from the same rare addresses and client."""
    from clusterkit.campaigns.evidence import DISGUISED, PERSISTENT, GroupEvidence, score_evidence
    from clusterkit.campaigns.linking import InfraIndex

    k, outsiders = 4, 40
    start = T0 + pd.Timedelta(hours=30)
    signals = pd.DataFrame(
        {
            "account_id": [f"w{i}" for i in range(k)] + [f"o{i}" for i in range(outsiders)],
            "n_req": [40] * k + [5] * outsiders,
            "first_ts": [start] * k + [T0 + pd.Timedelta(hours=i) for i in range(outsiders)],
            "last_ts": [start + pd.Timedelta(minutes=20)] * k
            + [T0 + pd.Timedelta(hours=i + 2) for i in range(outsiders)],
            "hour_entropy": 0.3,
            "gap_cv": 0.9,
            "template_share": 0.0,
            "elicit_share": 0.0,
        }
    )
    ids = signals["account_id"].tolist()
    prompts = pd.DataFrame({"account_id": ids, "prompt_hash": ids, "n": signals["n_req"]})
    idx = index(signals)
    ordinary = {"n_req": 5.0, "template_share": 0, "elicit_share": 0}
    workers = np.arange(k)
    shared = [
        (a, kind, value, 40) for a in ids[:k] for kind, value in (("ip_prefix", "203.0.113"), ("user_agent", "bot/1"))
    ]
    own = [(a, "ip_prefix", f"10.0.{i}", 5) for i, a in enumerate(ids[k:])]

    def evidence(orgs):
        infra = pd.DataFrame(shared + own, columns=["account_id", "kind", "value", "n"])
        if orgs is not None:
            org_rows = [(a, "org_id", o, 40) for a, o in zip(ids, orgs)]
            infra = pd.concat([infra, pd.DataFrame(org_rows, columns=infra.columns)], ignore_index=True)
        sig = signals.assign(org_id=orgs) if orgs is not None else signals
        ev = GroupEvidence(sig, prompts, InfraIndex(infra, idx), idx, ordinary, DetectParams())(workers)
        return ev, score_evidence(ev)

    outside = [f"org-o{i}" for i in range(outsiders)]
    disguised, disguised_score = evidence([f"org-{i}" for i in range(k)] + outside)
    one_org, one_org_score = evidence(["org-lab"] * k + outside)
    no_orgs, no_orgs_score = evidence(None)
    assert disguised[PERSISTENT] < 0.05 and disguised[DISGUISED] > 0.5
    assert one_org[DISGUISED] == 0 and no_orgs[DISGUISED] == 0
    # the same burst scores several times higher when its organisations are distinct
    assert disguised_score > 3 * max(one_org_score, no_orgs_score)
