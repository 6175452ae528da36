"""Ingest: every format, the mapping flags, chat bodies, quarantine reasons, idempotence and the
accounting identity, on real DuckDB files and fixtures written by the tests."""

import csv
import gzip
import itertools

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import nested, write_jsonl

from clusterkit.errors import InputError, MappingError
from clusterkit.ingest import QUARANTINE_REASONS, ingest
from clusterkit.store import Store

NESTED_FLAGS = {"text": "request", "account": "account.id", "time": "created_at", "id": "id"}


def _requests(store):
    return store.sql("SELECT * FROM requests ORDER BY line")


def test_nested_log_with_issue_flags(store, tmp_path):
    path = write_jsonl(tmp_path / "log.jsonl", [nested(1, text="alpha"), nested(2, "a2", "beta")])
    report = ingest(store, path, **NESTED_FLAGS)
    assert (report.read, report.ingested, report.quarantined) == (2, 2, 0)
    df = _requests(store)
    assert list(df["request_id"]) == ["r1", "r2"]
    assert list(df["account_id"]) == ["a1", "a2"]
    assert list(df["model"]) == ["m-large", "m-large"]
    assert list(df["ip"]) == ["10.0.0.1"] * 2 and list(df["user_agent"]) == ["python-httpx/0.27"] * 2
    assert str(df["ts"][0]) == "2026-03-01 10:01:00+00:00"
    assert set(df["line"]) == {1, 2} and set(df["source"]) == {str(path.resolve())}
    prompts = store.sql("SELECT text FROM prompts ORDER BY text")
    assert list(prompts["text"]) == ["alpha", "beta"]
    systems = store.sql("SELECT * FROM system_prompts")
    assert list(systems["text"]) == ["You are helpful."]
    assert df["system_hash"][0] == systems["system_hash"][0]
    assert orjson.loads(df["extra"][0]) == {"n_turns": 1}  # a lone user turn is the prompt itself


def test_multi_turn_conversation_is_kept_in_extra(store, tmp_path):
    messages = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": [{"type": "text", "text": "q2"}, {"type": "image", "source": {}}]},
    ]
    rec = nested(1, request={"model": "m", "messages": messages, "temperature": 0})
    ingest(store, write_jsonl(tmp_path / "c.jsonl", [rec]), **NESTED_FLAGS)
    row = store.sql("SELECT p.text, r.extra FROM requests r JOIN prompts p USING (prompt_hash)").iloc[0]
    assert row["text"] == "q2"
    extra = orjson.loads(row["extra"])
    assert extra["conversation"] == messages and extra["n_turns"] == 3
    assert extra["other_blocks"] == ["image"] and extra["request_params"] == {"temperature": 0}


def test_autodetection_matches_explicit_flags(tmp_path):
    path = write_jsonl(tmp_path / "log.jsonl", [nested(i, f"a{i % 3}", f"prompt {i}") for i in range(10)])
    with Store(tmp_path / "a.duckdb") as a, Store(tmp_path / "b.duckdb") as b:
        ra = ingest(a, path)
        rb = ingest(b, path, **NESTED_FLAGS)
        assert ra.files[0].fields["account"] == "account.id"
        assert ra.files[0].fields["text"] == "request"
        cols = "request_id, account_id, ts, prompt_hash, model, ip, user_agent, system_hash"
        assert a.sql(f"SELECT {cols} FROM requests ORDER BY 1").equals(b.sql(f"SELECT {cols} FROM requests ORDER BY 1"))
        assert rb.ingested == 10


def test_flat_formats_and_common_names(tmp_path):
    rows = [
        {"request_id": "x1", "user_id": "u1", "timestamp": "2026-01-01T00:00:00", "prompt": "flat one"},
        {"request_id": "x2", "user_id": "u2", "timestamp": 1767225600000, "prompt": "flat two"},
    ]
    path = write_jsonl(tmp_path / "flat.jsonl", rows)
    with Store(":memory:") as s:
        r = ingest(s, path)
        assert r.ingested == 2
        ts = s.sql("SELECT ts FROM requests ORDER BY request_id")["ts"]
        assert str(ts[0]) == str(ts[1]) == "2026-01-01 00:00:00+00:00"


