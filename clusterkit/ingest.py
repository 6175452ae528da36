"""Ingest API request logs into the store.

Files are streamed record by record, mapped to request columns (see :mod:`clusterkit.mapping`
and :mod:`clusterkit.chat`), staged in Arrow batches and committed in one transaction that
de-duplicates prompts and request ids. Every row read ends up in exactly one place:
ingested, skipped as an exact duplicate, or quarantined with its reason, file and line.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from .chat import extract_prompt
from .errors import ClusterkitError, MappingError
from .mapping import FieldMap, compile_path, detect_fields, missing_meta, unmapped_keys, used_roots
from .readers import RawRecord, discover_files, parse_json_line, read_records
from .textnorm import content_hash, prompt_hash, text_hash
from .times import parse_timestamp_us

__all__ = ["QUARANTINE_REASONS", "FileReport", "IngestReport", "ingest"]

#: Every reason a row can be quarantined for.
QUARANTINE_REASONS = (
    "malformed_json",
    "malformed_csv",
    "not_an_object",
    "invalid_utf8",
    "missing_text",
    "empty_prompt",
    "missing_account",
    "missing_time",
    "unparseable_time",
    "duplicate_id_conflict",
)
_SAMPLE = 50
_REQUIRED = ("text", "account", "time")
#: a request time this far after the ingest is flagged in the summary as lying in the future
FUTURE_MARGIN_HOURS = 24

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class FileReport:
    path: str
    format: str
    rows: int
    fields: dict[str, Any]
    #: source keys no field reads, kept per request in ``extra["columns"]`` (seen in the first records)
    kept: list[str] = field(default_factory=list)
    #: ``meta`` names whose path holds a value in none of the first records
    missing_meta: list[str] = field(default_factory=list)
    #: rows of this file quarantined by this ingest
    quarantined: int = 0

    @property
    def mostly_quarantined(self) -> bool:
        """More than half the rows quarantined: likely not the format its name says (a binary file
        named ``.jsonl``) or a mapping that misses."""
        return self.rows > 0 and self.quarantined > self.rows / 2


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did. ``read == ingested + duplicates + quarantined`` always holds."""

    run_id: int
    files: list[FileReport]
    read: int
    ingested: int
    duplicates: int
    quarantine_reasons: dict[str, int]
    new_prompts: int
    new_system_prompts: int
    seconds: float
    #: requests ingested with a time more than ``FUTURE_MARGIN_HOURS`` after the ingest (a unit or
    #: zone mistake, or a clock that is wrong): ingested, and named in the summary
    future: int = 0

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_reasons.values())

    @property
    def balanced(self) -> bool:
        return self.read == self.ingested + self.duplicates + self.quarantined


class _Columns:
    """Column buffers for one Arrow batch of staged requests or quarantine rows."""

    REQUEST = (
        "seq",
        "request_id",
        "account_id",
        "ts",
        "prompt_hash",
        "text",
        "context",
        "system_hash",
        "system_text",
        "model",
        "org_id",
        "ip",
        "user_agent",
        "extra",
        "source",
        "line",
        "row_hash",
    )
    QUARANTINE = ("source", "line", "reason", "detail", "raw")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.rows: list[tuple[Any, ...]] = []
        self.append = self.rows.append

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> Any:
        import pyarrow as pa

        columns = list(zip(*self.rows)) if self.rows else [() for _ in self.names]
        self.rows.clear()
        arrays = []
        for name, col in zip(self.names, columns):
            if name == "ts":
                arrays.append(pa.array(col, type=pa.timestamp("us", tz="UTC")))
            elif name in ("seq", "line"):
                arrays.append(pa.array(col, type=pa.int64()))
            else:
                arrays.append(pa.array(col, type=pa.string()))
        return pa.Table.from_arrays(arrays, names=list(self.names))


_INTEGRAL = re.compile(r"[+-]?\d+\.0+")


