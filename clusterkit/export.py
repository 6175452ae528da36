"""Exports an analyst opens in a spreadsheet: every log field is attacker-controlled, so a cell a
spreadsheet would evaluate (``=HYPERLINK(...)``, ``@SUM(...)``, ``+``/``-`` formulas, or one that
starts with a tab or carriage return) is written with a leading apostrophe, as OWASP recommends for
CSV injection; the value is otherwise kept exactly as stored."""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_START", "safe_cell", "safe_csv"]

#: characters that make a spreadsheet read a cell as a formula (or hide what follows)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_csv(df: Any, sep: str = ",") -> str:
    """A DataFrame as CSV (or TSV with ``sep="\\t"``) text whose text cells are formula-safe."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = df.copy()
    for column in out.columns:
        if is_object_dtype(out[column]) or is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    # RFC 4180 line ends: a cell holding a bare CR or LF is then quoted, never split into two rows
    return out.to_csv(index=False, sep=sep, lineterminator="\r\n")