def _all_format_files(tmp_path):
    recs = [nested(i, f"acct{i % 4}", f"prompt number {i}") for i in range(12)]
    files = {}
    files["jsonl"] = write_jsonl(tmp_path / "l.jsonl", recs[:3])
    files["jsonl.gz"] = write_jsonl(tmp_path / "l.jsonl.gz", recs[3:5], gz=True)
    (tmp_path / "a.json").write_bytes(orjson.dumps(recs[5:7]))
    files["json"] = tmp_path / "a.json"
    csv_path = tmp_path / "c.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "account.id", "created_at", "request"])
        for r in recs[7:9]:
            w.writerow([r["id"], r["account"]["id"], r["created_at"], orjson.dumps(r["request"]).decode()])
    files["csv"] = csv_path
    gz_csv = tmp_path / "c2.csv.gz"
    with gzip.open(gz_csv, "wt", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "account.id", "created_at", "request"])
        r = recs[9]
        w.writerow([r["id"], r["account"]["id"], r["created_at"], orjson.dumps(r["request"]).decode()])
    files["csv.gz"] = gz_csv
    pq.write_table(pa.Table.from_pylist(recs[10:12]), tmp_path / "p.parquet")
    files["parquet"] = tmp_path / "p.parquet"
    return recs, files


def test_every_format_gives_the_same_rows(tmp_path):
    recs, files = _all_format_files(tmp_path)
    with Store(tmp_path / "s.duckdb") as s:
        report = ingest(s, list(files.values()), **NESTED_FLAGS)
        assert {f.format for f in report.files} == {"jsonl", "json", "csv", "parquet"}
        assert report.read == report.ingested == 12
        df = s.sql(
            "SELECT r.request_id, r.account_id, p.text, r.system_hash IS NOT NULL AS has_system "
            "FROM requests r JOIN prompts p USING (prompt_hash) ORDER BY r.request_id"
        )
    expected = sorted((r["id"], r["account"]["id"], r["request"]["messages"][-1]["content"]) for r in recs)
    assert sorted(zip(df["request_id"], df["account_id"], df["text"])) == expected
    assert df["has_system"].all()


def test_folders_and_globs(tmp_path):
    _, _files = _all_format_files(tmp_path)
    (tmp_path / "notes.txt").write_text("not a log")
    with Store(":memory:") as s:
        r = ingest(s, tmp_path, **NESTED_FLAGS)
        assert len(r.files) == 6 and r.ingested == 12
    with Store(":memory:") as s:
        r = ingest(s, str(tmp_path / "*.jsonl*"), **NESTED_FLAGS)
        assert len(r.files) == 2 and r.ingested == 5


def test_bad_paths_are_clear_errors(tmp_path):
    with Store(":memory:") as s:
        with pytest.raises(InputError, match="no such file"):
            ingest(s, tmp_path / "nope.jsonl")
        (tmp_path / "x.txt").write_text("a")
        with pytest.raises(InputError, match="unsupported file type"):
            ingest(s, tmp_path / "x.txt")
        with pytest.raises(InputError, match="matches no supported"):
            ingest(s, str(tmp_path / "*.parquet"))


def test_meta_fields_fill_columns_and_extra(tmp_path):
    rec = {
        "rid": "m1",
        "who": {"acct": "z"},
        "at": "2026-01-01T00:00:00Z",
        "q": "what?",
        "env": {"llm": "m-small", "tier": "pro", "org": "o-9", "addr": "1.1.1.1"},
    }
    path = write_jsonl(tmp_path / "m.jsonl", [rec])
    with Store(":memory:") as s:
        ingest(
            s,
            path,
            text="q",
            account="who.acct",
            time="at",
            id="rid",
            meta=["model=env.llm", "tier=env.tier", "org_id=env.org", "ip=env.addr"],
        )
        row = s.sql("SELECT * FROM requests").iloc[0]
    assert (row["request_id"], row["account_id"], row["model"], row["org_id"], row["ip"]) == (
        "m1",
        "z",
        "m-small",
        "o-9",
        "1.1.1.1",
    )
    assert orjson.loads(row["extra"]) == {"tier": "pro"}


def test_undetectable_fields_name_the_flag_to_use(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"who": "a", "words": "hi", "when": "2026-01-01"}])
    with Store(":memory:") as s:
        with pytest.raises(MappingError, match=r"text, account, time.*--text PATH --account PATH --time PATH"):
            ingest(s, path)
        with pytest.raises(MappingError, match="NAME=PATH"):
            ingest(s, path, meta=["oops"])
        assert ingest(s, path, text="words", account="who", time="when").ingested == 1
        assert s.sql("SELECT status FROM runs ORDER BY run_id")["status"].tolist() == ["failed", "ok"]


