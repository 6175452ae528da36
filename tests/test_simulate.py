import csv

import orjson
import pytest

from clusterkit.errors import InputError
from clusterkit.simulate import simulate


def _truth(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_same_log(tmp_path):
    a = simulate(tmp_path / "a", seed=7)
    b = simulate(tmp_path / "b", seed=7)
    c = simulate(tmp_path / "c", seed=8)
    assert a.requests_path.read_bytes() == b.requests_path.read_bytes()
    assert a.requests_path.read_bytes() != c.requests_path.read_bytes()


def test_truth_labels_every_account_in_the_log(tmp_path):
    sim = simulate(tmp_path, seed=1, bad_lines=False)
    truth = _truth(sim.truth_path)
    labels = {r["account_id"]: (r["label"], r["group"]) for r in truth}
    seen = set()
    for line in sim.requests_path.read_bytes().splitlines():
        seen.add(orjson.loads(line)["account"]["id"])
    assert seen == set(labels)
    groups = {g for _, g in labels.values()}
    assert {
        "organic",
        "campaign:broad_sweep",
        "campaign:cot_extraction",
        "campaign:grader",
        "campaign:agentic_coding",
        "campaign:zh_sweep",
        "campaign:reseller",
        "benign:heavy_app",
        "benign:eval_team",
        "benign:classroom",
    } <= groups
    assert {lab for lab, _ in labels.values()} == {"organic", "campaign", "benign"}


def _prompt(rec):
    content = rec["request"]["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def test_real_corpora_are_used_when_given(tmp_path, shared_prompts):
    import gzip

    sim = simulate(tmp_path, corpora=shared_prompts, seed=2, bad_lines=False)
    sweep = {r["account_id"] for r in _truth(sim.truth_path) if r["group"] == "campaign:broad_sweep"}
    with gzip.open(shared_prompts / "alpaca_52k.jsonl.gz", "rb") as fh:
        alpaca = {orjson.loads(line)["text"] for line in fh}
    recs = [orjson.loads(line) for line in sim.requests_path.read_bytes().splitlines()]
    sweep_texts = [_prompt(r) for r in recs if r["account"]["id"] in sweep]
    # verbatim Alpaca tasks, but for the few another account drew before (then reworded)
    assert sweep_texts and sum(t in alpaca for t in sweep_texts) >= 0.95 * len(sweep_texts)
    assert len(set(sweep_texts)) == len(sweep_texts)


def test_corpus_prompts_drawn_again_come_reworded(tmp_path):
    import gzip
    import random

    from clusterkit.simulate import _Pools, _reworded

    tasks = ["Name three primary colours.", "Explain recursion.", "请解释量子力学"]
    with gzip.open(tmp_path / "alpaca_52k.jsonl.gz", "wb") as fh:
        fh.write(b"".join(orjson.dumps({"text": t}) + b"\n" for t in tasks))
    pools = _Pools(random.Random(0), tmp_path, 0)
    first = pools.take("sweep", 10)
    again = pools.take("sweep", 4, offset=2)
    assert len(set(first + again)) == 14  # never the same text twice, across draws too
    assert set(first[:3]) == set(tasks)  # the first draw of each is verbatim
    assert all(any(t in x for t in tasks) for x in first + again)  # rewordings keep the task
    assert _reworded("请解释量子力学", 1).startswith("请问") and _reworded("hi", 1) == "Quick question: hi"
    assert len({_reworded("task", k) for k in range(300)}) == 300


def test_bad_options(tmp_path):
    with pytest.raises(InputError, match="size"):
        simulate(tmp_path, size="huge")
    with pytest.raises(InputError, match="no such folder"):
        simulate(tmp_path, corpora=tmp_path / "nope")
