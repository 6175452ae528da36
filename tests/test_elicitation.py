"""What the fixed part of the prompts asks for, read by meaning rather than by our own regexes: a
wrapper of one short line, or one of many phrasings of a request each too rare for the 40-character
rule, is mined as a template; templates that elicit the model's reasoning or grades are evidence of a
campaign (and open the machine-evidence gate), templates that transform the user's text are not."""

import numpy as np
import pandas as pd
import pytest
from test_phrasing import _Db

from clusterkit.campaigns.evidence import (
    AUTOMATION,
    ELICIT,
    GroupEvidence,
    elicit_shares,
    score_evidence,
)
from clusterkit.campaigns.intent import elicitation
from clusterkit.campaigns.linking import InfraIndex, index
from clusterkit.campaigns.params import DetectParams
from clusterkit.campaigns.signals import MIN_LINE_CHARS, MIN_LINE_FAMILY, _mine_templates


def _mined(rows: list[tuple[str, str]]) -> dict[str, str]:
    db = _Db()
    db.con.execute("CREATE TABLE prompts (prompt_hash VARCHAR, text VARCHAR, context VARCHAR)")
    db.con.execute("CREATE TABLE cluster_labels (run_id BIGINT, prompt_hash VARCHAR)")
    db.con.executemany("INSERT INTO prompts VALUES (?, ?, NULL)", rows)
    db.con.executemany("INSERT INTO cluster_labels VALUES (1, ?)", [(h,) for h, _ in rows])
    _mine_templates(db, 1)
    mined = db.sql("SELECT prompt_hash, template FROM _affix")
    return dict(zip(mined["prompt_hash"], mined["template"]))


def test_whole_first_or_last_lines_shared_by_enough_prompts_are_templates():
    n = MIN_LINE_FAMILY
    rows = [(f"t{i}", f"How do magnets work, case {i}?\nThink it over before you answer.") for i in range(n)]
    rows += [(f"h{i}", f"Reason carefully, one step at a time:\nWhat is {i} squared?") for i in range(n)]
    # (one prompt short of a template; a shared line too short to be a wrapper)
    rows += [(f"r{i}", f"Topic {i}\nPlease write it in the voice of a pirate.") for i in range(n - 1)]
    rows += [(f"s{i}", f"Is {i} prime?\nThanks!") for i in range(n)]
    # a prompt in two templates keeps the one more prompts share: here a fixed head of 40+
    # characters (25 prompts) over a last line 12 of them end with
    head = "Summarize the following text in two sentences, keeping every name: "
    rows += [
        (f"a{i}", f"{head}{i} {'y' * 60}\n" + ("Keep it under fifty words, please." if i < 12 else f"Note {i}"))
        for i in range(25)
    ]
    assert len("Thanks!") < MIN_LINE_CHARS
    mined = _mined(rows)
    kinds = pd.Series([h[0] for h in mined]).value_counts().to_dict()
    assert kinds == {"t": n, "h": n, "a": 25}
    assert mined["t0"] == "… think it over before you answer."
    assert mined["h0"] == "reason carefully, one step at a time: …"
    assert mined["a0"].startswith("summarize the following text in two sen") and mined["a0"].endswith(" …")


def test_elicitation_reads_app_likeness_and_frame_and_nothing_else():
    assert elicitation(np.array([0.0, 0.25, 0.5, 0.9, np.nan])).tolist() == [1.0, 0.5, 0.0, 0.0, 0.0]
    # a frame naming no task (the rest of the reading) elicits nothing either
    assert elicitation(np.array([0.0, 0.0, 0.1]), np.array([0.5, 1.0, 0.1])).tolist() == pytest.approx([0.5, 0.0, 0.7])


def _group(app: float | None):
    """Eight accounts of 20 requests, 10 of each in templates of their own (one phrasing per
    account: no two members share one), and 40 ordinary accounts with no template. (The
    "templated prompts" hint is left at what an ordinary account shows: what is tested is what the
    templates ask for, not that there are some.)"""
    rows = []
    for i in range(8):
        rows += [(f"r{i}", f"r{i}-{j}", f"… phrasing {i}" if j < 10 else None) for j in range(20)]
    for i in range(40):
        rows += [(f"o{i}", f"o{i}-{j}", None) for j in range(20)]
    prompts = pd.DataFrame(rows, columns=["account_id", "prompt_hash", "template"]).assign(n=1)
    likeness = None if app is None else {f"… phrasing {i}": app for i in range(8)}
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    signals = pd.DataFrame({"account_id": prompts["account_id"].unique()}).assign(
        n_req=20, first_ts=t0, last_ts=t0 + pd.Timedelta(days=3), hour_entropy=0.7, gap_cv=1.4, template_share=0.0
    )
    elicits = None if likeness is None else {t: float(elicitation(np.array([a]))[0]) for t, a in likeness.items()}
    signals["elicit_share"] = elicit_shares(prompts, signals["account_id"], elicits)
    idx = index(signals)
    no_infra = InfraIndex(pd.DataFrame(columns=["account_id", "kind", "value", "n"]), idx)
    typical = {"n_req": 5.0, "template_share": 0.0, "elicit_share": 0.0}
    evidence = GroupEvidence(signals, prompts, no_infra, idx, typical, DetectParams(), likeness)
    return signals, evidence(np.arange(8))


