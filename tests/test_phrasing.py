"""Linking accounts by shared phrasing (the mined templates they wrap their prompts in), and a
reseller network's thin slices judged together next to a flagged campaign: hand-built tables and
``detect`` on a log whose resellers share nothing but their operator's wrapper."""

import itertools

import numpy as np
import pandas as pd
from test_calibrate import _log
from test_content_links import with_resellers

from clusterkit.campaigns import detect
from clusterkit.campaigns.detect import PASS_CONTENT
from clusterkit.campaigns.evidence import PHRASING, near_lift
from clusterkit.campaigns.linking import PHRASING_MIN_USES, SharedTemplates, index

WRAP = "… please give your best, most complete answer."


def _prompts(resellers: int = 8, ordinary: int = 40, uses: int = 3, cover: int = 5) -> pd.DataFrame:
    """Resellers each send ``uses`` prompts in one wrapper plus ``cover`` plain ones; ordinary
    accounts send ten plain prompts, the first of them in the same wrapper once (anyone might)."""
    rows = []
    for i in range(resellers):
        rows += [(f"r{i}", f"r{i}-w{j}", WRAP) for j in range(uses)]
        rows += [(f"r{i}", f"r{i}-c{j}", None) for j in range(cover)]
    for i in range(ordinary):
        rows += [(f"o{i}", f"o{i}-{j}", WRAP if j == 0 else None) for j in range(10)]
    return pd.DataFrame(rows, columns=["account_id", "prompt_hash", "template"]).assign(n=1)


def test_accounts_sharing_a_wrapper_link_and_one_use_each_does_not():
    prompts = _prompts()
    accounts = pd.DataFrame({"account_id": prompts["account_id"].unique()})
    idx = index(accounts)
    rows, cols, strength = SharedTemplates(prompts, idx).links()
    names = accounts["account_id"].to_numpy()
    pairs = {tuple(sorted((names[r], names[c]))) for r, c in zip(rows, cols)}
    resellers = [f"r{i}" for i in range(8)]
    assert pairs == set(itertools.combinations(resellers, 2))  # one use each links nobody
    assert np.allclose(strength, 1.0)
    # a pair needs PHRASING_MIN_USES prompts in common: one use each of two wrappers is enough too
    two = pd.DataFrame(
        [("a", "a1", "T1"), ("a", "a2", "T2"), ("b", "b1", "T1"), ("b", "b2", "T2"), ("c", "c1", "T1")],
        columns=["account_id", "prompt_hash", "template"],
    ).assign(n=1)
    idx2 = index(pd.DataFrame({"account_id": ["a", "b", "c"]}))
    r2, c2, _ = SharedTemplates(two, idx2).links()
    assert PHRASING_MIN_USES == 2 and list(zip(r2, c2)) == [(0, 1)]
    # only among the accounts asked about
    among = np.zeros(len(idx), dtype=bool)
    among[[idx["r0"], idx["r1"], idx["o0"]]] = True
    r3, c3, _ = SharedTemplates(prompts, idx).links(among)
    assert list(zip(r3, c3)) == [(idx["r0"], idx["r1"])]


def test_a_groups_strangers_are_the_members_outside_the_phrasing_most_of_it_shares():
    plain = pd.DataFrame(
        [(f"p{i}", f"p{i}-{j}", None) for i in range(3) for j in range(6)],
        columns=["account_id", "prompt_hash", "template"],
    )
    prompts = pd.concat([_prompts(ordinary=0, uses=8, cover=1), plain.assign(n=1)], ignore_index=True)
    accounts = pd.DataFrame({"account_id": prompts["account_id"].unique()})
    idx = index(accounts)
    phrasing = SharedTemplates(prompts, idx)
    names = accounts["account_id"].to_numpy()
    group = np.array([idx[a] for a in [*(f"r{i}" for i in range(8)), "p0", "p1", "p2"]])
    assert list(names[group[phrasing.strangers(group)]]) == ["p0", "p1", "p2"]
    # a group most of whose members share no phrasing has no strangers (its links are elsewhere)
    mostly_plain = np.array([idx[a] for a in ["r0", "r1", "p0", "p1", "p2"]])
    assert not phrasing.strangers(mostly_plain).any()
    # nor does a wrapper one member alone uses make it shared
    alone = np.array([idx[a] for a in ["r0", "p0", "p1"]])
    assert not phrasing.wrapped(alone).any() and not phrasing.strangers(alone).any()
    # an account with too few prompts to tell (a swarm account's three, where a third of the
    # group's prompts are unwrapped) is no stranger
    few = pd.concat(
        [prompts, pd.DataFrame({"account_id": "s0", "prompt_hash": ["s0-1", "s0-2"], "template": None, "n": 1})]
    )
    idx3 = index(pd.DataFrame({"account_id": few["account_id"].unique()}))
    group3 = np.array([idx3[a] for a in [*(f"r{i}" for i in range(8)), "s0"]])
    assert not SharedTemplates(few, idx3).strangers(group3).any()


