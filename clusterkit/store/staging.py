"""Ingest staging: parsed batches land in temporary tables and are committed in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .connection import Connection

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["IngestCounts", "StagingMixin"]


@dataclass(frozen=True)
class IngestCounts:
    """Outcome of committing one staged ingest."""

    ingested: int
    duplicates: int
    quarantined: dict[str, int]
    new_prompts: int
    new_system_prompts: int


class StagingMixin(Connection):
    """Staging tables for one ingest (see ``ingest_stage.sql`` and ``ingest_commit.sql``)."""

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