def _ident(value: Any) -> str | None:
    """An identifier (account, organisation, request id) as text: like :func:`_scalar`, with an
    integral number written as an integer - ``123``, ``123.0`` (what pandas writes for an integer
    column holding a NaN) and ``"123.0"`` are one account."""
    if type(value) is float and value.is_integer():
        return str(int(value))
    s = _scalar(value)
    if s is not None and "." in s and _INTEGRAL.fullmatch(s):
        return s[: s.index(".")]
    return s


def _scalar(value: Any) -> str | None:
    """A non-blank scalar as a string, else ``None``."""
    if type(value) is str:
        return value if value and not value.isspace() else None
    if value is None or isinstance(value, (dict, list)):
        return None
    s = str(value)
    return s if s.strip() else None


class _Mapper:
    """Maps parsed objects of one file to staged request rows or quarantine reasons."""

    def __init__(self, fields: FieldMap, source: str, fmt: str) -> None:
        self.f = fields
        self.source = source
        self.decode_json = fmt == "csv"
        self.get_text = compile_path(fields.text)
        self.get_account = compile_path(fields.account)
        self.get_time = compile_path(fields.time)
        self.get_id = compile_path(fields.id)
        self.get_model = compile_path(fields.model)
        self.get_org = compile_path(fields.org_id)
        self.get_ip = compile_path(fields.ip)
        self.get_ua = compile_path(fields.user_agent)
        self.get_meta = [(name, compile_path(path)) for name, path in fields.meta.items()]
        self.time_format = fields.time_format
        self.roots = used_roots(fields)

    def _swallowed_row(self, obj: dict[str, Any]) -> str | None:
        """In a CSV row, a cell holding a line break followed by a line that reads as a whole row
        of this file - as many fields, a time that parses in the time column - is the mark of a
        broken quote that swallowed the rows after it: where, else None."""
        broken = [(c, v) for c, v in obj.items() if type(v) is str and "\n" in v]
        if not broken or self.f.time not in obj:  # the common case: no cell holds a line break
            return None
        columns = list(obj)
        where = columns.index(self.f.time)
        for column, value in broken:
            for later in value.split("\n")[1:]:
                fields = next(csv.reader([later]), [])
                if len(fields) < len(columns) or not fields[where].strip():
                    continue
                try:
                    parse_timestamp_us(fields[where], self.time_format)
                except (ValueError, OverflowError, TypeError):
                    continue
                return column
        return None

    def map(self, obj: dict[str, Any], line: int) -> tuple[Any, ...] | tuple[str, str]:
        f = self.f
        if self.decode_json and (column := self._swallowed_row(obj)) is not None:
            return (
                "malformed_csv",
                f"column {column!r} holds a line that reads as a whole row: a broken quote swallowed the rows "
                "after it (fix the quoting and ingest again; the raw text is kept here)",
            )
        raw_text = self.get_text(obj)
        if raw_text is None:
            return ("missing_text", f"no value at text path {f.text!r}")
        chat = extract_prompt(raw_text, decode_json=self.decode_json)
        text = chat.text
        if text is None:
            if chat.other_blocks:
                return ("empty_prompt", f"last user turn has no text, only {', '.join(chat.other_blocks)} blocks")
            return ("missing_text", f"no user prompt found in the value at {f.text!r}")
        if not text.strip():
            return ("empty_prompt", "prompt is empty or whitespace only")

        account_value = self.get_account(obj)
        account = _ident(account_value)
        if account is None:
            what = "an object, not an id" if isinstance(account_value, (dict, list)) else "missing or empty"
            return ("missing_account", f"account at {f.account!r} is {what}")

        ts_value = self.get_time(obj)
        if ts_value is None or ts_value == "":
            return ("missing_time", f"no value at time path {f.time!r}")
        try:
            ts = parse_timestamp_us(ts_value, self.time_format)
        except (ValueError, OverflowError, TypeError) as exc:
            how = f" with --time-format {self.time_format!r}" if self.time_format else ""
            return ("unparseable_time", f"{str(ts_value)[:80]!r} at {f.time!r}{how}: {exc}")

        model = _scalar(self.get_model(obj)) or chat.model
        org = _ident(self.get_org(obj))
        ip = _scalar(self.get_ip(obj))
        ua = _scalar(self.get_ua(obj))

        extra: dict[str, Any] = {}
        for name, get in self.get_meta:
            value = get(obj)
            if value is not None:
                extra[name] = value
        # nothing the map does not read is dropped: other source keys are kept as they came
        columns = {k: v for k, v in obj.items() if k not in self.roots and v is not None and v != ""}
        if columns:
            extra["columns"] = columns
        if chat.messages is not None:
            extra["n_turns"] = chat.n_turns
            if chat.n_turns > 1 or chat.other_blocks:  # a lone user turn is the prompt itself
                extra["conversation"] = chat.messages
        if chat.other_blocks:
            extra["other_blocks"] = list(chat.other_blocks)
        if chat.params:
            extra["request_params"] = chat.params
        extra_json = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS, default=str).decode() if extra else None

        context = chat.context
        phash = prompt_hash(text, context)
        system = chat.system
        shash = text_hash(system) if system and system.strip() else None
        row_hash = content_hash(account, ts, phash, shash, model, org, ip, ua, extra_json)
        rid = _ident(self.get_id(obj))
        if rid is None:
            rid = "auto:" + row_hash
        return (
            rid,
            account,
            ts,
            phash,
            text,
            context,
            shash,
            system if shash else None,
            model,
            org,
            ip,
            ua,
            extra_json,
            self.source,
            line,
            row_hash,
        )


