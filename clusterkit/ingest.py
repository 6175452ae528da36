"""Ingest API request logs into the store.

Files are streamed record by record, mapped to request columns (see :mod:`clusterkit.mapping`
and :mod:`clusterkit.chat`), staged in Arrow batches and committed in one transaction that
de-duplicates prompts and request ids. Every row read ends up in exactly one place:
ingested, skipped as an exact duplicate, or quarantined with its reason, file and line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .chat import extract_prompt
from .errors import MappingError
from .mapping import FieldMap, detect_fields, get_path
from .readers import RawRecord, discover_files, read_records
from .textnorm import content_hash, text_hash
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

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class FileReport:
    path: str
    format: str
    rows: int
    fields: dict[str, Any]


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
    stats: dict[str, Any] = field(default_factory=dict)

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
        self.data: list[list[Any]] = [[] for _ in names]

    def __len__(self) -> int:
        return len(self.data[0])

    def append(self, row: tuple[Any, ...]) -> None:
        for col, value in zip(self.data, row):
            col.append(value)

    def to_arrow(self) -> Any:
        import pyarrow as pa

        arrays = []
        for name, col in zip(self.names, self.data):
            if name == "ts":
                arrays.append(pa.array(col, type=pa.timestamp("us", tz="UTC")))
            elif name in ("seq", "line"):
                arrays.append(pa.array(col, type=pa.int64()))
            else:
                arrays.append(pa.array(col, type=pa.string()))
        self.data = [[] for _ in self.names]
        return pa.Table.from_arrays(arrays, names=list(self.names))


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    s = str(value)
    return s if s.strip() else None


class _Mapper:
    """Maps parsed objects of one file to staged request rows or quarantine reasons."""

    def __init__(self, fields: FieldMap, source: str) -> None:
        self.f = fields
        self.source = source

    def map(self, obj: dict[str, Any], line: int) -> tuple[Any, ...] | tuple[str, str]:
        f = self.f
        raw_text = get_path(obj, f.text) if f.text else None
        if raw_text is None:
            return ("missing_text", f"no value at text path {f.text!r}")
        chat = extract_prompt(raw_text)
        text = chat.text
        if text is None:
            if chat.other_blocks:
                return ("empty_prompt", f"last user turn has no text, only {', '.join(chat.other_blocks)} blocks")
            return ("missing_text", f"no user prompt found in the value at {f.text!r}")
        if not text.strip():
            return ("empty_prompt", "prompt is empty or whitespace only")

        account_value = get_path(obj, f.account) if f.account else None
        account = _scalar(account_value)
        if account is None:
            what = "an object, not an id" if isinstance(account_value, (dict, list)) else "missing or empty"
            return ("missing_account", f"account at {f.account!r} is {what}")

        ts_value = get_path(obj, f.time) if f.time else None
        if ts_value is None or ts_value == "":
            return ("missing_time", f"no value at time path {f.time!r}")
        try:
            ts = parse_timestamp_us(ts_value)
        except (ValueError, OverflowError, TypeError) as exc:
            return ("unparseable_time", f"{str(ts_value)[:80]!r} at {f.time!r}: {exc}")

        model = _scalar(get_path(obj, f.model)) if f.model else None
        if model is None:
            model = chat.model
        org = _scalar(get_path(obj, f.org_id)) if f.org_id else None
        ip = _scalar(get_path(obj, f.ip)) if f.ip else None
        ua = _scalar(get_path(obj, f.user_agent)) if f.user_agent else None

        extra: dict[str, Any] = {}
        for name, path in f.meta.items():
            value = get_path(obj, path)
            if value is not None:
                extra[name] = value
        if chat.messages is not None:
            extra["conversation"] = chat.messages
            extra["n_turns"] = chat.n_turns
        if chat.other_blocks:
            extra["other_blocks"] = list(chat.other_blocks)
        if chat.params:
            extra["request_params"] = chat.params
        extra_json = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS, default=str).decode() if extra else None

        phash = text_hash(text)
        system = chat.system
        shash = text_hash(system) if system and system.strip() else None
        row_hash = content_hash(account, ts, phash, shash, model, org, ip, ua, extra_json)
        rid = _scalar(get_path(obj, f.id)) if f.id else None
        if rid is None:
            rid = "auto:" + row_hash
        return (
            rid,
            account,
            ts,
            phash,
            text,
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


def _detect(records: Iterator[RawRecord], fields: FieldMap, path: Path) -> tuple[FieldMap, list[RawRecord]]:
    """Read the first records of a file, fill undetected fields, return them for replay."""
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
    return resolved, head


def ingest(
    store: Any,
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    text: str | None = None,
    account: str | None = None,
    time: str | None = None,
    id: str | None = None,
    meta: Mapping[str, str] | Iterable[str] | None = None,
    fields: FieldMap | None = None,
    batch_size: int = 20_000,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest log files (paths, globs or folders) into ``store`` and return an :class:`IngestReport`.

    Field paths (``text``, ``account``, ``time``, ``id``, ``meta={"name": "path"}``) are dotted;
    those not given are detected per file. ``meta`` names ``model``, ``org_id``, ``ip`` and
    ``user_agent`` fill those columns; other names land in ``extra``. Re-ingesting the same rows
    adds nothing. Nothing lands if an error stops the ingest part-way.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = discover_files(paths)
    base = fields or FieldMap.from_options(text=text, account=account, time=time, id=id, meta=meta)
    started = _now()
    params = {"paths": [str(p) for p in files], "fields": base.as_dict(), "batch_size": batch_size}
    run_id = store.start_run("ingest", params)
    total_bytes = sum(p.stat().st_size for p in files)
    done_bytes = 0
    seq = 0
    reports: list[FileReport] = []
    try:
        store.begin_ingest()
        requests = _Columns(_Columns.REQUEST)
        quarantine = _Columns(_Columns.QUARANTINE)
        for path in files:
            stream = read_records(path)
            records = iter(stream)
            resolved, head = _detect(records, base, path)
            mapper = _Mapper(resolved, str(path))
            source = str(path)
            rows = 0
            for rec in _chain(head, records):
                rows += 1
                if rec.error is not None:
                    reason, _, detail = rec.error.partition(": ")
                    quarantine.append((source, rec.line, reason, detail, rec.raw))
                else:
                    out = mapper.map(rec.obj, rec.line)
                    if len(out) == 2:
                        quarantine.append((source, rec.line, out[0], out[1], _raw(rec.obj)))
                    else:
                        seq += 1
                        requests.append((seq, *out))
                if len(requests) >= batch_size:
                    store.stage_requests(requests.to_arrow())
                    if progress:
                        progress(done_bytes + stream.bytes_read, total_bytes)
                if len(quarantine) >= batch_size:
                    store.stage_quarantine(quarantine.to_arrow())
            done_bytes += path.stat().st_size
            if progress:
                progress(done_bytes, total_bytes)
            reports.append(FileReport(source, stream.format, rows, resolved.as_dict()))
        if len(requests):
            store.stage_requests(requests.to_arrow())
        if len(quarantine):
            store.stage_quarantine(quarantine.to_arrow())
        counts = store.commit_ingest(run_id)
    except BaseException as exc:
        store.finish_run(run_id, status="failed", stats={"error": str(exc)[:500]})
        raise
    seconds = _now() - started
    read = sum(r.rows for r in reports)
    report = IngestReport(
        run_id=run_id,
        files=reports,
        read=read,
        ingested=counts.ingested,
        duplicates=counts.duplicates,
        quarantine_reasons=counts.quarantined,
        new_prompts=counts.new_prompts,
        new_system_prompts=counts.new_system_prompts,
        seconds=seconds,
    )
    stats = {
        "read": report.read,
        "ingested": report.ingested,
        "duplicates": report.duplicates,
        "quarantined": report.quarantine_reasons,
        "new_prompts": report.new_prompts,
        "files": [{"path": r.path, "format": r.format, "rows": r.rows, "fields": r.fields} for r in reports],
    }
    store.finish_run(run_id, status="ok", timings={"ingest": seconds}, stats=stats)
    return report


def _chain(head: list[RawRecord], rest: Iterable[RawRecord]) -> Iterable[RawRecord]:
    yield from head
    yield from rest


def _raw(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _now() -> float:
    return time.perf_counter()
