import subprocess
import sys

import orjson
from conftest import nested, write_jsonl

from clusterkit.cli import main
from clusterkit.store import Store


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys; from clusterkit.cli import build_parser; build_parser().format_help(); "
        "heavy = {'duckdb', 'torch', 'sentence_transformers', 'umap', 'plotly', 'pandas', 'pyarrow', 'rich'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    res = subprocess.run([sys.executable, "-m", "clusterkit.cli", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "ingest" in res.stdout and "info" in res.stdout


def test_ingest_and_info_commands(tmp_path, capsys):
    log = write_jsonl(tmp_path / "log.jsonl", [nested(1, text="one"), nested(2, "a2", "two"), b"{broken"])
    db = tmp_path / "cli.duckdb"
    rc = main(
        [
            "ingest",
            str(log),
            "--db",
            str(db),
            "--text",
            "request",
            "--account",
            "account.id",
            "--time",
            "created_at",
            "--id",
            "id",
            "--meta",
            "tier=client.user_agent",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "rows read" in out and "malformed_json" in out
    with Store(db) as s:
        assert s.sql("SELECT count(*) AS n FROM requests")["n"][0] == 2
        assert orjson.loads(s.sql("SELECT extra FROM requests LIMIT 1")["extra"][0])["tier"] == "python-httpx/0.27"
    rc = main(["info", "--db", str(db)])
    out = capsys.readouterr().out
    assert rc == 0 and "accounts" in out and "m-large" in out and "malformed_json" in out


def test_strict_exits_non_zero_only_when_quarantined(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    clean = write_jsonl(tmp_path / "clean.jsonl", [nested(1)])
    dirty = write_jsonl(tmp_path / "dirty.jsonl", [nested(2), b"nope"])
    assert main(["ingest", str(clean), "--db", db, "--strict"]) == 0
    assert main(["ingest", str(dirty), "--db", db]) == 0
    assert main(["ingest", str(dirty), "--db", db, "--strict"]) == 3
    assert "--strict" in capsys.readouterr().out


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["ingest", str(tmp_path / "missing.jsonl"), "--db", str(tmp_path / "s.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "missing.jsonl" in err and "Traceback" not in err
    assert main(["info", "--db", str(tmp_path / "none.duckdb")]) == 2


def test_demo_generates_sample_and_ingests(tmp_path, capsys):
    db, sample, report = tmp_path / "demo.duckdb", tmp_path / "sample", tmp_path / "report.html"
    assert main(["demo", "--db", str(db), "--sample", str(sample), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert (sample / "requests.jsonl").exists() and "generated the sample log" in out
    with Store(db) as s:
        info = s.info()
    assert info.requests > 2000 and info.accounts > 100 and info.quarantined >= 6
    assert info.embeddings == [("sentence-transformers/all-MiniLM-L6-v2@openvino-int8", info.prompts)]
    assert info.latest_cluster_run and info.latest_cluster_run["n_clusters"] > 5
    assert "clusters" in out and "noise" in out
    page = report.read_text(encoding="utf-8")  # the report the README's main command points to
    assert 'id="campaign-table"' in page and page.count('class="campaign"') >= 5


class TinyEmbedder:
    model_id = "tiny-fake"

    def encode(self, texts):
        import numpy as np

        return np.array([[len(t) % 7, t.count("a"), t.count("e"), 1.0] for t in texts], dtype=np.float32)


def test_clusters_command_formats(tmp_path, capsys):
    import json

    from clusterkit.pipeline import EngineParams, run

    log = write_jsonl(tmp_path / "l.jsonl", [nested(i, f"a{i % 5}", f"prompt {'a' * (i % 9)} {i}") for i in range(120)])
    db = tmp_path / "c.duckdb"
    assert main(["ingest", str(log), "--db", str(db)]) == 0
    with Store(db) as s:
        result = run(s, EngineParams(min_cluster_size=8), embedder=TinyEmbedder())
    capsys.readouterr()
    assert main(["clusters", "--db", str(db), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sum(r["n_prompts"] for r in rows) == 120 and {r["cluster"] for r in rows} >= {0}
    out_csv = tmp_path / "c.csv"
    assert (
        main(["clusters", "--db", str(db), "--format", "csv", "--out", str(out_csv), "--run", str(result.run_id)]) == 0
    )
    assert out_csv.read_text().startswith("cluster,n_prompts,n_requests,n_accounts")
    assert main(["clusters", "--db", str(db), "--run", "999"]) == 2
    assert "no run 999" in capsys.readouterr().err
    # info lists the runs by id (what --run takes), with their model
    assert main(["info", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"run {result.run_id}" in out and "cluster (ok)" in out and "model tiny-fake" in out
    with Store(db, read_only=True) as s:
        assert s.info().recent_runs[0]["run_id"] == result.run_id


def test_ingest_flags_reach_the_library(tmp_path, monkeypatch):
    import clusterkit.ingest as ingest_module

    seen = {}

    def fake_ingest(store, paths, **kwargs):
        seen.update(kwargs, paths=paths)
        raise ingest_module.MappingError("stop here")

    monkeypatch.setattr(ingest_module, "ingest", fake_ingest)
    rc = main(
        [
            "ingest",
            "a.jsonl",
            "b.csv",
            "--db",
            str(tmp_path / "s.duckdb"),
            "--text",
            "t",
            "--account",
            "u",
            "--time",
            "ts",
            "--id",
            "rid",
            "--meta",
            "x=y",
            "--workers",
            "3",
        ]
    )
    assert rc == 2
    assert seen["paths"] == ["a.jsonl", "b.csv"]
    fields = seen["fields"]
    assert (fields.text, fields.account, fields.time, fields.id, dict(fields.meta)) == (
        "t",
        "u",
        "ts",
        "rid",
        {"x": "y"},
    )
    assert seen["workers"] == 3


def test_package_api():
    import types

    import clusterkit
    import clusterkit.ingest as ingest_module
    from clusterkit import Store, run

    assert isinstance(ingest_module, types.ModuleType) and callable(ingest_module.ingest)
    assert callable(run) and Store.__name__ == "Store"
    for name in clusterkit.__all__:
        assert getattr(clusterkit, name) is not None


def test_progress_bar_restarts_its_clock_when_a_stage_changes_phase():
    """UMAP reports epochs, then rows placed: a new total is a new phase, with its own ETA."""
    import io
    import time

    from rich.console import Console

    from clusterkit.cli import _bar

    bar, update = _bar(Console(file=io.StringIO()), "reducing")
    with bar:
        task = bar.tasks[0]
        update(50, 200)
        first = task.start_time
        time.sleep(0.01)
        update(100, 200)  # the same phase: the clock runs on
        assert task.start_time == first and task.completed == 100
        update(10, 5_000)  # a new phase
        assert task.start_time > first and (task.completed, task.total) == (10, 5_000)


def test_cluster_without_model_says_when_the_store_holds_other_models_embeddings(tmp_path, capsys):
    """`embed --model X` then `cluster` with no --model embeds everything again with the default
    model: the command says so and names the flag that maps the embeddings already there."""
    from clusterkit.cli.commands import _note_default_model
    from clusterkit.embed import embed, model_flag
    from clusterkit.multilingual import UseEmbedder
    from clusterkit.static import StaticUseEmbedder

    log = write_jsonl(tmp_path / "l.jsonl", [nested(i, f"a{i % 5}", f"prompt {i}") for i in range(20)])
    db = tmp_path / "c.duckdb"
    assert main(["ingest", str(log), "--db", str(db)]) == 0
    capsys.readouterr()
    with Store(db) as s:
        _note_default_model(s)  # nothing embedded yet: nothing to say
        assert capsys.readouterr().err == ""
        embed(s, embedder=TinyEmbedder())
        _note_default_model(s)
    err = capsys.readouterr().err
    assert "no --model given" in err and "tiny-fake" in err and "--model tiny-fake" in err
    assert model_flag(UseEmbedder().model_id) == "multilingual"
    assert model_flag(StaticUseEmbedder().model_id) == "static"
    assert (
        model_flag("sentence-transformers/all-MiniLM-L6-v2@openvino-int8") == "sentence-transformers/all-MiniLM-L6-v2"
    )
