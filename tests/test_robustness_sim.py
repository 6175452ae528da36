"""Fast checks of the robustness benchmark's log generator (bench/robustness_sim.py) on one quick cell."""

from __future__ import annotations

import csv
import itertools
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from conftest import SHARED_PROMPTS, bench_module

CORPORA = SHARED_PROMPTS


sim = bench_module("robustness_sim")


def _need_corpora() -> Path:
    if not CORPORA.is_dir() or not any(CORPORA.glob("*.jsonl.gz")):
        pytest.skip(f"prompt corpora not found at {CORPORA} (set CLUSTERKIT_CORPORA)")
    return CORPORA


def _text(msg: dict) -> str:
    c = msg.get("content")
    if isinstance(c, str):
        return c
    return "".join(b.get("text", "") for b in c or [] if b.get("type") == "text")


def _turns(req: dict) -> list[dict]:
    return [m for m in req["messages"] if m["role"] in ("user", "assistant")]


@pytest.fixture(scope="module", params=[c.name for c in sim.grid(quick=True)])
def built(request, tmp_path_factory):
    corpora = _need_corpora()
    cell = next(c for c in sim.grid(quick=True) if c.name == request.param)
    log = sim.build_log(cell, tmp_path_factory.mktemp("sim") / "log", corpora)
    records = [orjson.loads(line) for line in log.requests_path.read_bytes().splitlines()]
    with open(log.truth_path, newline="", encoding="utf-8") as fh:
        truth = {r["account_id"]: r for r in csv.DictReader(fh)}
    by_group: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_group[truth[r["account"]["id"]]["group"]].append(r)
    knobs = {f"campaign:{s.style}-{s.shape}": s for s in cell.knobs.styles}
    return {"cell": cell, "log": log, "records": records, "truth": truth, "by_group": by_group, "knobs": knobs}


