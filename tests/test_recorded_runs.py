"""Every stage records its run one way (Store.recorded_run): ok with stats and timings; failed with
the error's type, message and traceback; interrupted on Ctrl-C or when its process was killed;
nothing recorded when there is nothing to do."""

import os
import signal

import pytest
from conftest import nested, store_holder, write_jsonl
from test_embed import CountingEmbedder

from clusterkit.embed import embed
from clusterkit.errors import MappingError
from clusterkit.ingest import ingest
from clusterkit.store import Store


def test_a_failed_stage_records_its_error(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        bad = write_jsonl(tmp_path / "bad.jsonl", [{"nothing": "useful"}])
        with pytest.raises(MappingError):
            ingest(store, bad)
        run = store.run(int(store.sql("SELECT max(run_id) AS r FROM runs")["r"][0]))
        assert run["status"] == "failed" and run["kind"] == "ingest"
        error = run["stats"]["error"]
        assert error["type"] == "MappingError" and "cannot find" in error["message"]
        assert "Traceback" in error["traceback"] and "_detect" in error["traceback"]
        assert run["pid"] == os.getpid() and run["finished_at"] is not None


def test_a_killed_run_is_found_interrupted(tmp_path):
    db = tmp_path / "k.duckdb"
    with Store(db):
        pass
    child = store_holder(db, 'store.start_run("embed", {"model_id": "x"})\nstore._con.execute("CHECKPOINT")')
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    with Store(db) as store:  # opened for writing: the dead process's run is marked
        runs = store.sql("SELECT status, pid FROM runs")
        assert list(runs["status"]) == ["interrupted"] and runs["pid"][0] == child.pid
        assert store.run(1)["stats"]["error"]["type"] == "ProcessGone"


def test_nothing_to_embed_records_no_run(tmp_path):
    with Store(tmp_path / "e.duckdb") as store:
        ingest(store, write_jsonl(tmp_path / "p.jsonl", [nested(i, "a", f"prompt {i}") for i in range(20)]))
        first = embed(store, embedder=CountingEmbedder())
        again = embed(store, embedder=CountingEmbedder())
        assert again.embedded == 0 and again.cached == 20
        assert again.run_id == first.run_id  # the run that embedded the vectors
        assert list(store.sql("SELECT kind FROM runs ORDER BY run_id")["kind"]) == ["ingest", "embed"]