def _bad_log(tmp_path):
    good = [nested(i, f"a{i}", f"good prompt {i}") for i in range(5)]
    lines = [orjson.dumps(r) for r in good]
    lines.append(b'{"id": "broken", "account": ')  # malformed_json
    lines.append(b"[1, 2, 3]")  # not_an_object
    lines.append(orjson.dumps(nested(10)).replace(b"hello", b"caf\xe9"))  # invalid_utf8
    lines.append(orjson.dumps(nested(11, request={"messages": [{"role": "system", "content": "x"}]})))  # missing_text
    lines.append(orjson.dumps(nested(12, text="   \n ")))  # empty_prompt
    lines.append(orjson.dumps({k: v for k, v in nested(13).items() if k != "account"}))  # missing_account
    lines.append(orjson.dumps(nested(14, created_at=None)))  # missing_time
    lines.append(orjson.dumps(nested(15, created_at="the day after tomorrow")))  # unparseable_time
    lines.append(orjson.dumps(nested(0, "a0", "a different prompt with the same id")))  # duplicate_id_conflict
    lines.append(lines[1])  # exact duplicate of r1: skipped, not quarantined
    lines.append(b"")  # blank lines are not rows
    return write_jsonl(tmp_path / "bad.jsonl", lines)


def test_every_quarantine_reason_with_file_and_line(tmp_path):
    path = _bad_log(tmp_path)
    with Store(tmp_path / "s.duckdb") as s:
        report = ingest(s, path, **NESTED_FLAGS)
        q = s.sql("SELECT * FROM quarantine ORDER BY line")
    expected = {
        6: "malformed_json",
        7: "not_an_object",
        8: "invalid_utf8",
        9: "missing_text",
        10: "empty_prompt",
        11: "missing_account",
        12: "missing_time",
        13: "unparseable_time",
        14: "duplicate_id_conflict",
    }
    assert dict(zip(q["line"], q["reason"])) == expected
    assert set(q["source"]) == {str(path.resolve())}
    assert q["raw"].notna().all() and q["detail"].notna().all()
    assert "\\xe9" in q.loc[q["reason"] == "invalid_utf8", "raw"].iloc[0]
    conflict = q.loc[q["reason"] == "duplicate_id_conflict"].iloc[0]
    assert "a different prompt with the same id" in conflict["raw"] and "line 1" in conflict["detail"]
    assert (report.read, report.ingested, report.duplicates, report.quarantined) == (15, 5, 1, 9)
    assert report.balanced
    assert set(report.quarantine_reasons) <= set(QUARANTINE_REASONS)


def test_malformed_csv_and_json_arrays(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"id,account_id,timestamp,prompt\n1,a,2026-01-01,ok\n2,b,2026-01-01\n3,c,2026-01-01,caf\xe9\n")
    arr = tmp_path / "arr.json"
    arr.write_bytes(orjson.dumps([{"id": "j1", "account_id": "a", "timestamp": 1767225600, "prompt": "p"}, 5]))
    with Store(":memory:") as s:
        r = ingest(s, [p, arr])
        assert r.quarantine_reasons == {"malformed_csv": 1, "invalid_utf8": 1, "not_an_object": 1}
        assert r.ingested == 2 and r.balanced
        assert s.sql("SELECT line FROM quarantine WHERE reason = 'malformed_csv'")["line"][0] == 3


def test_reingest_adds_nothing(tmp_path):
    path = _bad_log(tmp_path)
    with Store(tmp_path / "s.duckdb") as s:
        ingest(s, path, **NESTED_FLAGS)
        counts = {
            t: s.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]
            for t in ("requests", "prompts", "system_prompts", "quarantine")
        }
    with Store(tmp_path / "s.duckdb") as s:  # a new process would reopen the file
        again = ingest(s, path, **NESTED_FLAGS)
        after = {t: s.sql(f"SELECT count(*) AS n FROM {t}")["n"][0] for t in counts}
    assert after == counts
    assert again.ingested == 0 and again.new_prompts == 0
    assert again.duplicates == 6 and again.balanced


def test_accounting_identity_on_the_simulated_sample(tmp_path):
    from clusterkit.simulate import simulate

    sim = simulate(tmp_path / "sim", seed=3)
    with Store(tmp_path / "s.duckdb") as s:
        r = ingest(s, sim.requests_path)
        n_lines = sum(1 for line in open(sim.requests_path, "rb") if line.strip())
        stored = s.sql("SELECT count(*) AS n FROM requests")["n"][0]
        quarantined = s.sql("SELECT count(*) AS n FROM quarantine")["n"][0]
    assert r.read == n_lines
    assert r.read == r.ingested + r.duplicates + r.quarantined
    assert stored == r.ingested and quarantined == r.quarantined
    assert r.ingested == sim.n_requests
    assert sum(r.quarantine_reasons.values()) == sim.n_bad_lines - 1  # one bad line is an exact duplicate


def test_prompts_are_deduplicated_by_normalised_text(tmp_path):
    recs = [nested(1, text="Explain  CRISPR\n"), nested(2, text="Explain CRISPR"), nested(3, text="explain crispr")]
    with Store(":memory:") as s:
        ingest(s, write_jsonl(tmp_path / "d.jsonl", recs), **NESTED_FLAGS)
        assert s.sql("SELECT count(*) AS n FROM prompts")["n"][0] == 2
        assert s.sql("SELECT count(DISTINCT prompt_hash) AS n FROM requests")["n"][0] == 2