def test_templates_that_elicit_the_models_reasoning_are_machine_evidence():
    """Human-paced accounts on their own infrastructure, each in phrasings of its own (no shared
    phrasing): only what the phrasings ask for tells them apart. Read as eliciting the model's
    reasoning they open the machine-evidence gate; read as a transformation of the user's text, or
    not read at all (no intent model), they do not."""
    signals, elicit = _group(0.05)
    assert signals["elicit_share"].iloc[:8].tolist() == pytest.approx([0.5 * 0.9] * 8)
    assert (signals["elicit_share"].iloc[8:] == 0).all()
    assert elicit[ELICIT] == pytest.approx(0.45) and elicit[AUTOMATION] >= elicit[ELICIT]
    for app in (0.9, None):
        _, other = _group(app)
        assert other[ELICIT] == 0.0
        assert score_evidence(other) < 0.5 * score_evidence(elicit)
    assert score_evidence(elicit) > score_evidence({**elicit, ELICIT: 0.0, AUTOMATION: 0.0})


def _mined_turns(n_conversations: int) -> dict[str, str]:
    db = _Db()
    db.con.execute("CREATE TABLE prompts (prompt_hash VARCHAR, text VARCHAR, context VARCHAR)")
    db.con.execute("CREATE TABLE cluster_labels (run_id BIGINT, prompt_hash VARCHAR)")
    rows = [(f"f{i}", "请批判你之前的回答，并写出改进版本。", f"task {i}") for i in range(n_conversations)]
    db.con.executemany("INSERT INTO prompts VALUES (?, ?, ?)", rows)
    db.con.executemany("INSERT INTO cluster_labels VALUES (1, ?)", [(h,) for h, _, _ in rows])
    _mine_templates(db, 1)
    return dict(db.sql("SELECT prompt_hash, template FROM _affix").itertuples(index=False))


def test_a_follow_up_turn_is_mined_as_rarely_as_a_whole_line():
    """A scripted follow-up is a whole turn: sent in MIN_LINE_FAMILY conversations it is a template
    (a campaign's dozen phrasings of "critique your answer" are each that rare), in fewer it is not."""
    assert len(_mined_turns(MIN_LINE_FAMILY)) == MIN_LINE_FAMILY
    assert _mined_turns(MIN_LINE_FAMILY - 1) == {}


@pytest.mark.slow
def test_follow_ups_are_read_for_elicitation_but_not_as_applications():
    """ "Critique your answer and write a better one" asks for the model's own answers: its
    elicitation is read like a wrapper's, while it still says nothing about an application; a
    follow-up too short to read ("why?", "谢谢") elicits nothing, whatever the model makes of it."""
    from clusterkit.campaigns.intent import FOLLOW_UP, INTENT_MODEL, MIN_READ_BYTES, template_intents
    from clusterkit.embed import embed_texts, get_embedder

    emb = get_embedder(model=INTENT_MODEL)
    encode = lambda texts: embed_texts(texts, embedder=emb)  # noqa: E731
    follow_ups = [
        "critique your previous answer and write an improved version.",
        "请更深入地解释你上一个回答。",
        "why?",
        "谢谢",
    ]
    assert [len(t.encode()) >= MIN_READ_BYTES for t in follow_ups] == [True, True, False, False]
    templates = pd.DataFrame(
        {
            "template": [f"{FOLLOW_UP}{t[:40]} …" for t in follow_ups] + ["translate the customer email below int …"],
            "n_prompts": [12, 12, 12, 12, 30],
            "texts": [[t] * 3 for t in follow_ups] + [["translate the customer email below into spanish: a"] * 3],
        }
    )
    out = template_intents(templates, encode)
    assert out["app_likeness"].iloc[:4].isna().all() and out["app_likeness"].iloc[4] > 0.5
    assert (out["elicits"].iloc[:2] > 0.5).all(), out
    assert (out["elicits"].iloc[2:] == 0.0).all(), out
