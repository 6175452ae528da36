"""Parsed records to request rows: one record of a log becomes a staged request row or a
quarantine reason with its detail.

The field paths come from :mod:`clusterkit.mapping`, the prompt from a chat body from
:mod:`clusterkit.chat`; :mod:`clusterkit.ingest` stages the rows and runs the ingest.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from .chat import extract_prompt
from .mapping import FieldMap, compile_path, used_roots
from .readers import RawRecord
from .textnorm import content_hash, prompt_hash, text_hash
from .times import parse_timestamp_us

__all__: list[str] = []  # used by clusterkit.ingest; nothing here is public API


class Row(NamedTuple):
    """One request as staged, in the staging table's column order (``batches._Columns.REQUEST``
    is ``seq`` followed by these names): built by name, so no column can be swapped silently."""

    request_id: str
    account_id: str
    ts: int
    prompt_hash: str
    text: str
    context: str | None
    system_hash: str | None
    system_text: str | None
    model: str | None
    org_id: str | None
    ip: str | None
    user_agent: str | None
    extra: str | None
    source: str
    line: int
    row_hash: str


class Quarantined(NamedTuple):
    """Why a record is not a request: a quarantine reason and its detail."""

    reason: str
    detail: str


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

    def map(self, obj: dict[str, Any], line: int) -> Row | Quarantined:
        f = self.f
        if self.decode_json and (column := self._swallowed_row(obj)) is not None:
            return Quarantined(
                "malformed_csv",
                f"column {column!r} holds a line that reads as a whole row: a broken quote swallowed the rows "
                "after it (fix the quoting and ingest again; the raw text is kept here)",
            )
        raw_text = self.get_text(obj)
        if raw_text is None:
            return Quarantined("missing_text", f"no value at text path {f.text!r}")
        chat = extract_prompt(raw_text, decode_json=self.decode_json)
        text = chat.text
        if text is None:
            if chat.other_blocks:
                return Quarantined(
                    "empty_prompt", f"last user turn has no text, only {', '.join(chat.other_blocks)} blocks"
                )
            return Quarantined("missing_text", f"no user prompt found in the value at {f.text!r}")
        if not text.strip():
            return Quarantined("empty_prompt", "prompt is empty or whitespace only")

        account_value = self.get_account(obj)
        account = _ident(account_value)
        if account is None:
            what = "an object, not an id" if isinstance(account_value, (dict, list)) else "missing or empty"
            return Quarantined("missing_account", f"account at {f.account!r} is {what}")

        ts_value = self.get_time(obj)
        if ts_value is None or ts_value == "":
            return Quarantined("missing_time", f"no value at time path {f.time!r}")
        try:
            ts = parse_timestamp_us(ts_value, self.time_format)
        except (ValueError, OverflowError, TypeError) as exc:
            how = f" with --time-format {self.time_format!r}" if self.time_format else ""
            return Quarantined("unparseable_time", f"{str(ts_value)[:80]!r} at {f.time!r}{how}: {exc}")

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
        return Row(
            request_id=rid,
            account_id=account,
            ts=ts,
            prompt_hash=phash,
            text=text,
            context=context,
            system_hash=shash,
            system_text=system if shash else None,
            model=model,
            org_id=org,
            ip=ip,
            user_agent=ua,
            extra=extra_json,
            source=self.source,
            line=line,
            row_hash=row_hash,
        )


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
        if type(out) is Quarantined:
            quarantine.append((source, rec.line, out.reason, out.detail, _raw(rec.obj)))
        else:
            requests.append((base | rec.line, *out))
    return requests, quarantine


def _raw(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()
