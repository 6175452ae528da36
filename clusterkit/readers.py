"""Input files: discovery (files, globs, folders) and streaming readers per format.

Every reader yields :class:`RawRecord` items one at a time, so memory stays bounded whatever
the file size. A record is either a parsed object or an error with the raw text kept for the
quarantine. Supported: ``.jsonl``/``.ndjson``, ``.json`` (an array, or JSON lines), ``.csv``,
``.parquet``, each optionally gzipped (``.gz``) except Parquet.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import io
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .errors import InputError

__all__ = ["SUPPORTED_SUFFIXES", "RawRecord", "check_encoding", "discover_files", "file_format", "read_records"]

SUPPORTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input row: its 1-based line (or record number), the object or the reason it failed."""

    line: int
    obj: Any = None
    raw: str | None = None
    error: str | None = None


def file_format(path: Path) -> tuple[str, bool]:
    """(format, gzipped) for ``path`` from its suffixes; raise InputError when unsupported."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            fmt = {".ndjson": "jsonl"}.get(suffix, suffix[1:])
            if fmt == "parquet" and gz:
                break
            return fmt, gz
    raise InputError(
        f"{path}: unsupported file type; expected one of "
        f"{', '.join(SUPPORTED_SUFFIXES)} (optionally .gz, not for .parquet)"
    )


def discover_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """Expand files, glob patterns and folders (recursively, supported types only), in order,
    without repeats: ``(files, skipped)``, where ``skipped`` are the files a folder or pattern held
    that are not logs (other types, hidden files), for the summary to list. A path that matches
    nothing is an error, never silently skipped."""
    out: list[Path] = []
    seen: set[Path] = set()
    skipped: list[Path] = []

    def add(p: Path) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            out.append(rp)

    for item in paths:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            inside = sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
            found = [f for f in inside if _supported(f) and not f.name.startswith(".")]
            skipped += [f for f in inside if f not in found]
            if not found:
                raise InputError(f"{p}: folder holds no supported log files ({', '.join(SUPPORTED_SUFFIXES)})")
            for f in found:
                add(f)
        elif p.is_file():
            file_format(p)
            add(p)
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file() and _supported(m)]
            skipped += [m for m in matches if m.is_file() and m not in files]
            if not files:
                raise InputError(f"{text}: pattern matches no supported log files")
            for f in files:
                add(f)
        else:
            raise InputError(f"{text}: no such file or folder")
    return out, [f for f in dict.fromkeys(skipped) if f.resolve() not in seen]


def _supported(p: Path) -> bool:
    try:
        file_format(p)
    except InputError:
        return False
    return True


class _Counting(io.RawIOBase):
    """Wraps a binary file and counts the (compressed) bytes read, for progress."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b)
        self.bytes_read += n or 0
        return n or 0

    def close(self) -> None:
        self._f.close()
        super().close()


def check_encoding(encoding: str | None) -> str | None:
    """The codec name of ``encoding`` (None: UTF-8, the default); an unknown one is an error."""
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            f"--encoding {encoding!r} is not an encoding Python knows (e.g. utf-8, cp1252, gb18030, shift_jis)"
        ) from None


class _Recoded(io.RawIOBase):
    """Reads a text file in another encoding as UTF-8 (``--encoding``), failing on the first
    byte sequence that encoding cannot decode (a wrong encoding is said, never guessed around)."""

    def __init__(self, f: BinaryIO, encoding: str, path: Path) -> None:
        self._text = io.TextIOWrapper(f, encoding=encoding, errors="strict", newline="")
        self._pending = b""
        self._path, self._encoding = path, encoding

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._pending:
            try:
                chunk = self._text.read(1 << 16)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{self._path}: not valid {self._encoding} ({exc.reason}: {exc.object[exc.start : exc.start + 8]!r}); "
                    "check --encoding"
                ) from None
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8", "surrogatepass")
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._text.close()
        super().close()


def _open_binary(path: Path, gz: bool, encoding: str | None = None) -> tuple[BinaryIO, _Counting]:
    counter = _Counting(open(path, "rb"))
    buffered = io.BufferedReader(counter, buffer_size=1 << 20)
    f: BinaryIO = gzip.GzipFile(fileobj=buffered, mode="rb") if gz else buffered  # type: ignore[assignment]
    if encoding is not None and encoding != "utf-8":
        f = io.BufferedReader(_Recoded(f, encoding, path), buffer_size=1 << 20)  # type: ignore[assignment]
    return f, counter


def _decode_raw(line: bytes) -> str:
    return line.decode("utf-8", "backslashreplace")