def _detect(
    records: Iterator[RawRecord], fields: FieldMap, path: Path
) -> tuple[FieldMap, list[RawRecord], list[str], list[str]]:
    """Read the first records of a file, fill undetected fields, return them for replay with the
    source keys no field reads and the ``meta`` names found in none of them."""
    head: list[RawRecord] = []
    samples: list[dict[str, Any]] = []
    for rec in records:
        head.append(rec)
        if rec.obj is not None:
            samples.append(rec.obj)
        if len(samples) >= _SAMPLE:
            break
    resolved = detect_fields(fields, samples) if samples else fields
    missing = [name for name in _REQUIRED if getattr(resolved, name) is None]
    if samples and missing:
        keys = ", ".join(sorted(samples[0].keys())[:20])
        flags = " ".join(f"--{m} PATH" for m in missing)
        raise MappingError(
            f"{path}: cannot find the {', '.join(missing)} field(s) among the keys {{{keys}}}; "
            f"give them with {flags} (dotted paths, e.g. --account account.id)"
        )
    return resolved, head, unmapped_keys(resolved, samples), missing_meta(resolved, samples)


def _map_records(records: Iterable[RawRecord], mapper: _Mapper, file_index: int) -> tuple[list, list]:
    """Map parsed records to staged request rows and quarantine rows.

    ``seq`` (file order, then line) decides which of several rows with one id is kept."""
    requests: list[tuple[Any, ...]] = []
    quarantine: list[tuple[Any, ...]] = []
    source = mapper.source
    base = file_index << 40
    for rec in records:
        if rec.error is not None:
            reason, _, detail = rec.error.partition(": ")
            quarantine.append((source, rec.line, reason, detail, rec.raw))
            continue
        out = mapper.map(rec.obj, rec.line)
        if len(out) == 2:
            quarantine.append((source, rec.line, out[0], out[1], _raw(rec.obj)))
        else:
            requests.append((base | rec.line, *out))
    return requests, quarantine


_WORKER_MAPPER: list[_Mapper] = []  # the mapper of the file a worker process works on


def _map_lines_chunk(
    fields: FieldMap, source: str, file_index: int, first_line: int, lines: list[bytes]
) -> tuple[bytes, bytes, int]:
    """Worker side of the parallel path: JSON lines in, Arrow IPC streams out."""
    if not _WORKER_MAPPER or _WORKER_MAPPER[0].source != source or _WORKER_MAPPER[0].f != fields:
        _WORKER_MAPPER[:] = [_Mapper(fields, source, "jsonl")]
    mapper = _WORKER_MAPPER[0]
    records = (parse_json_line(first_line + i, line.rstrip(b"\r\n")) for i, line in enumerate(lines) if line.strip())
    requests, quarantine = _map_records(records, mapper, file_index)
    n = len(requests) + len(quarantine)
    return _to_ipc(_Columns.REQUEST, requests), _to_ipc(_Columns.QUARANTINE, quarantine), n


