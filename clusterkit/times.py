"""Timestamp parsing: ISO-8601 (with or without zone), epoch seconds, milliseconds,
microseconds or nanoseconds, and ``datetime`` objects. Everything becomes UTC epoch microseconds.
A timestamp without a zone is taken to be UTC.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["parse_timestamp_us"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# Magnitude thresholds that tell the unit of a numeric epoch value (valid 1973..5138).
_MS, _US, _NS = 1e11, 1e14, 1e17


def _from_number(x: float | int) -> int:
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    ax = abs(x)
    if ax >= _NS:
        return int(x // 1000)
    if ax >= _US:
        return int(x)
    if ax >= _MS:
        return round(x * 1000)
    return round(x * 1_000_000)


def _from_datetime(d: dt.datetime) -> int:
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    delta = d - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# Request logs of an LLM API cannot predate 1990 or lie past 2100: anything outside is a unit or
# format mistake, quarantined rather than stored as a nonsense date.
_MIN_US = 631_152_000 * 1_000_000  # 1990-01-01
_MAX_US = 4_102_444_800 * 1_000_000  # 2100-01-01


def parse_timestamp_us(value: object, fmt: str | None = None) -> int:
    """Parse one timestamp value to UTC epoch microseconds; raise ``ValueError`` if impossible
    or outside 1990..2100. With ``fmt`` (a ``strptime`` format such as ``%d/%m/%Y %H:%M``) the
    value is read with it (no zone in the format means UTC)."""
    us = _from_datetime(dt.datetime.strptime(str(value).strip(), fmt)) if fmt else _parse(value)
    if not _MIN_US <= us < _MAX_US:
        raise ValueError("outside 1990..2100 (wrong unit or format?)")
    return us


def _parse(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return _from_number(value)
    if isinstance(value, dt.datetime):
        return _from_datetime(value)
    if isinstance(value, dt.date):
        return _from_datetime(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, str):
        s = value.strip()
        if not s:
            raise ValueError("empty timestamp")
        if (s[0].isdigit() or s[0] == "-") and not (len(s) >= 10 and s[4] == "-"):
            try:
                return _from_number(float(s))
            except ValueError:
                pass
        if s.endswith(" UTC"):
            s = s[:-4] + "+00:00"
        return _from_datetime(dt.datetime.fromisoformat(s))
    raise ValueError(f"unsupported timestamp type {type(value).__name__}")