def parse_json_line(n: int, line: bytes) -> RawRecord:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return RawRecord(n, raw=_decode_raw(line), error=f"invalid_utf8: {uexc.reason} at byte {uexc.start}")
        return RawRecord(n, raw=_decode_raw(line), error=f"malformed_json: {exc}")
    if not isinstance(obj, dict):
        return RawRecord(n, raw=_decode_raw(line), error=f"not_an_object: JSON {type(obj).__name__}")
    return RawRecord(n, obj=obj)


def _is_json_array(f: BinaryIO) -> bool:
    head = f.peek(64)[:64] if hasattr(f, "peek") else b""
    return head.lstrip()[:1] == b"["


def _read_json_array(f: BinaryIO) -> Iterator[RawRecord]:
    data = f.read()
    try:
        arr = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield RawRecord(1, raw=_decode_raw(data), error=f"malformed_json: whole file: {exc}")
        return
    for n, obj in enumerate(arr, 1):
        if isinstance(obj, dict):
            yield RawRecord(n, obj=obj)
        else:
            yield RawRecord(n, raw=orjson.dumps(obj).decode(), error=f"not_an_object: JSON {type(obj).__name__}")


def _read_csv(f: BinaryIO) -> Iterator[RawRecord]:
    text = io.TextIOWrapper(f, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.lstrip("\ufeff").strip() for h in header]
    width = len(header)
    for row in reader:
        n = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        joined = ",".join(row)
        if _has_surrogates(joined):
            raw = joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            yield RawRecord(n, raw=raw, error="invalid_utf8: bytes that are not UTF-8")
            continue
        if len(row) != width:
            buf = io.StringIO()
            csv.writer(buf).writerow(row)
            yield RawRecord(
                n, raw=buf.getvalue().rstrip("\r\n"), error=f"malformed_csv: {len(row)} fields, header has {width}"
            )
            continue
        yield RawRecord(n, obj={k: (v if v != "" else None) for k, v in zip(header, row)})


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        size = path.stat().st_size
        why = "the file is empty (0 bytes)" if size == 0 else str(exc).split(". ")[0]
        raise InputError(f"{path}: not a readable Parquet file: {why}") from exc
    n = 0
    for batch in pf.iter_batches(batch_size=8192):
        for obj in batch.to_pylist():
            n += 1
            yield RawRecord(n, obj=obj)


class RecordStream:
    """Iterates the records of one file and tells how many bytes of it have been read."""

    def __init__(self, path: Path, encoding: str | None = None) -> None:
        self.path = path
        self.encoding = check_encoding(encoding)
        self.format, self.gz = file_format(path)
        self.size = path.stat().st_size
        self._counter: _Counting | None = None
        self._file: BinaryIO | None = None
        self._line = 0
        self._done = False

    @property
    def bytes_read(self) -> int:
        if self.format == "parquet":
            return self.size if self._done else 0
        return self._counter.bytes_read if self._counter else 0

    def _jsonl(self, f: BinaryIO) -> Iterator[RawRecord]:
        for line in f:
            self._line += 1
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield parse_json_line(self._line, line)

    def __iter__(self) -> Iterator[RawRecord]:
        try:
            if self.format == "parquet":
                yield from _read_parquet(self.path)
                return
            f, self._counter = _open_binary(self.path, self.gz, self.encoding)
            self._file = f
            with f:
                if self.format == "csv":
                    yield from _read_csv(f)
                elif self.format == "json" and _is_json_array(f):
                    yield from _read_json_array(f)
                else:  # JSON lines, also in a .json file that holds no array
                    yield from self._jsonl(f)
        except (OSError, EOFError) as exc:
            raise InputError(f"{self.path}: cannot read: {exc}") from exc
        finally:
            self._done = True

    def next_lines(self, n: int) -> tuple[int, list[bytes]]:
        """For JSON lines, after iteration has started: the next ``n`` raw lines and the number
        of the first. Lets callers hand the rest of a file to worker processes."""
        if self.format != "jsonl" or self._file is None:
            raise RuntimeError("next_lines needs a JSON-lines stream that iteration has opened")
        first = self._line + 1
        if self._file.closed:
            return first, []
        try:
            chunk = list(itertools.islice(self._file, n))
        except (OSError, EOFError) as exc:
            raise InputError(f"{self.path}: cannot read: {exc}") from exc
        self._line += len(chunk)
        return first, chunk


def read_records(path: str | os.PathLike[str], encoding: str | None = None) -> RecordStream:
    """Stream the records of one file (see :class:`RawRecord`). ``encoding``: what a CSV or JSON
    file is written in (default UTF-8); Parquet text is UTF-8 by definition and ignores it."""
    return RecordStream(Path(path), encoding)
