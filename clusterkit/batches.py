"""Batches: mapped rows collected in column buffers and handed to the store as Arrow batches,
in this process or as Arrow IPC streams from the worker processes of the parallel path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .rows import Row

__all__ = ["ProgressFn"]

ProgressFn = Callable[[int, int], None]


class _Columns:
    """Column buffers for one Arrow batch of staged requests or quarantine rows."""

    #: the staged request columns: the sequence number, then a row's fields by name (rows.Row)
    REQUEST = ("seq", *Row._fields)
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
