"""Log shapes a new user brings (findings of the foundation issue): OpenAI Batch files, CSVs whose
column names differ in case, columns no field reads, float ids, a --meta path that is not there -
real files written here, ingested into real DuckDB stores."""

import csv

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import write_jsonl

from clusterkit.cli import main
from clusterkit.ingest import ingest
from clusterkit.store import Store


def test_openai_batch_log_is_recognised(store, tmp_path):
    rows = [
        {
            "custom_id": f"task-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "created_at": f"2026-03-01T10:0{i}:00Z",
            "body": {
                "model": "gpt-4o-mini",
                "user": "acct-7" if i % 2 else "acct-8",
                "max_tokens": 512,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"question {i}"}],
            },
        }
        for i in range(4)
    ]
    report = ingest(store, write_jsonl(tmp_path / "batch.jsonl", rows))
    assert (report.read, report.ingested, report.quarantined) == (4, 4, 0)
    fields = report.files[0].fields
    assert (fields["id"], fields["account"], fields["text"], fields["model"]) == (
        "custom_id",
        "body.user",
        "body",
        "body.model",
    )
    df = store.sql("SELECT request_id, account_id, model, extra FROM requests ORDER BY request_id")
    assert list(df["request_id"]) == [f"task-{i}" for i in range(4)]
    assert set(df["account_id"]) == {"acct-7", "acct-8"} and set(df["model"]) == {"gpt-4o-mini"}
    extra = orjson.loads(df["extra"][0])
    assert extra["columns"] == {"method": "POST", "url": "/v1/chat/completions"}
    assert extra["request_params"]["max_tokens"] == 512
    assert report.files[0].kept == ["method", "url"]


def test_csv_columns_in_any_case_and_unmapped_ones_kept(tmp_path, capsys):
    path = tmp_path / "log.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Prompt", "UserID", "Timestamp", "Model", "SourceIP", "Region"])
        w.writerow(["hello there", "u1", "2026-03-01T10:00:00Z", "m-large", "10.1.2.3", "eu-west"])
        w.writerow(["second one", "u2", "2026-03-01T10:05:00Z", "m-small", "10.1.2.4", ""])
    db = tmp_path / "s.duckdb"
    assert main(["ingest", str(path), "--db", str(db), "--meta", "tier=Tier"]) == 0
    out = capsys.readouterr().out
    assert "kept in extra.columns: Region" in out
    assert "--meta tier=Tier: no value at that path" in out
    with Store(db, read_only=True) as store:
        df = store.sql("SELECT account_id, model, ip, extra FROM requests ORDER BY account_id")
    assert list(df["model"]) == ["m-large", "m-small"] and list(df["ip"]) == ["10.1.2.3", "10.1.2.4"]
    assert orjson.loads(df["extra"][0])["columns"] == {"Region": "eu-west"}
    assert df["extra"].isna()[1]  # an empty cell is no value


def test_integral_float_ids_are_one_account(store, tmp_path):
    """pandas writes an integer column holding a NaN as floats: 123.0 is account 123."""
    table = pa.table(
        {
            "prompt": ["a", "b", "c"],
            "account_id": pa.array([123.0, 123.0, None], pa.float64()),
            "org_id": pa.array([7.0, 7.0, 7.0]),
            "timestamp": ["2026-03-01T10:00:00Z", "2026-03-01T10:01:00Z", "2026-03-01T10:02:00Z"],
        }
    )
    pq.write_table(table, tmp_path / "f.parquet")
    write_jsonl(
        tmp_path / "j.jsonl",
        [
            {"prompt": "d", "account_id": 123, "timestamp": "2026-03-01T10:03:00Z"},
            {"prompt": "e", "account_id": "123.0", "timestamp": "2026-03-01T10:04:00Z"},
            {"prompt": "f", "account_id": "123.5", "timestamp": "2026-03-01T10:05:00Z"},
        ],
    )
    report = ingest(store, [tmp_path / "f.parquet", tmp_path / "j.jsonl"])
    assert report.quarantine_reasons == {"missing_account": 1}
    accounts = store.sql("SELECT account_id, count(*) AS n FROM requests GROUP BY 1 ORDER BY 1")
    assert dict(zip(accounts["account_id"], accounts["n"])) == {"123": 4, "123.5": 1}
    assert set(store.sql("SELECT org_id FROM requests WHERE org_id IS NOT NULL")["org_id"]) == {"7"}


