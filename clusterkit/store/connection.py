"""Opening the DuckDB file, the schema migrations, and the SQL helpers every part of the store uses.

Values are always bound parameters; identifiers are checked (:func:`check_identifier`). SQL that
is more than a line lives in ``clusterkit/sql`` (migrations in ``clusterkit/sql/migrations``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ..errors import StoreError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from . import Store

__all__ = ["DEFAULT_DB", "Connection", "check_identifier"]

DEFAULT_DB = Path("data") / "clusterkit.duckdb"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_MIGRATION = re.compile(r"(\d{3})_([a-z0-9_]+)\.sql")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a safe SQL identifier, else raise StoreError."""
    if not _IDENT.fullmatch(name):
        raise StoreError(f"{name!r} is not a valid identifier (letters, digits, _; not starting with a digit)")
    return name


def _sql_text(name: str) -> str:
    return resources.files("clusterkit").joinpath("sql", name).read_text(encoding="utf-8")


def _statements(sql: str) -> list[str]:
    """Split a file of ``;``-terminated statements (``;`` at the end of a line)."""
    parts = re.split(r";[ \t]*(?:--[^\n]*)?\n", sql + "\n")
    out = []
    for part in parts:
        body = "\n".join(ln for ln in part.splitlines() if not ln.strip().startswith("--")).strip()
        if body:
            out.append(part.strip())
    return out


def _bound(stmt: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``$name`` parameters a statement uses (comments ignored), with their values."""
    code = "\n".join(line.split("--", 1)[0] for line in stmt.splitlines())
    names = set(_PARAM.findall(code))
    missing = names - set(params)
    if missing:
        raise StoreError(f"SQL parameter(s) {', '.join(sorted(missing))} not given")
    return {k: params[k] for k in names} or None


def _is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` starts like a DuckDB database file (its magic bytes at offset 8)."""
    with path.open("rb") as fh:
        return fh.read(12)[8:12] == b"DUCK"


def _open_error(path: str, exc: Exception) -> str:
    """DuckDB's open error in one line a user can act on (a lock held by another process above all)."""
    text = str(exc)
    if "lock" in text.lower():
        held = re.search(r"held in (.+?) \(PID (\d+)\)", text)
        who = f"process {held.group(2)} ({held.group(1)})" if held else "another process"
        return (
            f"{path}: {who} has this store open for writing; DuckDB allows one writing process per file "
            "and no other process meanwhile. Close it there (a notebook: `store.close()` or restart its "
            "kernel; a command: let it finish) or work on a copy of the file."
        )
    return f"{path}: cannot open the DuckDB store: {text}"


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("clusterkit").joinpath("sql", "migrations")
    found = []
    for entry in folder.iterdir():
        m = _MIGRATION.fullmatch(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Connection:
    """One open DuckDB store file: opening it (read-only, or refusing a missing or foreign file),
    migrating its schema, transactions and the query helpers the other parts of :class:`Store`
    build on. Opening a writable store also marks runs whose process is gone
    (:meth:`RunsMixin._mark_abandoned_runs`, in ``runs``)."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_DB,
        *,
        read_only: bool = False,
        create: bool = True,
        memory_limit: str | None = "2GB",
        threads: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.read_only = read_only
        self._memory_limit = memory_limit or None
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        if self.path != ":memory:":
            p = Path(self.path)
            if p.is_dir():
                raise StoreError(f"{p}: is a folder; give a file path for the store, e.g. {p / 'clusterkit.duckdb'}")
            if (read_only or not create) and not p.exists():
                raise StoreError(f"{p}: no such store; create it with `clusterkit ingest LOG --db {p}`")
            if p.is_file() and p.stat().st_size >= 12 and not _is_duckdb_file(p):
                raise StoreError(f"{p}: not a DuckDB store (a log? ingest it with `clusterkit ingest {p} --db STORE`)")
            if not read_only:
                p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(_open_error(self.path, exc)) from exc
        self._con.execute("SET TimeZone = 'UTC'")
        # DuckDB's own progress bar prints into stdout for queries over 2 s, through the CLI's bars
        # and into logs; clusterkit reports progress itself. Inside Jupyter without ipywidgets
        # DuckDB refuses the setting, and cannot draw its bar there either.
        try:
            self._con.execute("SET enable_progress_bar = false")
        except duckdb.InvalidInputException:
            pass
        if not read_only:
            self.migrate()
            self._mark_abandoned_runs()
        elif self.schema_version() == 0:
            raise StoreError(f"{self.path}: not a clusterkit store (no schema_migrations table)")

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self._con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchall()[0][0]
        if not exists:
            return 0
        return int(self._value("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def migrate(self) -> int:
        """Apply the migrations the store does not have yet; return the schema version."""
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        current = self.schema_version()
        known = _migrations()
        if known and current > known[-1][0]:
            raise StoreError(
                f"{self.path}: schema version {current} is newer than this clusterkit knows "
                f"({known[-1][0]}); upgrade clusterkit"
            )
        for version, name, sql in known:
            if version <= current:
                continue
            with self.transaction():
                for stmt in _statements(sql):
                    self._con.execute(stmt)
                self._con.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, now())", [version, name]
                )
        return self.schema_version()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # -- queries for people and notebooks -----------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a query with bound parameters and return a pandas DataFrame."""
        try:
            return self._con.execute(query, params).df()
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc

    def arrow(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pa.Table:
        """Run a query with bound parameters and return a pyarrow Table."""
        try:
            return self._con.sql(query, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc

    @contextmanager
    def _registered(self, **tables: Any) -> Iterator[None]:
        """Arrow tables visible to SQL under the given names for the duration of the block."""
        for name, table in tables.items():
            self._con.register(check_identifier(name), table)
        try:
            yield
        finally:
            for name in tables:
                self._con.unregister(name)

    def _row(self, query: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        """First row of a query (the result is always read to the end), or ``None``."""
        rows = self._con.execute(query, params).fetchall()
        return rows[0] if rows else None

    def _value(self, query: str, params: Sequence[Any] | None = None) -> Any:
        """The single value a query returns."""
        row = self._row(query, params)
        return None if row is None else row[0]

    def _run_file(self, name: str, params: Mapping[str, Any]) -> None:
        self.run_script(_sql_text(name), params)

    # -- generic script access (stages own their SQL files) ------------------------------------
    def query_script(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a script of ``;``-terminated statements (``$name`` parameters bound from ``params``);
        the last one's result as a DataFrame."""
        stmts = _statements(sql)
        for stmt in stmts[:-1]:
            self._con.execute(stmt, _bound(stmt, params or {}))
        return self._con.execute(stmts[-1], _bound(stmts[-1], params or {})).df()

    def run_script(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a script of ``;``-terminated statements for their effect."""
        for stmt in _statements(sql):
            self._con.execute(stmt, _bound(stmt, params or {}))

    def drop_temp_tables(self, *names: str) -> None:
        for name in names:
            self._con.execute(f"DROP TABLE IF EXISTS temp.{check_identifier(name)}")

    def _query_file(self, name: str, params: Mapping[str, Any]) -> pd.DataFrame:
        return self.query_script(_sql_text(name), params)