def ingest(
    store: Any,
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    text: str | None = None,
    account: str | None = None,
    time: str | None = None,
    id: str | None = None,
    meta: Mapping[str, str] | Iterable[str] | None = None,
    time_format: str | None = None,
    fields: FieldMap | None = None,
    batch_size: int = 20_000,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest log files (paths, globs or folders) into ``store`` and return an :class:`IngestReport`.

    Field paths (``text``, ``account``, ``time``, ``id``, ``meta={"name": "path"}``) are dotted;
    those not given are detected per file. ``meta`` names ``model``, ``org_id``, ``ip`` and
    ``user_agent`` fill those columns; other names land in ``extra``. Re-ingesting the same rows
    adds nothing. Nothing lands if an error stops the ingest part-way. ``workers`` processes
    parse large JSON-lines files in parallel (default: one per CPU, at most 4; 1 = serial).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = discover_files(paths)
    base = fields or FieldMap.from_options(
        text=text, account=account, time=time, id=id, meta=meta, time_format=time_format
    )
    if workers is None:
        workers = max(1, min(4, os.cpu_count() or 1))
    started = _now()
    params = {"paths": [str(p) for p in files], "fields": base.as_dict(), "batch_size": batch_size}
    with store.recorded_run("ingest", params) as record:
        report = _ingest_files(store, record.run_id, files, base, batch_size, workers, progress, started)
        record.timings["ingest"] = report.seconds
        record.stats.update(
            {
                "read": report.read,
                "ingested": report.ingested,
                "duplicates": report.duplicates,
                "quarantined": report.quarantine_reasons,
                "new_prompts": report.new_prompts,
                "files": [
                    {"path": r.path, "format": r.format, "rows": r.rows, "fields": r.fields, "kept": r.kept}
                    for r in report.files
                ],
            }
        )
    return report


def _ingest_files(
    store: Any,
    run_id: int,
    files: list[Path],
    base: FieldMap,
    batch_size: int,
    workers: int,
    progress: ProgressFn | None,
    started: float,
) -> IngestReport:
    """Stage and commit every file of one ingest run."""
    sink = _Sink(store, batch_size, progress, sum(p.stat().st_size for p in files))
    reports: list[FileReport] = []
    pool = None
    try:
        store.begin_ingest()
        for file_index, path in enumerate(files):
            stream = read_records(path)
            records = iter(stream)
            resolved, head, kept, missing = _detect(records, base, path)
            mapper = _Mapper(resolved, str(path), stream.format)
            parallel = workers > 1 and stream.format == "jsonl" and stream.size >= _PARALLEL_MIN_BYTES
            if parallel:
                if pool is None:
                    pool = _pool(workers)
                rows = _ingest_parallel(pool, workers, stream, records, head, mapper, file_index, sink)
            else:
                rows = 0
                chunks = _chain(head, records)
                while True:
                    chunk = list(itertools.islice(chunks, batch_size))
                    if not chunk:
                        break
                    rows += len(chunk)
                    sink.add(*_map_records(chunk, mapper, file_index))
                    sink.report(stream.bytes_read)
            sink.file_done(stream.size)
            reports.append(FileReport(str(path), stream.format, rows, resolved.as_dict(), kept, missing))
        sink.flush()
        counts = store.commit_ingest(run_id)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    per_file = store.sql("SELECT source, count(*) AS n FROM quarantine WHERE run_id = ? GROUP BY 1", [run_id])
    held = dict(zip(per_file["source"], per_file["n"].astype(int)))
    reports = [replace(r, quarantined=held.get(r.path, 0)) for r in reports]
    future = store.sql(
        f"SELECT count(*) AS n FROM requests WHERE run_id = ? AND ts > now() + INTERVAL {FUTURE_MARGIN_HOURS} HOUR",
        [run_id],
    )["n"].iloc[0]
    return IngestReport(
        run_id=run_id,
        files=reports,
        read=sum(r.rows for r in reports),
        ingested=counts.ingested,
        duplicates=counts.duplicates,
        quarantine_reasons=counts.quarantined,
        new_prompts=counts.new_prompts,
        new_system_prompts=counts.new_system_prompts,
        seconds=_now() - started,
        future=int(future),
    )


class _Sink:
    """Collects mapped rows, stages them in Arrow batches and reports progress in bytes."""

    def __init__(self, store: Any, batch_size: int, progress: ProgressFn | None, total_bytes: int) -> None:
        self.store = store
        self.batch_size = batch_size
        self.progress = progress
        self.total = total_bytes
        self.done = 0
        self.requests = _Columns(_Columns.REQUEST)
        self.quarantine = _Columns(_Columns.QUARANTINE)

    def add(self, requests: list, quarantine: list) -> None:
        self.requests.rows.extend(requests)
        self.quarantine.rows.extend(quarantine)
        if len(self.requests) >= self.batch_size or len(self.quarantine) >= self.batch_size:
            self.flush()

    def add_ipc(self, requests: bytes, quarantine: bytes) -> None:
        for payload, stage in ((requests, self.store.stage_requests), (quarantine, self.store.stage_quarantine)):
            table = _from_ipc(payload)
            if table.num_rows:
                stage(table)

    def flush(self) -> None:
        if len(self.requests):
            self.store.stage_requests(self.requests.to_arrow())
        if len(self.quarantine):
            self.store.stage_quarantine(self.quarantine.to_arrow())

    def report(self, file_bytes_read: int) -> None:
        if self.progress:
            self.progress(min(self.done + file_bytes_read, self.total), self.total)

    def file_done(self, size: int) -> None:
        self.done += size
        if self.progress:
            self.progress(self.done, self.total)


_PARALLEL_MIN_BYTES = 8 << 20
_CHUNK_LINES = 10_000


def _pool(workers: int) -> Any:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # forkserver/spawn: never fork a process that holds DuckDB threads and locks.
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


def _ingest_parallel(
    pool: Any,
    workers: int,
    stream: Any,
    records: Iterator[RawRecord],
    head: list[RawRecord],
    mapper: _Mapper,
    file_index: int,
    sink: _Sink,
) -> int:
    """Map the rest of a JSON-lines file in worker processes, staging results in file order."""
    from collections import deque
    from concurrent.futures.process import BrokenProcessPool

    rows = 0
    req, quar = _map_records(head, mapper, file_index)
    sink.add(req, quar)
    rows += len(head)
    pending: deque = deque()
    while True:
        first_line, chunk = stream.next_lines(_CHUNK_LINES)
        if chunk:
            pending.append(pool.submit(_map_lines_chunk, mapper.f, mapper.source, file_index, first_line, chunk))
        while pending and (len(pending) > 2 * workers or not chunk):
            try:
                ipc_req, ipc_quar, n = pending.popleft().result()
            except BrokenProcessPool as exc:
                raise ClusterkitError(
                    f"{mapper.source}: a worker process reading the log died (out of memory, killed, or a "
                    'script calling ingest without `if __name__ == "__main__":` around its code, which '
                    "each spawned worker re-runs); guard the script's entry point, or pass workers=1"
                ) from exc
            rows += n
            sink.add_ipc(ipc_req, ipc_quar)
            sink.report(stream.bytes_read)
        if not chunk:
            records.close()
            return rows


def _to_ipc(names: tuple[str, ...], rows: list) -> bytes:
    import pyarrow as pa

    cols = _Columns(names)
    cols.rows.extend(rows)
    table = cols.to_arrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(payload: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_stream(payload).read_all()


def _chain(head: list[RawRecord], rest: Iterable[RawRecord]) -> Iterable[RawRecord]:
    yield from head
    yield from rest


def _raw(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _now() -> float:
    return time.perf_counter()
