"""What the store holds, in one object (``clusterkit info``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .connection import Connection, check_identifier

__all__ = ["StoreInfo", "SummaryMixin"]


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
    #: the latest runs, newest first: run_id, kind, status, parent_run_id, started_at, model_id
    recent_runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return sum(n for _, n in self.quarantine)


class SummaryMixin(Connection):
    """Counts and the latest runs, for ``clusterkit info`` and notebooks."""

    # -- summary ---------------------------------------------------------------------------
    def _latest_cluster_summary(self) -> dict[str, Any] | None:
        run_id = self.latest_run("cluster")
        if run_id is None:
            return None
        stats = self.run(run_id)["stats"]
        return {"run_id": run_id, "n_clusters": stats.get("n_clusters"), "noise_share": stats.get("noise_share")}

    def info(self, top: int = 5, recent: int = 10) -> StoreInfo:
        """Counts, time span, accounts, top models, quarantine, runs summary and the ``recent``
        latest runs (their ids are what ``--run`` takes)."""
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
            recent_runs=[
                dict(zip(("run_id", "kind", "status", "parent_run_id", "started_at", "model_id"), row))
                for row in q(
                    "SELECT run_id, kind, status, parent_run_id, started_at, json_extract_string(params, '$.model_id') "
                    "FROM runs ORDER BY run_id DESC LIMIT ?",
                    [recent],
                ).fetchall()
            ],
        )