def test_shared_phrasing_is_the_members_own_wrapper_not_an_apps_task():
    prompts = _prompts()
    accounts = pd.DataFrame({"account_id": prompts["account_id"].unique()})
    idx = index(accounts)
    resellers = np.array([idx[f"r{i}"] for i in range(8)])
    ordinary = np.array([idx[f"o{i}"] for i in range(8)])
    phrasing = SharedTemplates(prompts, idx)
    # 3 of each reseller's 8 prompts are in the wrapper; 24 of its 64 uses are theirs
    assert np.isclose(phrasing.shared(resellers), 3 / 8 * 24 / 64)
    assert phrasing.shared(ordinary) < 0.1 * phrasing.shared(resellers)
    assert phrasing.shared(resellers[:1]) == 0.0  # one account shares with nobody
    # the same wrapper read as a transformation of the user's own text (an app) counts for less
    app = SharedTemplates(prompts, idx, {WRAP: 0.75})
    assert np.isclose(app.shared(resellers), 0.25 * phrasing.shared(resellers))


def test_detect_groups_resellers_that_share_only_a_wrapper():
    """Human-paced resellers on their own infrastructure whose prompts are no nearer one another
    than anyone's: their operator's wrapper is the one thing they share, and pass 3 groups them."""
    rng = np.random.default_rng(11)
    signals, cells, prompts = _log(200, rng)
    signals, cells = with_resellers(signals, cells, rng)
    rows = [{"account_id": f"r{i}", "prompt_hash": f"r{i}-{j}", "n": 1} for i in range(8) for j in range(30)]
    prompts = pd.concat([prompts, pd.DataFrame(rows)], ignore_index=True)
    wrapped = prompts["account_id"].str.startswith("r") & (
        prompts["prompt_hash"].str.split("-").str[1].astype(int) < 20
    )
    prompts["template"] = np.where(wrapped, WRAP, None)
    # neighbours at random: no content links any account to another
    hashes = prompts["prompt_hash"].to_numpy(dtype=object)
    neighbours = (hashes, rng.integers(0, len(hashes), size=(len(hashes), 10)))
    det = detect(signals, cells, prompts, neighbours=neighbours)
    by_content = det.campaigns[det.campaigns["pass"] == PASS_CONTENT]
    resellers = {f"r{i}" for i in range(8)}
    assert [set(m) for m in by_content["members"]] == [resellers]
    assert by_content.iloc[0]["evidence"][PHRASING] > 0.5
    # without the wrapper nothing links them
    plain = detect(signals, cells, prompts.assign(template=None), neighbours=neighbours)
    assert not (plain.campaigns["pass"] == PASS_CONTENT).any() if len(plain.campaigns) else True


