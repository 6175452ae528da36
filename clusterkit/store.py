"""The DuckDB store: the one module that talks to DuckDB.

One file (default ``data/clusterkit.duckdb``; any path, or ``:memory:``) holds requests,
prompts, system prompts, the quarantine and the ``runs`` lineage table. The schema is created
and upgraded by numbered migrations in ``clusterkit/sql/migrations`` recorded in
``schema_migrations``. Values are always bound parameters; identifiers are checked.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import orjson

from .errors import StoreError
from .lineage import package_versions

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["CONTEXT_CHARS", "DEFAULT_DB", "IngestCounts", "Store", "StoreInfo", "check_identifier"]

DEFAULT_DB = Path("data") / "clusterkit.duckdb"
#: characters of a conversation's first user turn put before its last turn in what is embedded
#: (the bundled model reads ~256 word pieces: the last turn must stay inside that window)
CONTEXT_CHARS = 600
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


#: the command that makes each kind of run (named in "no such run yet" errors)
_MAKES = {"ingest": "ingest LOG", "embed": "embed", "cluster": "cluster", "score": "score"}


_HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunRecord:
    """A run being recorded (:meth:`Store.recorded_run`): the stage fills ``stats`` and ``timings``."""

    run_id: int
    stats: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


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


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("clusterkit").joinpath("sql", "migrations")
    found = []
    for entry in folder.iterdir():
        m = _MIGRATION.fullmatch(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


@dataclass(frozen=True)
class IngestCounts:
    """Outcome of committing one staged ingest."""

    ingested: int
    duplicates: int
    quarantined: dict[str, int]
    new_prompts: int
    new_system_prompts: int


@dataclass(frozen=True)
class StoreInfo:
    """What the store holds."""

    path: str
    schema_version: int
    requests: int
    prompts: int
    system_prompts: int
    accounts: int
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    top_models: list[tuple[str, int]]
    quarantine: list[tuple[str, int]]
    runs: list[tuple[str, int]]
    embeddings: list[tuple[str, int]]
    latest_cluster_run: dict[str, Any] | None

    @property
    def quarantined(self) -> int:
        return sum(n for _, n in self.quarantine)


class Store:
    """A clusterkit DuckDB store. Use as a context manager or call :meth:`close`.

    ``Store(":memory:")`` gives a throw-away store for tests and scripts. ``create=False`` refuses
    a path where no store exists yet (commands that only read or extend a store: a mistyped
    ``--db`` is an error, not a new empty store).

    DuckDB allows one process to have a store open for writing, and none to read it meanwhile; a
    store held by another process is refused with one line naming that process and what to do.
    """

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
                self._con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
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

    # -- runs ------------------------------------------------------------------------------
    def start_run(
        self,
        kind: str,
        params: Mapping[str, Any],
        *,
        parent_run_id: int | None = None,
        versions: Mapping[str, str] | None = None,
    ) -> int:
        """Record a new run as ``running`` (with this process's id and host); return its id.
        Stages record their runs through :meth:`recorded_run`."""
        row = self._row(
            "INSERT INTO runs (kind, parent_run_id, params, versions, started_at, status, pid, host) "
            "VALUES (?, ?, ?, ?, now(), 'running', ?, ?) RETURNING run_id",
            [kind, parent_run_id, _json(params), _json(versions or package_versions()), os.getpid(), _HOST],
        )
        return int(row[0])

    @contextmanager
    def recorded_run(
        self,
        kind: str,
        params: Mapping[str, Any],
        *,
        parent_run_id: int | None = None,
        versions: Mapping[str, str] | None = None,
    ) -> Iterator[RunRecord]:
        """The one way a stage records its run: started as ``running``; on leaving the block
        ``ok`` with the ``stats`` and ``timings`` the stage put on the record, ``interrupted``
        (Ctrl-C) or ``failed`` with the error's type, message and traceback in its stats."""
        record = RunRecord(self.start_run(kind, params, parent_run_id=parent_run_id, versions=versions))
        try:
            yield record
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"
            error = {
                "type": type(exc).__name__,
                "message": str(exc)[:2000] or type(exc).__name__,
                "traceback": "".join(traceback.format_exception(exc))[-8000:],
            }
            try:
                self.finish_run(
                    record.run_id, status=status, timings=record.timings, stats={**record.stats, "error": error}
                )
            except duckdb.Error:
                pass  # the connection itself failed: the run is found 'running' with a gone process later
            raise
        self.finish_run(record.run_id, status="ok", timings=record.timings, stats=record.stats)

    def resolve_scored(self, run_id: int | None = None) -> tuple[int, int | None]:
        """(cluster run, score run or None) for a map and its campaigns: ``run_id`` of either kind
        (a cluster run comes with its latest score run, if any); by default the latest score run
        with its cluster run, else the latest cluster run."""
        if run_id is None:
            score_run = self.latest_run("score")
            if score_run is not None:
                return int(self.run(score_run)["parent_run_id"]), score_run
            return self.resolve_run("cluster"), None
        run = self.run(run_id)
        if run["kind"] == "score":
            return int(self.run(self.resolve_run("score", run_id))["parent_run_id"]), run_id
        if run["kind"] != "cluster":
            raise StoreError(f"run {run_id} is {_a(run['kind'])} run; a report needs a cluster or score run")
        self.resolve_run("cluster", run_id)
        scored = self._row(
            "SELECT max(run_id) FROM runs WHERE kind = 'score' AND parent_run_id = ? AND status = 'ok'", [run_id]
        )
        return run_id, None if scored is None or scored[0] is None else int(scored[0])

    def _mark_abandoned_runs(self) -> int:
        """Runs left ``running`` by a process of this host that no longer exists: ``interrupted``."""
        rows = self._con.execute(
            "SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ? AND pid IS NOT NULL", [_HOST]
        ).fetchall()
        gone = [run_id for run_id, pid in rows if pid != os.getpid() and not _alive(int(pid))]
        for run_id in gone:
            self._con.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = now(), "
                "stats = json_merge_patch(coalesce(stats, '{}'), ?) WHERE run_id = ?",
                [
                    _json({"error": {"type": "ProcessGone", "message": "its process ended without finishing the run"}}),
                    run_id,
                ],
            )
        return len(gone)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        timings: Mapping[str, float] | None = None,
        stats: Mapping[str, Any] | None = None,
    ) -> None:
        """Mark a run ``ok`` or ``failed`` with its timings and stats."""
        self._con.execute(
            "UPDATE runs SET status = ?, finished_at = now(), used_at = now(), timings = ?, stats = ? WHERE run_id = ?",
            [status, _json(timings or {}), _json(stats or {}), run_id],
        )

    def run(self, run_id: int) -> dict[str, Any]:
        """One run's row as a dict, JSON columns decoded."""
        cur = self._con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        rows = cur.fetchall()
        row = rows[0] if rows else None
        if row is None:
            raise StoreError(f"{self.path}: no run {run_id}; see `clusterkit info --db {self.path}`")
        out = dict(zip([d[0] for d in cur.description], row))
        for key in ("params", "versions", "timings", "stats"):
            if isinstance(out[key], str):
                out[key] = orjson.loads(out[key])
        return out

    # -- ingest ----------------------------------------------------------------------------
    def begin_ingest(self) -> None:
        """Create empty staging tables for one ingest."""
        self._run_file("ingest_stage.sql", {})

    def stage_requests(self, table: pa.Table) -> None:
        with self._registered(_batch=table):
            self._con.execute("INSERT INTO _stage_requests BY NAME SELECT * FROM _batch")

    def stage_quarantine(self, table: pa.Table) -> None:
        with self._registered(_batch=table):
            self._con.execute("INSERT INTO _stage_quarantine BY NAME SELECT * FROM _batch")

    def commit_ingest(self, run_id: int) -> IngestCounts:
        """Classify staged rows (new / duplicate / id conflict) and write them in one transaction."""
        with self.transaction():
            self._run_file("ingest_commit.sql", {"run_id": run_id})
            status = dict(self._con.execute("SELECT status, count(*) FROM _classified GROUP BY status").fetchall())
            reasons = dict(
                self._con.execute(
                    "SELECT reason, count(*) FROM _stage_quarantine GROUP BY reason ORDER BY reason"
                ).fetchall()
            )
            new_prompts = self._value("SELECT count(*) FROM prompts WHERE first_run_id = ?", [run_id])
            new_systems = self._value("SELECT count(*) FROM system_prompts WHERE first_run_id = ?", [run_id])
        for table in ("_classified", "_stage_requests", "_stage_quarantine"):
            self._con.execute(f"DROP TABLE IF EXISTS {table}")
        return IngestCounts(
            ingested=int(status.get("new", 0)),
            duplicates=int(status.get("duplicate", 0)),
            quarantined={k: int(v) for k, v in reasons.items()},
            new_prompts=int(new_prompts),
            new_system_prompts=int(new_systems),
        )

    def latest_run(self, kind: str) -> int | None:
        """Id of the successful run of ``kind`` last produced or reused, or ``None``."""
        row = self._row(
            "SELECT run_id FROM runs WHERE kind = ? AND status = 'ok' "
            "ORDER BY used_at DESC NULLS LAST, run_id DESC LIMIT 1",
            [kind],
        )
        return None if row is None else int(row[0])

    def resolve_run(self, kind: str, run_id: int | None = None) -> int:
        """The one answer to "which run?": ``run_id`` if it is a finished run of ``kind``, else the
        latest such run (:meth:`latest_run`); a clear error when there is none, or when ``run_id``
        is of another kind or did not finish."""
        if run_id is None:
            found = self.latest_run(kind)
            if found is None:
                raise StoreError(
                    f"{self.path}: no {kind} run yet; run `clusterkit {_MAKES.get(kind, kind)} --db {self.path}` first"
                )
            return found
        run = self.run(run_id)
        if run["kind"] != kind:
            raise StoreError(
                f"{self.path}: run {run_id} is {_a(run['kind'])} run, but {_a(kind)} run is needed here "
                f"(`clusterkit info --db {self.path}` lists the runs)"
            )
        if run["status"] != "ok":
            raise StoreError(f"{self.path}: {kind} run {run_id} did not finish (status {run['status']})")
        return int(run_id)

    # -- prompts and embeddings ------------------------------------------------------------
    def count_prompts(self) -> int:
        return int(self._value("SELECT count(*) FROM prompts"))

    def _embedding_model(self, model_id: str) -> tuple[str, int] | None:
        row = self._row("SELECT model_key, dim FROM embedding_models WHERE model_id = ?", [model_id])
        return None if row is None else (f"emb_{int(row[0])}", int(row[1]))

    def embedding_table(self, model_id: str, dim: int, max_tokens: int | None = None) -> str:
        """Name of the table holding ``model_id``'s vectors, created on first use."""
        found = self._embedding_model(model_id)
        if found is not None:
            table, known_dim = found
            if known_dim != dim:
                raise StoreError(f"model {model_id!r} is stored with dimension {known_dim}, not {dim}")
            return table
        with self.transaction():
            key = int(self._value("SELECT coalesce(max(model_key), 0) + 1 FROM embedding_models"))
            self._con.execute(
                "INSERT INTO embedding_models VALUES (?, ?, ?, ?, now())", [key, model_id, int(dim), max_tokens]
            )
            table = check_identifier(f"emb_{key}")
            self._con.execute(
                f"CREATE TABLE {table} (prompt_hash VARCHAR PRIMARY KEY, vector FLOAT[{int(dim)}] NOT NULL, "
                "n_tokens INTEGER, truncated BOOLEAN, run_id BIGINT NOT NULL)"
            )
        return table

    def prompts_without_embedding(self, model_id: str) -> list[str]:
        """Hashes of prompts with no vector for ``model_id``, shortest text first."""
        found = self._embedding_model(model_id)
        if found is None:
            rows = self._con.execute("SELECT prompt_hash FROM prompts ORDER BY n_chars, prompt_hash").fetchall()
        else:
            rows = self._con.execute(
                f"SELECT p.prompt_hash FROM prompts p ANTI JOIN {found[0]} e USING (prompt_hash) "
                "ORDER BY p.n_chars, p.prompt_hash"
            ).fetchall()
        return [r[0] for r in rows]

    def prompt_texts(self, hashes: Sequence[str], *, with_context: bool = False) -> list[str]:
        """Texts of ``hashes``, in the same order (see :meth:`iter_prompt_texts`)."""
        return [text for part in self.iter_prompt_texts(hashes, with_context=with_context) for text in part]

    def iter_prompt_texts(
        self, hashes: Sequence[str], chunk: int = 50_000, *, with_context: bool = False
    ) -> Iterator[list[str]]:
        """Texts of ``hashes`` in the same order, ``chunk`` at a time (a million prompts' texts
        need not sit in memory at once). The text is the last user turn, as displayed; with
        ``with_context`` a multi-turn prompt is its conversation's first user turn (at most
        ``CONTEXT_CHARS``), a blank line, then the last turn: what is embedded and described."""
        import pyarrow as pa

        for start in range(0, len(hashes), chunk):
            part = list(hashes[start : start + chunk])
            keys = pa.table({"prompt_hash": pa.array(part, pa.string()), "pos": pa.array(range(len(part)), pa.int64())})
            with self._registered(_keys=keys):
                text = "p.text"
                if with_context:
                    text = "CASE WHEN p.context IS NULL THEN p.text ELSE left(p.context, ?) || chr(10) || chr(10) || p.text END"
                rows = self._con.execute(
                    f"SELECT k.pos, {text} FROM _keys k JOIN prompts p USING (prompt_hash) ORDER BY k.pos",
                    [CONTEXT_CHARS] if with_context else None,
                ).fetchall()
            if len(rows) != len(part):
                raise StoreError(f"{len(part) - len(rows)} prompt hash(es) not found in the prompts table")
            yield [r[1] for r in rows]

    def write_embeddings(
        self, table: str, hashes: Sequence[str], vectors: Any, n_tokens: Any, max_tokens: int | None, run_id: int
    ) -> None:
        """Insert one committed batch of vectors (existing hashes are left as they are)."""
        import numpy as np
        import pyarrow as pa

        check_identifier(table)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        flat = pa.array(vectors.reshape(-1), pa.float32())
        tokens = pa.array(n_tokens, pa.int32()) if n_tokens is not None else pa.nulls(n, pa.int32())
        trunc = (
            pa.array(np.asarray(n_tokens) > max_tokens)
            if n_tokens is not None and max_tokens
            else pa.nulls(n, pa.bool_())
        )
        batch = pa.table(
            {
                "prompt_hash": pa.array(list(hashes), pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
                "n_tokens": tokens,
                "truncated": trunc,
            }
        )
        with self._registered(_emb=batch):
            self._con.execute(
                f"INSERT INTO {table} SELECT prompt_hash, vector, n_tokens, truncated, ? FROM _emb "
                f"WHERE prompt_hash NOT IN (SELECT prompt_hash FROM {table})",
                [run_id],
            )

    def release_memory(self) -> None:
        """Drop DuckDB's cache of table blocks before memory-heavy work outside DuckDB. DuckDB keeps
        the blocks it has read or written, up to ``memory_limit`` (after embedding a million
        prompts: about 2 GB), until it needs the room itself; lowering the limit for a moment makes
        it evict them, and the store's limit is then set again (DuckDB's default if it had none)."""
        limit = self._memory_limit
        if limit is not None and not re.fullmatch(r"[0-9.]+ *[A-Za-z]*", limit):
            return  # not a size to put back into SQL text: leave the cache alone
        try:
            self._con.execute("SET memory_limit = '16MB'")
        except duckdb.Error:
            pass  # blocks still in use: whatever could be evicted was
        finally:
            self._con.execute("RESET memory_limit" if limit is None else f"SET memory_limit = '{limit}'")

    def load_embeddings(self, model_id: str, batch: int = 100_000) -> tuple[list[str], Any]:
        """All stored vectors of ``model_id``: (prompt hashes sorted, float32 matrix).

        The vectors stream into a matrix allocated once, each batch put at its hash's sorted
        position: sorting in DuckDB would carry every vector through the sort and hold about twice
        the matrix (a million 384-d vectors: 1.5 GB more), and DuckDB's allocator keeps it."""
        import numpy as np

        found = self._embedding_model(model_id)
        if found is None:
            raise StoreError(f"no embeddings for model {model_id!r}; run `clusterkit embed` first")
        table, dim = found
        hashes = sorted(r[0] for r in self._con.execute(f"SELECT prompt_hash FROM {table}").fetchall())
        where = {h: i for i, h in enumerate(hashes)}
        matrix = np.empty((len(hashes), dim), dtype=np.float32)
        filled = 0
        reader = self._con.sql(f"SELECT prompt_hash, vector FROM {table}").to_arrow_reader(batch)
        for part in reader:
            rows = np.fromiter((where[h] for h in part.column(0).to_pylist()), np.int64, part.num_rows)
            matrix[rows] = np.asarray(part.column(1).flatten(), dtype=np.float32).reshape(-1, dim)
            filled += part.num_rows
        if filled != len(hashes):
            raise StoreError(f"{table} changed while its vectors were read ({filled} of {len(hashes)} rows)")
        return hashes, matrix

    def embedding_models(self) -> list[dict[str, Any]]:
        cur = self._con.execute("SELECT * FROM embedding_models ORDER BY model_key")
        return [dict(zip([d[0] for d in cur.description], row)) for row in cur.fetchall()]

    # -- semantic runs ---------------------------------------------------------------------
    def find_run(self, kind: str, params: Mapping[str, Any]) -> int | None:
        """Newest successful run of ``kind`` recorded with exactly ``params``, or ``None``. A run
        found is about to be reused: it becomes the latest of its kind (:meth:`latest_run`)."""
        row = self._row(
            "SELECT max(run_id) FROM runs WHERE kind = ? AND status = 'ok' AND params::VARCHAR = ?",
            [kind, _json(params)],
        )
        if row is None or row[0] is None:
            return None
        self._con.execute("UPDATE runs SET used_at = now() WHERE run_id = ?", [int(row[0])])
        return int(row[0])

    def write_semantic_run(
        self,
        run_id: int,
        hashes: Sequence[str],
        coords: Any,
        xy: Any,
        labels: Any,
        probabilities: Any,
        dup_groups: Any,
        keywords: Mapping[int, Sequence[str]],
        representatives: Mapping[int, Sequence[str]],
    ) -> None:
        """Store one run's projections, labels and cluster descriptions in one transaction."""
        import numpy as np
        import pyarrow as pa

        coords = np.ascontiguousarray(coords, dtype=np.float32)
        n, dim = coords.shape if coords.ndim == 2 else (len(hashes), 0)
        offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32) if n else [0], pa.int32())
        points = pa.table(
            {
                "prompt_hash": pa.array(list(hashes), pa.string()),
                "x": pa.array(np.asarray(xy[:, 0], np.float32)) if n else pa.array([], pa.float32()),
                "y": pa.array(np.asarray(xy[:, 1], np.float32)) if n else pa.array([], pa.float32()),
                "coords": pa.ListArray.from_arrays(offsets, pa.array(coords.reshape(-1), pa.float32())),
                "cluster": pa.array(np.asarray(labels, np.int32)),
                "probability": pa.array(np.asarray(probabilities, np.float32)),
                "dup_group": pa.array(np.asarray(dup_groups, np.int32)),
            }
        )
        ids = sorted(set(keywords) | set(representatives))
        desc = pa.table(
            {
                "cluster": pa.array(ids, pa.int32()),
                "keywords": pa.array([list(keywords.get(c, [])) for c in ids], pa.list_(pa.string())),
                "representatives": pa.array([list(representatives.get(c, [])) for c in ids], pa.list_(pa.string())),
            }
        )
        with self._registered(_points=points, _desc=desc), self.transaction():
            self._con.execute("INSERT INTO projections SELECT ?, prompt_hash, x, y, coords FROM _points", [run_id])
            self._con.execute(
                "INSERT INTO cluster_labels SELECT ?, prompt_hash, cluster, probability, dup_group FROM _points",
                [run_id],
            )
            self._run_file("cluster_stats.sql", {"run_id": run_id})

    def clusters(self, run_id: int) -> pd.DataFrame:
        """One run's cluster descriptions, largest first, with representative prompt texts."""
        df = self.sql(
            "SELECT cluster, n_prompts, n_requests, n_accounts, first_seen, last_seen, keywords, representatives "
            "FROM clusters WHERE run_id = ? ORDER BY cluster < 0, cluster",
            [run_id],
        )
        wanted = sorted({h for reps in df["representatives"] for h in reps})
        texts = dict(zip(wanted, self.prompt_texts(wanted)))
        df["representatives"] = [[texts[h] for h in reps] for reps in df["representatives"]]
        return df

    def labels(self, run_id: int) -> pd.DataFrame:
        """Per-prompt results of a run: map position, cluster, near-duplicate group, text."""
        return self.sql(
            "SELECT l.prompt_hash, p.text, pr.x, pr.y, l.cluster, l.probability, l.dup_group "
            "FROM cluster_labels l JOIN projections pr USING (run_id, prompt_hash) "
            "JOIN prompts p USING (prompt_hash) WHERE l.run_id = ? ORDER BY l.prompt_hash",
            [run_id],
        )

    def coords(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        """A run's prompt hashes and their reduced (clustering) coordinates as an (n, d) array."""
        table = self._con.sql(
            "SELECT prompt_hash, coords FROM projections WHERE run_id = $run ORDER BY prompt_hash",
            params={"run": run_id},
        ).to_arrow_table()
        hashes = np.asarray(table.column("prompt_hash").to_pylist(), dtype=object)
        flat = table.column("coords").combine_chunks()
        dim = len(flat[0]) if len(flat) else 0
        values = flat.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        return hashes, values.reshape(len(hashes), dim)

    # -- report inputs --------------------------------------------------------------------------
    def report_points(
        self, run_id: int, score_run_id: int | None, budget: int, flag_budget: int | None = None
    ) -> pd.DataFrame:
        """Map points of a cluster run (see report_points.sql): flagged prompts (at most
        ``flag_budget``, default ``budget``) and at most ``budget`` others."""
        params = {"run_id": run_id, "score_run": score_run_id or -1, "budget": int(budget)}
        return self._query_file("report_points.sql", {**params, "flag_budget": int(flag_budget or budget)})

    def campaign_activity(self, run_id: int, members: pd.DataFrame, bucket_seconds: int) -> pd.DataFrame:
        """Per (campaign, account, cluster, near-duplicate family, time bucket) request counts."""
        with self.registered_members(members):
            return self._query_file("campaign_activity.sql", {"run_id": run_id, "bucket": int(bucket_seconds)})

    def campaign_points(self, run_id: int, members: pd.DataFrame, budget: int) -> pd.DataFrame:
        """Map points of the prompts each campaign's accounts sent (at most ``budget`` per campaign)."""
        with self.registered_members(members):
            return self._query_file("campaign_points.sql", {"run_id": run_id, "budget": int(budget)})

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

    def registered_members(self, members: pd.DataFrame) -> Any:
        """Register (campaign_id, account_id) pairs as the view ``_members`` for a ``with`` block."""
        import pyarrow as pa

        table = pa.Table.from_pandas(members[["campaign_id", "account_id"]].astype(str), preserve_index=False)
        return self._registered(_members=table)

    def write_scores(self, run_id: int, accounts: pd.DataFrame, campaigns: pd.DataFrame, edges: pd.DataFrame) -> None:
        """Store one score run's account scores, campaigns and account graph in one transaction."""
        import pyarrow as pa

        acc = pa.Table.from_pandas(accounts, preserve_index=False)
        camp = pa.Table.from_pandas(campaigns, preserve_index=False) if len(campaigns) else None
        graph = pa.Table.from_pandas(edges[["a", "b", "coactivity", "infra", "weight"]], preserve_index=False)
        with self._registered(_acc=acc, _edges=graph), self.transaction():
            self._con.execute(
                "INSERT INTO account_edges SELECT ?, a, b, coactivity, infra, weight FROM _edges", [run_id]
            )
            self._con.execute(
                "INSERT INTO account_scores SELECT ?, account_id, score, flagged, campaign_id, reasons, n_requests, "
                "signals::JSON FROM _acc",
                [run_id],
            )
            if camp is not None:
                with self._registered(_camp=camp):
                    self._con.execute(
                        "INSERT INTO campaigns (run_id, campaign_id, score, flagged, n_accounts, n_requests, "
                        "first_seen, last_seen, signals, evidence, keywords, examples, p_value, q_value, "
                        "expected_false_groups) SELECT ?, campaign_id, score, flagged, n_accounts, n_requests, "
                        "first_seen, last_seen, signals, evidence::JSON, keywords, examples, p_value, q_value, "
                        "expected_false_groups FROM _camp",
                        [run_id],
                    )

    def group_signals(self, run_id: int, kind: str = "cluster") -> pd.DataFrame:
        """Signals of every cluster (``kind="cluster"``) or near-duplicate family (``"template"``)."""
        return self.sql(
            "SELECT * EXCLUDE (run_id) FROM group_signals WHERE run_id = ? AND kind = ? "
            "ORDER BY n_requests DESC, group_key",
            [run_id, kind],
        )

    def account_scores(self, run_id: int) -> pd.DataFrame:
        """Accounts of a score run, most suspicious first."""
        return self.sql(
            "SELECT account_id, score, flagged, campaign_id, reasons, n_requests, signals FROM account_scores "
            "WHERE run_id = ? ORDER BY score DESC, account_id",
            [run_id],
        )

    def account_edges(self, run_id: int, accounts: Sequence[str] | None = None) -> pd.DataFrame:
        """The account graph of a score run; only edges among ``accounts`` when given."""
        if accounts is None:
            return self.sql(
                "SELECT account_a, account_b, coactivity, infra, weight FROM account_edges WHERE run_id = ? "
                "ORDER BY weight DESC",
                [run_id],
            )
        return self.sql(
            "SELECT account_a, account_b, coactivity, infra, weight FROM account_edges WHERE run_id = ? "
            "AND list_contains(?, account_a) AND list_contains(?, account_b) ORDER BY weight DESC",
            [run_id, list(accounts), list(accounts)],
        )

    def campaigns(self, run_id: int) -> pd.DataFrame:
        """Campaigns of a score run, flagged ones first, then by score."""
        return self.sql(
            "SELECT campaign_id, score, flagged, q_value, expected_false_groups, n_accounts, n_requests, first_seen, "
            "last_seen, signals, evidence, keywords, examples FROM campaigns WHERE run_id = ? "
            "ORDER BY flagged DESC, score DESC, campaign_id",
            [run_id],
        )

    # -- summary ---------------------------------------------------------------------------
    def _latest_cluster_summary(self) -> dict[str, Any] | None:
        run_id = self.latest_run("cluster")
        if run_id is None:
            return None
        stats = self.run(run_id)["stats"]
        return {"run_id": run_id, "n_clusters": stats.get("n_clusters"), "noise_share": stats.get("noise_share")}

    def info(self, top: int = 5) -> StoreInfo:
        """Counts, time span, accounts, top models, quarantine and runs summary."""
        q = self._con.execute
        requests, accounts, first_ts, last_ts = self._row(
            "SELECT count(*), count(DISTINCT account_id), min(ts), max(ts) FROM requests"
        )
        return StoreInfo(
            path=self.path,
            schema_version=self.schema_version(),
            requests=int(requests),
            prompts=int(self._value("SELECT count(*) FROM prompts")),
            system_prompts=int(self._value("SELECT count(*) FROM system_prompts")),
            accounts=int(accounts),
            first_ts=first_ts,
            last_ts=last_ts,
            top_models=[
                (m, int(n))
                for m, n in q(
                    "SELECT coalesce(model, '(none)'), count(*) AS n FROM requests "
                    "GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?",
                    [top],
                ).fetchall()
            ],
            quarantine=[
                (r, int(n))
                for r, n in q("SELECT reason, count(*) AS n FROM quarantine GROUP BY 1 ORDER BY n DESC, 1").fetchall()
            ],
            runs=[(k, int(n)) for k, n in q("SELECT kind, count(*) FROM runs GROUP BY 1 ORDER BY 1").fetchall()],
            embeddings=[
                (
                    m["model_id"],
                    int(self._value(f"SELECT count(*) FROM {check_identifier('emb_' + str(m['model_key']))}")),
                )
                for m in self.embedding_models()
            ],
            latest_cluster_run=self._latest_cluster_summary(),
        )


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
