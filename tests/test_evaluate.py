import pandas as pd
import pytest

from clusterkit.errors import InputError
from clusterkit.evaluate import evaluate, load_truth


def _truth(tmp_path, rows):
    p = tmp_path / "truth.csv"
    p.write_text("account_id,label,group\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return load_truth(p)


@pytest.fixture
def truth(tmp_path):
    rows = [(f"o{i}", "organic", "organic") for i in range(200)]
    rows += [(f"c{i}", "campaign", "campaign:a" if i < 5 else "campaign:b") for i in range(10)]
    rows += [("b0", "benign", "benign:classroom"), ("b1", "benign", "benign:classroom")]
    return _truth(tmp_path, rows)


def _scores(truth, score_of, flag_of, campaign_of):
    ids = sorted(truth)
    return pd.DataFrame(
        {
            "account_id": ids,
            "score": [score_of(a) for a in ids],
            "flagged": [flag_of(a) for a in ids],
            "campaign_id": [campaign_of(a) for a in ids],
        }
    )


def test_perfect_scores(truth):
    ev = evaluate(
        _scores(
            truth,
            lambda a: 0.9 if a[0] == "c" else 0.1,
            lambda a: a[0] == "c",
            lambda a: ("A" if int(a[1:]) < 5 else "B") if a[0] == "c" else None,
        ),
        truth,
    )
    assert ev.average_precision == 1.0 and ev.recall_at_1pct_fpr == 1.0
    assert ev.flagged_recall == 1.0 and ev.flagged_fpr == 0.0 and ev.ari == 1.0
    assert {g.group: g.flagged for g in ev.groups} == {
        "organic": 0,
        "campaign:a": 5,
        "campaign:b": 5,
        "benign:classroom": 0,
    }


def test_mistakes_are_counted(truth):
    # two organic accounts above every campaign account: FPR 1% allows only two at 200 organic
    def score(a):
        return {"o0": 0.99, "o1": 0.98, "o2": 0.97}.get(a, 0.5 if a[0] == "c" else 0.1)

    ev = evaluate(
        _scores(truth, score, lambda a: a in ("o0", "b0") or a[0] == "c", lambda a: "X" if a[0] == "c" else None), truth
    )
    assert ev.recall_at_1pct_fpr == 0.0
    assert ev.average_precision < 1.0
    assert ev.flagged_fpr == pytest.approx(1 / 200)
    assert {g.group: g.flagged for g in ev.groups}["benign:classroom"] == 1
    assert ev.ari == 0.0  # everything in one campaign id


def test_missing_and_unlabelled_accounts(truth):
    df = pd.DataFrame(
        {"account_id": ["c0", "zzz"], "score": [1.0, 1.0], "flagged": [True, True], "campaign_id": ["A", "A"]}
    )
    ev = evaluate(df, truth)
    assert ev.missing_scores == len(truth) - 1 and ev.unlabelled_scores == 1


@pytest.mark.parametrize(
    "body,msg",
    [
        ("account,label\n", "header"),
        ("account_id,label,group\na,spam,x\n", "line 2: label 'spam'"),
        ("account_id,label,group\na,organic,o\na,organic,o\n", "listed twice"),
        ("account_id,label,group\n,organic,o\n", "empty account_id"),
    ],
)
def test_bad_truth_files(tmp_path, body, msg):
    p = tmp_path / "t.csv"
    p.write_text(body)
    with pytest.raises(InputError, match=msg):
        load_truth(p)