def _accounts(recs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        out[r["account"]["id"]].append(r)
    return out


# ----------------------------------------------------------------------------------------------- grid


def test_grid_split_is_fixed_and_disjoint():
    tune, hold = sim.grid(held_out=False), sim.grid(held_out=True)
    assert len(tune) == 12 and len(hold) == 8 and len(sim.grid()) <= 20
    for cells in (tune, hold):
        assert {c.background for c in cells} == set(sim.BACKGROUNDS)
        met = {(s.style, s.shape) for c in cells for s in c.knobs.styles}
        assert met == {(st, sh) for st in sim.ATTACKER_STYLES for sh in sim.SHAPES}
    for quick in (False, True):
        t, h = sim.grid(quick=quick, held_out=False), sim.grid(quick=quick, held_out=True)
        assert {c.seed for c in t}.isdisjoint({c.seed for c in h})
    t_all = sim.grid(held_out=False) + sim.grid(quick=True, held_out=False)
    h_all = sim.grid(held_out=True) + sim.grid(quick=True, held_out=True)
    assert {c.seed for c in t_all}.isdisjoint({c.seed for c in h_all})
    for attr in ("accounts", "requests_per_account", "cover_share", "overlap"):
        tv = {getattr(s, attr) for c in t_all for s in c.knobs.styles}
        hv = {getattr(s, attr) for c in h_all for s in c.knobs.styles}
        assert tv.isdisjoint(hv), attr
    for attr in ("organic_accounts", "days"):
        assert {getattr(c.knobs, attr) for c in t_all}.isdisjoint({getattr(c.knobs, attr) for c in h_all}), attr
    assignments = lambda cells: {tuple(s.shape for s in c.knobs.styles) for c in cells}  # noqa: E731
    assert assignments(t_all).isdisjoint(assignments(h_all))
    names = [c.name for c in sim.grid() + sim.grid(quick=True)]
    assert len(names) == len(set(names))
    for c in sim.grid() + sim.grid(quick=True):
        assert ("hold" in c.name) == c.held_out and c.background in c.name and f"s{c.seed}" in c.name
        assert Counter(s.shape for s in c.knobs.styles) == dict.fromkeys(sim.SHAPES, 2)
        assert sim._estimate(c.knobs)[0] <= sim.MAX_LOG_ACCOUNTS + 10
        for s in c.knobs.styles:
            assert s.accounts * s.requests_per_account <= sim.INSTANCE_REQUEST_CAP
            if s.shape == "reseller":
                assert s.cover_share >= 0.3 and s.pacing == "human" and s.infra == "rotated"
    assert len(sim.grid(quick=True)) == 2 and {c.held_out for c in sim.grid(quick=True)} == {True, False}


def test_knobs_validate():
    with pytest.raises(ValueError):
        sim.StyleKnobs("sweep_en", "swarm", 50, 20)
    with pytest.raises(ValueError):
        sim.StyleKnobs("harvested", "reseller", 10, 30, "human", "rotated", "en", 0.1)
    with pytest.raises(ValueError):
        sim.Knobs(styles=sim.Knobs().styles[:-1])


# ----------------------------------------------------------------------------------------------- one quick log


def test_truth_and_log_agree(built):
    log, records, truth = built["log"], built["records"], built["truth"]
    assert {r["account"]["id"] for r in records} == set(truth)
    assert log.n_requests == len(records) and log.n_accounts == len(truth)
    assert log.n_requests <= (5000 if "quick" in built["cell"].name else sim.MAX_LOG_REQUESTS)
    assert sum(log.groups.values()) == len(truth)
    assert Counter(t["group"] for t in truth.values()) == log.groups
    assert sum(log.group_requests.values()) == len(records)


def test_labels_and_groups(built):
    cell, log, truth = built["cell"], built["log"], built["truth"]
    expected_campaigns = {f"campaign:{s.style}-{s.shape}" for s in cell.knobs.styles}
    assert {g for g in log.groups if g.startswith("campaign:")} == expected_campaigns
    benign = {g for g in log.groups if g.startswith("benign:")}
    assert {log.styles[g] for g in benign} == set(sim.LOOKALIKES)
    assert sum(log.styles[g] == "multikey_app" for g in benign) == 2
    assert set(log.groups) == expected_campaigns | benign | {"organic"}
    assert {log.styles[g] for g in expected_campaigns} == set(sim.ATTACKER_STYLES)
    for t in truth.values():
        assert t["label"] == t["group"].split(":")[0]
    assert 100 <= log.groups["organic"] == cell.knobs.organic_accounts


def test_records_have_required_fields(built):
    records = built["records"]
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    times = [r["created_at"] for r in records]
    assert times == sorted(times)
    start = datetime.fromisoformat(times[0].replace("Z", "+00:00"))
    end = datetime.fromisoformat(times[-1].replace("Z", "+00:00"))
    assert 9 <= (end - start).days <= 14
    models = Counter()
    shapes = Counter()
    for r in records:
        assert r["account"]["id"].startswith("acct_") and r["account"]["org_id"].startswith("org_")
        assert r["client"]["ip"].count(".") == 3 and r["client"]["user_agent"]
        req = r["request"]
        models[req["model"]] += 1
        last = req["messages"][-1]
        assert last["role"] == "user" and _text(last).strip()
        assert all(len(_text(m)) < 4000 for m in req["messages"])
        if isinstance(last["content"], list):  # Anthropic style: top-level system, max_tokens always
            shapes["anthropic"] += 1
            assert "max_tokens" in req and all(m["role"] != "system" for m in req["messages"])
        else:
            shapes["openai"] += 1
            assert "system" not in req
    assert set(models) <= {*sim.MODELS, sim.NEW_MODEL} and models[sim.NEW_MODEL] > 0
    assert min(shapes.values()) > 0.2 * len(records)


def test_deterministic(built, tmp_path):
    log2 = sim.build_log(built["cell"], tmp_path / "again", _need_corpora())
    assert log2.requests_path.read_bytes() == built["log"].requests_path.read_bytes()
    assert log2.truth_path.read_bytes() == built["log"].truth_path.read_bytes()


def test_no_text_shared_across_groups(built):
    seen: dict[str, set[str]] = defaultdict(set)
    for group, recs in built["by_group"].items():
        for r in recs:
            seen[sim._key(_text(r["request"]["messages"][-1]))].add(group)
    shared = {k: v for k, v in seen.items() if len(v) > 1}
    assert not shared, list(shared.items())[:3]


def test_organic_volumes_heavy_tailed(built):
    counts = sorted(len(v) for v in _accounts(built["by_group"]["organic"]).values())
    assert sum(c <= 20 for c in counts) >= 0.8 * len(counts)
    assert counts[-1] >= 100
    orgs = Counter(r["account"]["org_id"] for r in built["by_group"]["organic"])
    assert len(orgs) < len(counts)  # a minority share team orgs


def test_multiturn_carries_earlier_turns(built):
    group = next(g for g in built["by_group"] if g.startswith("campaign:multiturn"))
    multi = 0
    for recs in _accounts(built["by_group"][group]).values():
        prev_user: set[str] = set()
        for r in recs:
            turns = _turns(r["request"])
            roles = [m["role"] for m in turns]
            assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"]
            if len(turns) >= 3:
                multi += 1
                assert _text(turns[-3]) in prev_user  # the earlier turn was itself sent before
            prev_user.add(_text(turns[-1]))
    assert multi >= 0.3 * (1 - built["knobs"][group].cover_share) * len(built["by_group"][group])


def test_agentic_has_tools_and_tool_results(built):
    group = next(g for g in built["by_group"] if g.startswith("campaign:agentic"))
    recs = built["by_group"][group]
    with_tools = [r for r in recs if r["request"].get("tools")]
    sk = built["knobs"][group]
    assert len(with_tools) >= (0.75 - sk.cover_share) * len(recs)
    assert all(r["request"].get("system") or r["request"]["messages"][0]["role"] == "system" for r in with_tools)
    results = 0
    for r in with_tools:
        names = {t.get("name") or t["function"]["name"] for t in r["request"]["tools"]}
        for m in r["request"]["messages"]:
            for call in m.get("tool_calls") or []:
                assert call["function"]["name"] in names
            if m["role"] == "tool" or (
                isinstance(m["content"], list) and any(b["type"] == "tool_result" for b in m["content"])
            ):
                results += 1
    assert results > 0


def test_relay_lifetimes_do_not_overlap(built):
    relays = [g for g in built["by_group"] if g.startswith("campaign:") and g.endswith("-relay")]
    assert relays
    for g in relays:
        spans = sorted(
            (min(r["created_at"] for r in v), max(r["created_at"] for r in v))
            for v in _accounts(built["by_group"][g]).values()
        )
        assert len(spans) == built["knobs"][g].accounts
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end < start
        counts = [len(v) for v in _accounts(built["by_group"][g]).values()]
        assert min(counts) >= 20


def test_swarm_accounts_are_small_and_brief(built):
    swarms = [g for g in built["by_group"] if g.startswith("campaign:") and g.endswith("-swarm")]
    assert swarms
    for g in swarms:
        accts = _accounts(built["by_group"][g])
        assert len(accts) == built["knobs"][g].accounts >= 40
        assert max(len(v) for v in accts.values()) <= 8
        times = sorted(datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) for r in built["by_group"][g])
        assert (times[-1] - times[0]).total_seconds() <= 40 * 3600


