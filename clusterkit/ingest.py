"""Ingest API request logs into the store.

Files are streamed record by record (:mod:`clusterkit.readers`), mapped to request columns (see
:mod:`clusterkit.rows`, :mod:`clusterkit.mapping` and :mod:`clusterkit.chat`), staged in Arrow
batches (:mod:`clusterkit.batches`) and committed in one transaction that de-duplicates prompts and
request ids. Every row read ends up in exactly one place: ingested, skipped as an exact duplicate,
or quarantined with its reason, file and line.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .batches import ProgressFn, _Columns, _Sink, _to_ipc
from .errors import ClusterkitError, MappingError
from .mapping import FieldMap, detect_fields, missing_meta, unmapped_keys
from .readers import RawRecord, check_encoding, discover_files, parse_json_line, read_records
from .rows import _map_records, _Mapper

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
    #: files a folder or pattern held that are not logs (other types, hidden files): not read, listed
    skipped: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_reasons.values())

    @property
    def balanced(self) -> bool:
        return self.read == self.ingested + self.duplicates + self.quarantined


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
    encoding: str | None = None,
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
    ``encoding`` is what CSV and JSON files are written in (default UTF-8, e.g. ``cp1252``,
    ``gb18030``); a file that is not valid in it stops the ingest with its name.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files, skipped = discover_files(paths)
    base = fields or FieldMap.from_options(
        text=text, account=account, time=time, id=id, meta=meta, time_format=time_format
    )
    encoding = check_encoding(encoding)
    if workers is None:
        workers = max(1, min(4, os.cpu_count() or 1))
    started = _now()
    params = {
        "paths": [str(p) for p in files],
        "fields": base.as_dict(),
        "batch_size": batch_size,
        "encoding": encoding,
    }
    with store.recorded_run("ingest", params) as record:
        report = _ingest_files(store, record.run_id, files, base, encoding, batch_size, workers, progress, started)
        report = replace(report, skipped=[str(p) for p in skipped])
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
                "skipped": report.skipped,
            }
        )
    return report


def _ingest_files(
    store: Any,
    run_id: int,
    files: list[Path],
    base: FieldMap,
    encoding: str | None,
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
            stream = read_records(path, encoding)
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


def _chain(head: list[RawRecord], rest: Iterable[RawRecord]) -> Iterable[RawRecord]:
    yield from head
    yield from rest


def _now() -> float:
    return time.perf_counter()