def test_pooled_enrichment_next_to_a_campaign_is_measured_within_each_script():
    """Ten accounts each sending 4 of 20 prompts next to a flagged campaign's: too few alone, many
    together. A language whose prompts are all one another's neighbours (its speakers are next to a
    campaign in that language whatever they ask) is explained by its script."""
    rng = np.random.default_rng(2)
    rows = [("c0", f"c0-{j}", "latin") for j in range(50)]  # the flagged campaign's prompts
    rows += [(f"r{i}", f"r{i}-{j}", "latin") for i in range(10) for j in range(20)]
    rows += [(f"o{i}", f"o{i}-{j}", "latin") for i in range(100) for j in range(20)]
    rows += [(f"z{i}", f"z{i}-{j}", "zh") for i in range(20) for j in range(20)]  # all next to c0
    prompts = pd.DataFrame(rows, columns=["account_id", "prompt_hash", "language"]).assign(n=1)
    hashes = prompts["prompt_hash"].to_numpy(dtype=object)
    pos = {h: i for i, h in enumerate(hashes)}
    campaign = np.array([pos[f"c0-{j}"] for j in range(50)])
    ind = rng.integers(0, len(hashes), size=(len(hashes), 6))
    near = [f"r{i}-{j}" for i in range(10) for j in range(4)] + [f"z{i}-{j}" for i in range(20) for j in range(20)]
    near += [f"o{i}-0" for i in range(0, 100, 4)]
    for h in near:
        ind[pos[h]] = rng.choice(campaign, 6)
    lift = near_lift(prompts, (hashes, ind), np.array(["c0"]), 1e-6)
    resellers = [f"r{i}" for i in range(10)]
    assert not lift.enriched.reindex(resellers).any()  # each alone: 4 of 20
    assert lift.group_enriched(resellers, 1e-6)
    assert not lift.group_enriched([f"o{i}" for i in range(10)], 1e-6)
    # the Chinese speakers are all next to the campaign, as every Chinese prompt is
    assert not lift.group_enriched([f"z{i}" for i in range(10)], 1e-6)


class _Db:
    """The two methods template mining needs, over an in-memory DuckDB."""

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()

    def run_script(self, script: str, params: dict) -> None:
        from clusterkit.store.connection import _bound, _statements

        for stmt in _statements(script):
            self.con.execute(stmt, _bound(stmt, params))


def test_scripted_follow_ups_are_mined_as_templates_and_short_single_prompts_are_not():
    """A later turn of a conversation is a template at any length when many conversations send it
    (its earlier turns vary); short single prompts sharing their first 40 characters are not."""
    from clusterkit.campaigns.signals import _mine_templates

    db = _Db()
    db.con.execute("CREATE TABLE prompts (prompt_hash VARCHAR, text VARCHAR, context VARCHAR)")
    db.con.execute("CREATE TABLE cluster_labels (run_id BIGINT, prompt_hash VARCHAR)")
    rows = [(f"f{i}", "Now give a harder variant of this task and solve it.", f"task {i}") for i in range(25)]
    rows += [(f"s{i}", f"What is the capital city of the country called {i}?", None) for i in range(25)]
    rows += [
        (f"w{i}", f"Question {i}: {'x' * 80}\n\n(Please give your best, most complete answer.)", None)
        for i in range(25)
    ]
    db.con.executemany("INSERT INTO prompts VALUES (?, ?, ?)", rows)
    db.con.executemany("INSERT INTO cluster_labels VALUES (1, ?)", [(h,) for h, _, _ in rows])
    _mine_templates(db, 1)
    mined = db.sql("SELECT prompt_hash, template FROM _affix")
    kinds = mined["prompt_hash"].str[0].value_counts().to_dict()
    assert kinds == {"f": 25, "w": 25}
    assert mined.loc[mined["prompt_hash"] == "f0", "template"].item().startswith("↩ now give a harder variant")


def test_a_scripted_follow_up_has_no_app_likeness():
    """ "Translate your answer to German" transforms the model's own answer, not a user's text: a
    follow-up template says nothing about an application, while a wrapper is still read."""
    from clusterkit.campaigns.intent import FOLLOW_UP, template_intents

    templates = pd.DataFrame(
        {
            "template": [
                f"{FOLLOW_UP}translate your answer to german. …",
                "summarize the following text in 2-3 sent …",
            ],
            "n_prompts": [25, 30],
            "texts": [
                ["translate your answer to german."] * 3,
                ["summarize the following text in 2-3 sentences: a"] * 3,
            ],
        }
    )
    rng = np.random.default_rng(0)
    out = template_intents(templates, lambda texts: rng.standard_normal((len(texts), 8)))
    assert out["fixed"].tolist()[0] == "translate your answer to german."
    assert np.isnan(out["app_likeness"].iloc[0]) and 0 <= out["app_likeness"].iloc[1] <= 1