def test_parallel_workers_overlap(built):
    for g in (g for g in built["by_group"] if g.startswith("campaign:") and g.endswith("-parallel")):
        spans = [
            (min(r["created_at"] for r in v), max(r["created_at"] for r in v))
            for v in _accounts(built["by_group"][g]).values()
        ]
        latest_start, earliest_end = max(s for s, _ in spans), min(e for _, e in spans)
        assert latest_start < earliest_end  # at some moment every worker is active


def test_infra_knobs(built):
    for g, sk in built["knobs"].items():
        recs = built["by_group"][g]
        accts = _accounts(recs)
        orgs = {r["account"]["org_id"] for r in recs}
        ips = Counter(r["client"]["ip"] for r in recs)
        if sk.shape == "reseller":
            assert len(orgs) == len(accts)
            owners = defaultdict(set)
            for r in recs:
                owners[r["client"]["ip"]].add(r["account"]["id"])
            assert max(len(v) for v in owners.values()) == 1  # no shared infrastructure
            cover = sum(1 for r in recs if not r["request"].get("tools") and len(_turns(r["request"])) == 1)
            assert cover >= 0.25 * len(recs) or sk.style in ("sweep_ru", "sweep_en", "sweep_zh", "harvested")
        elif sk.infra == "shared":
            assert len(ips) <= 6 and len({r["client"]["user_agent"] for r in recs}) == 1
        else:
            assert len(orgs) == len(accts) and len(ips) >= 0.9 * len(recs)
            assert not any(r["request"].get("system") for r in recs if sk.style != "agentic")


def test_lookalikes_shapes(built):
    bg = built["by_group"]
    for g in (g for g in bg if g.startswith("benign:multikey_app")):
        accts = _accounts(bg[g])
        assert 10 <= len(accts) <= 40 and len({r["account"]["org_id"] for r in bg[g]}) == 1
        assert len({_system(r) for r in bg[g]}) == 1
    classroom = next(g for g in bg if g.startswith("benign:classroom"))
    times = sorted(r["created_at"] for r in bg[classroom])
    assert times[0][:10] == times[-1][:10] and len(_accounts(bg[classroom])) >= 15
    bench = next(g for g in bg if g.startswith("benign:benchmark_run"))
    assert len({r["account"]["org_id"] for r in bg[bench]}) >= 2
    prompts = Counter(_text(r["request"]["messages"][-1]) for r in bg[bench])
    assert max(prompts.values()) >= 2
    service = _accounts(bg["benign:service_account"])
    assert 1 <= len(service) <= 3
    popular = Counter(_text(r["request"]["messages"][-1]) for r in bg["benign:popular_prompts"])
    assert popular.most_common(1)[0][1] >= 5
    power = _accounts(bg["benign:power_user"])
    assert 2 <= len(power) <= 4 and min(len(v) for v in power.values()) >= 40


def _system(r: dict) -> str | None:
    req = r["request"]
    if "system" in req:
        return req["system"]
    first = req["messages"][0]
    return first["content"] if first["role"] == "system" else None


def test_cli_list(capsys):
    assert sim.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(c.name in out for c in sim.grid())
