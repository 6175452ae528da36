import pytest

from clusterkit.errors import StoreError
from clusterkit.store import Store, _migrations, check_identifier


def test_migrations_are_recorded_once(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        latest = _migrations()[-1][0]
        assert s.schema_version() == latest
        rows = s.sql("SELECT version, name FROM schema_migrations ORDER BY version")
        assert list(rows["version"]) == [v for v, _, _ in _migrations()]
    with Store(path) as s:  # reopening applies nothing again
        assert len(s.sql("SELECT * FROM schema_migrations")) == len(_migrations())
        tables = set(s.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    assert {"requests", "prompts", "system_prompts", "quarantine", "runs"} <= tables


def test_store_newer_than_code_is_refused(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.sql("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    with pytest.raises(StoreError, match="newer than this clusterkit"):
        Store(path)


def test_read_only_needs_an_existing_store(tmp_path):
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)


def test_default_path_creates_parent_folder(tmp_path):
    path = tmp_path / "deep" / "er" / "s.duckdb"
    with Store(path):
        pass
    assert path.exists()


def test_sql_binds_parameters_and_wraps_errors():
    with Store(":memory:") as s:
        hostile = "x'); DROP TABLE requests; --"
        assert s.sql("SELECT ? AS v", [hostile])["v"][0] == hostile
        assert s.sql("SELECT count(*) AS n FROM requests")["n"][0] == 0
        with pytest.raises(StoreError, match="query failed"):
            s.sql("SELECT * FROM no_such_table")


def test_runs_record_lineage():
    with Store(":memory:") as s:
        rid = s.start_run("ingest", {"paths": ["a"]})
        assert s.run(rid)["status"] == "running"
        s.finish_run(rid, status="ok", timings={"ingest": 1.5}, stats={"read": 3})
        run = s.run(rid)
        assert run["status"] == "ok" and run["timings"] == {"ingest": 1.5} and run["stats"] == {"read": 3}
        assert run["versions"]["duckdb"] and run["versions"]["clusterkit"]
        assert run["finished_at"] >= run["started_at"]
        with pytest.raises(StoreError, match="no run 99"):
            s.run(99)


@pytest.mark.parametrize("name,ok", [("prompts", True), ("_x1", True), ("1x", False), ("a;drop", False)])
def test_check_identifier(name, ok):
    if ok:
        assert check_identifier(name) == name
    else:
        with pytest.raises(StoreError):
            check_identifier(name)


def test_duckdb_prints_no_progress_bar_of_its_own(tmp_path):
    """DuckDB's bar (on by default) would print into stdout through the CLI's bars and logs."""
    with Store(tmp_path / "s.duckdb") as store:
        assert not store.sql("SELECT current_setting('enable_progress_bar') AS on").iloc[0, 0]
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert not store.sql("SELECT current_setting('enable_progress_bar') AS on").iloc[0, 0]


def test_prompt_texts_come_in_order_a_chunk_at_a_time(tmp_path):
    import orjson

    from clusterkit.ingest import ingest

    log = tmp_path / "log.jsonl"
    texts = [f"prompt number {i}" for i in range(7)]
    log.write_bytes(
        b"".join(
            orjson.dumps({"id": f"r{i}", "account_id": "a", "timestamp": 1767225600 + i, "prompt": t}) + b"\n"
            for i, t in enumerate(texts)
        )
    )
    with Store(tmp_path / "s.duckdb") as store:
        ingest(store, log)
        by_text = dict(store.sql("SELECT text, prompt_hash FROM prompts").itertuples(index=False))
        wanted = [by_text[t] for t in reversed(texts)] + [by_text[texts[0]]]
        parts = list(store.iter_prompt_texts(wanted, chunk=3))
        assert [len(p) for p in parts] == [3, 3, 2]
        assert [t for p in parts for t in p] == [*reversed(texts), texts[0]] == store.prompt_texts(wanted)
        with pytest.raises(StoreError, match="1 prompt hash"):
            list(store.iter_prompt_texts([wanted[0], "no-such-hash"], chunk=3))


@pytest.mark.parametrize("limit", ["2GB", None])
def test_release_memory_drops_duckdbs_block_cache_and_keeps_the_limit(tmp_path, limit):
    def cached(store):
        return int(
            store.sql(
                "SELECT coalesce(sum(memory_usage_bytes), 0) AS b FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
            ).iloc[0, 0]
        )

    with Store(tmp_path / "s.duckdb") as store:
        store.sql(
            "CREATE TABLE big AS SELECT range AS i, md5(range::VARCHAR) || md5((-range)::VARCHAR) AS s FROM range(1500000)"
        )
    with Store(tmp_path / "s.duckdb", memory_limit=limit) as store:
        before = store.sql("SELECT current_setting('memory_limit') AS l").iloc[0, 0]
        assert store.sql("SELECT count(DISTINCT s) AS n FROM big").iloc[0, 0] == 1_500_000
        assert cached(store) > 40_000_000
        store.release_memory()
        assert cached(store) <= 16 << 20  # the limit it is lowered to for a moment
        assert store.sql("SELECT current_setting('memory_limit') AS l").iloc[0, 0] == before


def test_a_view_of_a_score_run_not_of_the_latest_map_says_so(tmp_path, capsys):
    """After a map of another model is made (or reused) without scoring it, the default campaigns
    view still shows the last score run - and says, on stderr, that it is of another map."""
    from clusterkit.cli import main

    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        with store.recorded_run("cluster", {"model_id": "model-a@x"}) as first:
            pass
        with store.recorded_run("score", {}, parent_run_id=first.run_id) as scored:
            pass
        assert store.stale_score_note(scored.run_id) is None
        with store.recorded_run("cluster", {"model_id": "model-b@y"}):
            pass
        note = store.stale_score_note(scored.run_id)
        assert "model-a@x" in note and "model-b@y" in note and "clusterkit score" in note
    assert main(["accounts", "--db", str(db), "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert "model-b@y" in out.err and "model-b@y" not in out.out
    # a run asked for by id is what was asked for: no note
    assert main(["accounts", "--db", str(db), "--run", str(scored.run_id), "--format", "csv"]) == 0
    assert "note:" not in capsys.readouterr().err