def test_rows_without_ids_get_content_ids(tmp_path):
    recs = [{"account_id": "a", "timestamp": "2026-01-01T00:00:00Z", "prompt": "same"}] * 2
    recs.append({"account_id": "a", "timestamp": "2026-01-01T00:00:01Z", "prompt": "same"})
    with Store(":memory:") as s:
        r = ingest(s, write_jsonl(tmp_path / "n.jsonl", recs))
        assert (r.ingested, r.duplicates) == (2, 1)
        assert all(i.startswith("auto:") for i in s.sql("SELECT request_id FROM requests")["request_id"])


def test_language_guess_by_script(tmp_path):
    texts = ["hello world", "请解释一下量子力学", "これはテストです", "안녕하세요", "привет мир", "12345 ?!"]
    recs = [nested(i, text=t) for i, t in enumerate(texts)]
    with Store(":memory:") as s:
        ingest(s, write_jsonl(tmp_path / "l.jsonl", recs), **NESTED_FLAGS)
        got = dict(s.sql("SELECT text, language FROM prompts").itertuples(index=False))
    assert got == dict(zip(texts, ["latin", "zh", "ja", "ko", "ru", "other"]))


def test_failed_ingest_lands_nothing(tmp_path):
    good = write_jsonl(tmp_path / "a.jsonl", [nested(1)])
    truncated = tmp_path / "b.jsonl.gz"
    truncated.write_bytes(gzip.compress(orjson.dumps(nested(2)) * 200)[:60])
    with Store(tmp_path / "s.duckdb") as s:
        with pytest.raises(InputError, match="cannot read"):
            ingest(s, [good, truncated], **NESTED_FLAGS)
        assert s.sql("SELECT count(*) AS n FROM requests")["n"][0] == 0
        assert s.sql("SELECT status FROM runs")["status"].tolist() == ["failed"]


def test_progress_reports_bytes(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [nested(i, text=f"t{i}") for i in range(50)])
    seen = []
    with Store(":memory:") as s:
        ingest(s, path, batch_size=10, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert len(seen) >= 5 and all(a <= b for (a, _), (b, _) in itertools.pairwise(seen))


def test_parallel_workers_give_the_same_store_as_serial(tmp_path, monkeypatch):
    import clusterkit.ingest as ingest_module
    from clusterkit.simulate import simulate

    sim = simulate(tmp_path / "sim", seed=5)
    monkeypatch.setattr(ingest_module, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_module, "_CHUNK_LINES", 300)
    tables = {}
    for workers in (1, 2):
        with Store(tmp_path / f"w{workers}.duckdb") as s:
            r = ingest(s, sim.requests_path, workers=workers)
            assert r.balanced and r.read == sim.n_requests + sim.n_bad_lines
            tables[workers] = {
                t: s.sql(f"SELECT * FROM {t} ORDER BY ALL")
                for t in ("requests", "prompts", "system_prompts", "quarantine")
            }
    for name, df in tables[1].items():
        assert df.equals(tables[2][name]), name


def test_unguarded_script_gets_a_clear_error_not_a_broken_pool(tmp_path):
    """Worker processes are spawned, so they re-run a script's top-level code: a script calling
    ingest without a ``__main__`` guard must learn that, not just see BrokenProcessPool."""
    import subprocess
    import sys

    import clusterkit.ingest as ingest_module

    filler = "x" * 200
    lines = [
        orjson.dumps({"id": f"r{i}", "account_id": "a", "timestamp": 1767225600 + i, "prompt": f"{i} {filler}"})
        for i in range(ingest_module._PARALLEL_MIN_BYTES // 200 + 1000)
    ]
    (tmp_path / "log.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "script.py").write_text(
        "from clusterkit.ingest import ingest\n"
        "from clusterkit.store import Store\n"
        "with Store('s.duckdb') as s:\n"
        "    ingest(s, 'log.jsonl', workers=2)\n"
    )
    done = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr and "workers=1" in done.stderr


def test_absurd_times_are_quarantined_not_crashing(tmp_path):
    recs = [
        nested(1),
        nested(2, created_at=1e30),
        nested(3, created_at="0001-01-01T00:00:00"),
        nested(4, created_at=-3),
    ]
    with Store(":memory:") as s:
        r = ingest(s, write_jsonl(tmp_path / "t.jsonl", recs), **NESTED_FLAGS)
        assert (r.ingested, r.quarantine_reasons) == (1, {"unparseable_time": 3})
        assert "1990..2100" in s.sql("SELECT detail FROM quarantine LIMIT 1")["detail"][0]