def test_the_same_rows_under_another_id_mapping_add_nothing(store, tmp_path):
    rows = [
        {
            "request_id": f"r{i}",
            "uuid": f"u{i}",
            "prompt": f"p{i}",
            "account_id": "a",
            "timestamp": f"2026-03-01T10:0{i}:00Z",
        }
        for i in range(5)
    ]
    path = write_jsonl(tmp_path / "log.jsonl", rows)
    first = ingest(store, path)
    assert first.ingested == 5
    for how in ({"id": "uuid"}, {"id": ""}):  # another id column; no id at all (content ids)
        again = ingest(store, path, **how)
        assert (again.read, again.ingested, again.duplicates, again.quarantined) == (5, 0, 5, 0)
    assert store.sql("SELECT count(*) AS n FROM requests")["n"][0] == 5
    # a genuinely new request of the same account at another time still lands
    write_jsonl(tmp_path / "more.jsonl", [{**rows[0], "request_id": "r9", "timestamp": "2026-03-01T11:00:00Z"}])
    assert ingest(store, tmp_path / "more.jsonl").ingested == 1


def test_empty_unreadable_and_binary_files_get_one_clear_line(tmp_path, capsys):
    import os

    pq.write_table(pa.table({"prompt": pa.array([], pa.string())}), tmp_path / "rows0.parquet")
    (tmp_path / "bytes0.parquet").write_bytes(b"")
    (tmp_path / "text.parquet").write_bytes(b"not parquet at all " * 20)
    (tmp_path / "binary.jsonl").write_bytes(os.urandom(4000))
    db = str(tmp_path / "s.duckdb")
    assert main(["ingest", str(tmp_path / "rows0.parquet"), "--db", db]) == 0
    assert "rows0.parquet: empty - no rows read" in capsys.readouterr().out
    for name, why in (("bytes0.parquet", "the file is empty (0 bytes)"), ("text.parquet", "magic bytes")):
        assert main(["ingest", str(tmp_path / name), "--db", db]) == 2
        err = capsys.readouterr().err
        assert f"{name}: not a readable Parquet file" in err and why in err and "Traceback" not in err
    assert main(["ingest", str(tmp_path / "binary.jsonl"), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "rows quarantined - is it really jsonl" in out


def test_time_format_and_future_times(tmp_path, capsys):
    path = tmp_path / "log.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", "user_id", "when"])
        w.writerow(["first", "u1", "02/03/2026 10:15"])
        w.writerow(["second", "u1", "31/12/2099 23:00"])  # decades ahead: a clock or unit mistake
        w.writerow(["third", "u1", "2026-03-02"])  # not in the given format
    db = str(tmp_path / "s.duckdb")
    args = ["ingest", str(path), "--db", db, "--time", "when", "--time-format", "%d/%m/%Y %H:%M"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 request(s) timed more than a day after now" in out
    with Store(db, read_only=True) as store:
        ts = store.sql("SELECT ts FROM requests ORDER BY ts")["ts"].astype(str).tolist()
        bad = store.sql("SELECT reason, detail FROM quarantine")
    assert ts == ["2026-03-02 10:15:00+00:00", "2099-12-31 23:00:00+00:00"]
    assert list(bad["reason"]) == ["unparseable_time"] and "--time-format '%d/%m/%Y %H:%M'" in bad["detail"][0]


def test_a_broken_quote_is_quarantined_not_merged(store, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text(
        "prompt,user_id,timestamp\n"
        "first question,u1,2026-03-01T10:00:00Z\n"
        '"an unterminated quote,u2,2026-03-01T10:01:00Z\n'
        "swallowed question,u3,2026-03-01T10:02:00Z\n"
        'closing" here,u4,2026-03-01T10:03:00Z\n'
        "last question,u5,2026-03-01T10:04:00Z\n"
        '"a real prompt\nover two lines, with a comma",u6,2026-03-01T10:05:00Z\n',
        encoding="utf-8",
    )
    report = ingest(store, path)
    assert report.balanced and report.quarantine_reasons == {"malformed_csv": 1}
    accounts = sorted(store.sql("SELECT account_id FROM requests")["account_id"])
    assert accounts == ["u1", "u5", "u6"]  # the multi-line prompt that is no row stays a prompt
    q = store.sql("SELECT detail, raw FROM quarantine")
    assert "broken quote swallowed" in q["detail"][0] and "swallowed question,u3" in q["raw"][0]


def test_bedrock_invocation_log_is_recognised(store, tmp_path):
    """Amazon Bedrock model invocation logging: the caller's identity is the account (``accountId``
    is the log owner's AWS account, the same on every row); the body is ``input.inputBodyJson``."""
    rows = [
        {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "timestamp": f"2026-03-01T10:0{i}:00Z",
            "accountId": "123456789012",
            "identity": {"arn": f"arn:aws:sts::123456789012:assumed-role/app/caller-{i % 2}"},
            "region": "us-east-1",
            "requestId": f"req-{i}",
            "operation": "Converse",
            "modelId": "anthropic.claude-3-haiku",
            "input": {
                "inputContentType": "application/json",
                "inputBodyJson": {
                    "system": [{"text": "Answer in one line."}],
                    "messages": [{"role": "user", "content": [{"text": f"bedrock question {i}"}]}],
                    "inferenceConfig": {"maxTokens": 256},
                },
                "inputTokenCount": 12,
            },
            "output": {"outputContentType": "application/json", "outputTokenCount": 20},
        }
        for i in range(4)
    ]
    report = ingest(store, write_jsonl(tmp_path / "bedrock.jsonl", rows))
    assert (report.read, report.ingested, report.quarantined) == (4, 4, 0)
    fields = report.files[0].fields
    assert (fields["account"], fields["text"], fields["id"], fields["model"], fields["time"]) == (
        "identity.arn",
        "input.inputBodyJson",
        "requestId",
        "modelId",
        "timestamp",
    )
    df = store.sql("SELECT r.account_id, r.model, p.text FROM requests r JOIN prompts p USING (prompt_hash) ORDER BY 3")
    assert df["text"].tolist() == [f"bedrock question {i}" for i in range(4)]
    assert df["account_id"].nunique() == 2 and set(df["model"]) == {"anthropic.claude-3-haiku"}
    assert store.sql("SELECT count(DISTINCT system_hash) AS n FROM requests")["n"][0] == 1


def test_vertex_gemini_log_is_recognised(store, tmp_path):
    """Vertex AI request-response logging of Gemini: ``full_request`` holds ``contents`` of
    ``parts`` and a ``systemInstruction``; the account is whatever the caller mapped (here a label)."""
    rows = [
        {
            "endpoint": "projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash",
            "logging_time": f"2026-03-01 10:0{i}:00 UTC",
            "request_id": f"{9000 + i}",
            "model": "gemini-2.0-flash",
            "full_request": {
                "systemInstruction": {"parts": [{"text": "You are terse."}]},
                "contents": [
                    {"role": "user", "parts": [{"text": f"first turn {i}"}]},
                    {"role": "model", "parts": [{"text": "ok"}]},
                    {"role": "user", "parts": [{"text": f"vertex follow-up {i}"}]},
                ],
                "generationConfig": {"maxOutputTokens": 1024},
            },
            "metadata": {"labels": {"customer": f"cust-{i % 2}"}},
        }
        for i in range(4)
    ]
    report = ingest(store, write_jsonl(tmp_path / "vertex.jsonl", rows), account="metadata.labels.customer")
    assert (report.read, report.ingested, report.quarantined) == (4, 4, 0)
    fields = report.files[0].fields
    assert (fields["text"], fields["time"], fields["id"], fields["model"]) == (
        "full_request",
        "logging_time",
        "request_id",
        "model",
    )
    df = store.sql(
        "SELECT r.account_id, p.text, p.context, r.extra FROM requests r JOIN prompts p USING (prompt_hash) ORDER BY 2"
    )
    assert df["text"].tolist() == [f"vertex follow-up {i}" for i in range(4)]
    assert df["context"].tolist() == [f"first turn {i}" for i in range(4)]  # the conversation's first turn
    assert set(df["account_id"]) == {"cust-0", "cust-1"}
    extra = orjson.loads(df["extra"][0])
    assert extra["n_turns"] == 3 and extra["request_params"]["generationConfig"] == {"maxOutputTokens": 1024}
    assert store.sql("SELECT count(DISTINCT system_hash) AS n FROM requests")["n"][0] == 1


def test_litellm_spend_log_is_recognised(store, tmp_path):
    """LiteLLM's standard logging payload: an empty ``user`` is passed over for the key's user in
    ``metadata``; the caller's IP and the key's team are kept."""
    rows = [
        {
            "id": f"chatcmpl-{i}",
            "call_type": "acompletion",
            "user": "",
            "startTime": 1772359200.0 + 60 * i,
            "endTime": 1772359202.5 + 60 * i,
            "model": "gpt-4o",
            "model_group": "gpt-4o",
            "messages": [{"role": "user", "content": f"litellm prompt {i}"}],
            "metadata": {
                "user_api_key_hash": f"hash-{i % 2}",
                "user_api_key_user_id": f"user-{i % 2}",
                "user_api_key_team_id": "team-a",
                "requester_ip_address": f"203.0.113.{i % 2}",
            },
            "response_cost": 0.0012,
        }
        for i in range(4)
    ]
    report = ingest(store, write_jsonl(tmp_path / "litellm.jsonl", rows))
    assert (report.read, report.ingested, report.quarantined) == (4, 4, 0)
    fields = report.files[0].fields
    assert (fields["account"], fields["time"], fields["text"], fields["org_id"], fields["ip"]) == (
        "metadata.user_api_key_user_id",
        "startTime",
        "messages",
        "metadata.user_api_key_team_id",
        "metadata.requester_ip_address",
    )
    df = store.sql("SELECT account_id, org_id, ip, ts FROM requests ORDER BY ts")
    assert df["account_id"].tolist() == ["user-0", "user-1", "user-0", "user-1"]
    assert set(df["org_id"]) == {"team-a"} and df["ip"].nunique() == 2
    assert str(df["ts"][0]).startswith("2026-03-01 10:00:00")


def test_encoding_reads_logs_not_written_in_utf8(tmp_path, capsys):
    """A CSV exported from Excel in Windows-1252 and a JSON-lines log in GB18030: with --encoding
    their text arrives intact; without it the CSV's bytes are not UTF-8 and are quarantined, never
    decoded into other characters; a wrong or unknown encoding is said in one line."""
    csv_path = tmp_path / "excel.csv"
    csv_path.write_bytes("prompt,user,ts\r\ncafé crème – “quoted”,u1,2026-03-01T10:00:00Z\r\n".encode("cp1252"))
    zh_path = tmp_path / "zh.jsonl"
    zh_path.write_bytes(
        ('{"prompt": "请解释量子力学", "user": "u2", "ts": "2026-03-01T11:00:00Z"}\n').encode("gb18030")
    )
    db = tmp_path / "s.duckdb"
    assert main(["ingest", str(csv_path), "--db", str(db), "--encoding", "cp1252"]) == 0
    assert main(["ingest", str(zh_path), "--db", str(db), "--encoding", "GB18030"]) == 0
    with Store(db) as s:
        texts = set(s.sql("SELECT text FROM prompts")["text"])
    assert texts == {"café crème – “quoted”", "请解释量子力学"}
    # without --encoding: the cp1252 bytes are no UTF-8, so the row is quarantined, not mangled
    other = tmp_path / "t.duckdb"
    assert main(["ingest", str(csv_path), "--db", str(other)]) == 0
    with Store(other) as s:
        assert s.info().requests == 0 and s.info().quarantined == 1
    capsys.readouterr()
    # a wrong encoding stops at the first bytes it cannot decode, naming the file; an unknown one is named
    assert main(["ingest", str(zh_path), "--db", str(tmp_path / "w.duckdb"), "--encoding", "ascii"]) == 2
    err = capsys.readouterr().err
    assert "zh.jsonl: not valid ascii" in err and "--encoding" in err and "Traceback" not in err
    assert main(["ingest", str(zh_path), "--db", str(tmp_path / "w.duckdb"), "--encoding", "klingon"]) == 2
    assert "'klingon' is not an encoding" in capsys.readouterr().err


def test_a_folder_of_mixed_shapes_maps_each_file_and_lists_what_it_skipped(tmp_path, capsys):
    folder = tmp_path / "logs"
    (folder / "gateway").mkdir(parents=True)
    write_jsonl(
        folder / "gateway" / "batch.jsonl",
        [
            {
                "custom_id": f"b{i}",
                "created_at": "2026-03-01T10:00:00Z",
                "body": {"user": "u1", "messages": [{"role": "user", "content": f"batch {i}"}]},
            }
            for i in range(3)
        ],
    )
    with (folder / "export.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Question", "CustomerID", "Created"])
        w.writerow(["from the csv", "c9", "2026-03-01T11:00:00Z"])
    (folder / "README.txt").write_text("how these logs were exported")
    (folder / ".partial.jsonl").write_text('{"prompt": "half written"')
    db = tmp_path / "s.duckdb"
    assert main(["ingest", str(folder), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 file(s)" in out and "README.txt" in out and ".partial.jsonl" in out
    with Store(db) as s:
        rows = s.sql("SELECT account_id, request_id FROM requests ORDER BY request_id")
        runs = s.sql("SELECT stats FROM runs WHERE kind = 'ingest'")
    assert sorted(rows["account_id"]) == ["c9", "u1", "u1", "u1"]  # each file with its own mapping
    stats = orjson.loads(runs["stats"][0])
    assert {f["fields"]["account"] for f in stats["files"]} == {"body.user", "CustomerID"}
    assert [p.rsplit("/", 1)[1] for p in stats["skipped"]] == [".partial.jsonl", "README.txt"]
