"""Exports are formula-safe (OWASP CSV injection) and keep values exactly as stored otherwise."""

import csv
import io

import pandas as pd

from clusterkit.cli import main
from clusterkit.export import safe_csv
from clusterkit.store import Store

HOSTILE = ['=HYPERLINK("http://x","click")', "@SUM(A1:A9)", "+1+2", "-3+4", "\tTAB", "\rCR", "plain", 'say "hi"']


def test_formula_cells_are_neutralised_and_others_kept():
    df = pd.DataFrame({"account_id": HOSTILE, "score": [-0.5] * len(HOSTILE)})
    rows = list(csv.DictReader(io.StringIO(safe_csv(df))))
    got = [r["account_id"] for r in rows]
    assert got[:6] == ["'" + h for h in HOSTILE[:6]]
    assert got[6:] == ["plain", 'say "hi"']  # quoted by the CSV writer, not altered
    assert rows[0]["score"] == "-0.5"  # numbers are numbers, not formulas
    tsv = list(csv.reader(io.StringIO(safe_csv(df, sep="\t")), delimiter="\t"))
    assert [r[0] for r in tsv[1:]] == got


def test_accounts_export_of_hostile_ids_is_formula_safe(tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        run = store.start_run("score", {"t": 1})
        table = pd.DataFrame(
            {
                "account_id": HOSTILE,
                "score": 0.9,
                "flagged": True,
                "campaign_id": "C001",
                "reasons": "=cmd|' /C calc'!A0",
                "n_requests": 5,
                "signals": "{}",
            }
        )
        edges = pd.DataFrame({"a": ["x"], "b": ["y"], "coactivity": [0.0], "infra": [0.0], "weight": [0.0]}).iloc[:0]
        store.write_scores(run, table, pd.DataFrame(), edges)
        store.finish_run(run, status="ok", stats={"accounts": len(table), "flagged": len(table), "campaigns": 1})
    out = tmp_path / "acc.csv"
    assert main(["accounts", "--db", str(db), "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert sorted(r["account_id"] for r in rows) == sorted(("'" + h) if h[0] in "=+-@\t\r" else h for h in HOSTILE)
    assert all(r["reasons"].startswith("'=") for r in rows)


def test_out_with_the_table_format_is_refused(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    with Store(db):
        pass
    for command in ("clusters", "campaigns"):
        assert main([command, "--db", str(db), "--out", str(tmp_path / "f.txt")]) == 2
        assert "add --format csv or json" in capsys.readouterr().err
        assert not (tmp_path / "f.txt").exists()


def test_an_unwritable_out_is_one_line_not_a_traceback(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        run = store.start_run("score", {"t": 2})
        edges = pd.DataFrame({"a": ["x"], "b": ["y"], "coactivity": [0.0], "infra": [0.0], "weight": [0.0]}).iloc[:0]
        table = pd.DataFrame(
            {
                "account_id": ["a"],
                "score": 0.1,
                "flagged": False,
                "campaign_id": None,
                "reasons": "",
                "n_requests": 1,
                "signals": "{}",
            }
        )
        store.write_scores(run, table, pd.DataFrame(), edges)
        store.finish_run(run, status="ok", stats={"accounts": 1, "flagged": 0, "campaigns": 0})
    out = tmp_path / "no-such-folder" / "acc.csv"
    assert main(["accounts", "--db", str(db), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No such file or directory" in err and str(out) in err and "Traceback" not in err


def test_displays_show_hidden_characters_and_exports_keep_them():
    from clusterkit.cli import _plain
    from clusterkit.report import _e

    tricky = 'id"\u202eexe.txt\u200b'
    assert _e(tricky) == "id&quot;⟨U+202E⟩exe.txt⟨U+200B⟩"  # HTML text: the browser shows id"⟨U+202E⟩…
    assert _plain(tricky).plain == 'id"⟨U+202E⟩exe.txt⟨U+200B⟩'
    rows = list(csv.reader(io.StringIO(safe_csv(pd.DataFrame({"account_id": [tricky]})))))
    assert rows[1] == [tricky]  # the export holds the id exactly as stored
