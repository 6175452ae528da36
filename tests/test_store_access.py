"""Opening a store: a mistyped --db is an error (no empty store appears), a log given as --db is
named as such, and a store held by another process gets one line naming that process."""

import subprocess
import sys

from conftest import store_holder, write_jsonl

from clusterkit.cli import main
from clusterkit.store import Store


def test_a_missing_store_is_not_created_by_commands_that_need_one(tmp_path, capsys):
    typo = tmp_path / "typo.duckdb"
    for command in ("embed", "cluster", "score", "info", "campaigns"):
        assert main([command, "--db", str(typo)]) == 2
        assert "no such store; create it with `clusterkit ingest LOG" in capsys.readouterr().err
    assert not typo.exists()


def test_a_log_given_as_the_store_is_named(tmp_path, capsys):
    log = write_jsonl(tmp_path / "some.jsonl", [{"prompt": "hi", "account_id": "a", "timestamp": "2026-03-01"}])
    assert main(["info", "--db", str(log)]) == 2
    assert "not a DuckDB store (a log? ingest it with `clusterkit ingest" in capsys.readouterr().err


def test_a_store_held_by_another_process_names_it(tmp_path, capsys):
    db = tmp_path / "held.duckdb"
    with Store(db):
        pass
    holder = store_holder(db)
    try:
        for command in (["info"], ["score"]):
            assert main([*command, "--db", str(db)]) == 2
            err = capsys.readouterr().err
            assert f"process {holder.pid}" in err and "has this store open for writing" in err
            assert "Traceback" not in err and len(err.strip().splitlines()) <= 3
    finally:
        holder.communicate("\n", timeout=60)


def test_a_notebook_holding_the_demo_store_leaves_the_cli_able_to_read_it(scored_sim, tmp_path):
    import shutil

    from clusterkit.explore import demo_store

    db, sim, _ = scored_sim
    (tmp_path / "sim").mkdir()
    shutil.copy(sim.requests_path, tmp_path / "sim" / "requests.jsonl")
    shutil.copy(db, tmp_path / "clusterkit.duckdb")
    store = demo_store(tmp_path)  # everything reused: nothing is computed again
    try:
        assert store.read_only
        out = subprocess.run(
            [sys.executable, "-m", "clusterkit.cli", "info", "--db", str(tmp_path / "clusterkit.duckdb")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        assert "requests" in out.stdout
    finally:
        store.close()
