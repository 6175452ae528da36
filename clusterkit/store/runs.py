"""The ``runs`` lineage table: recording a stage's run and answering "which run?"."""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

from ..errors import StoreError
from ..lineage import package_versions
from .connection import Connection

__all__ = ["RunRecord", "RunsMixin"]

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


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()


class RunsMixin(Connection):
    """Runs of the stages: started ``running``, finished ``ok``, ``failed`` or ``interrupted``,
    found again by kind, id or parameters."""

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

    def stale_score_note(self, score_run: int) -> str | None:
        """A line saying so when ``score_run`` is not of the latest cluster run (another map, maybe
        of another model), naming both runs and their models; None when it is."""
        parent = self.run(score_run)["parent_run_id"]
        latest = self.latest_run("cluster")
        if parent is None or latest is None or latest == int(parent):
            return None  # (a score run recorded without its map: nothing to compare)
        parent = int(parent)

        def model(run_id: int) -> str:
            return str(self.run(run_id)["params"].get("model_id", "an unknown model"))

        return (
            f"note: score run {score_run} is of cluster run {parent} ({model(parent)}), not of the latest "
            f"cluster run {latest} ({model(latest)}); `clusterkit score --db {self.path}` scores the latest, "
            "`--run ID` picks a run"
        )

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
