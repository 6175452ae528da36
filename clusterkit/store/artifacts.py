"""Artifacts keyed by run: projections, cluster labels and descriptions, scores, and the queries
the report reads them with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .connection import Connection

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ArtifactsMixin"]


class ArtifactsMixin(Connection):
    """What cluster and score runs write, and what the report reads back."""

    # -- semantic runs ---------------------------------------------------------------------
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
            self._con.execute(
                "INSERT INTO projections (run_id, prompt_hash, x, y, coords) SELECT ?, prompt_hash, x, y, coords FROM _points",
                [run_id],
            )
            self._con.execute(
                "INSERT INTO cluster_labels (run_id, prompt_hash, cluster, probability, dup_group) "
                "SELECT ?, prompt_hash, cluster, probability, dup_group FROM _points",
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

    def registered_members(self, members: pd.DataFrame) -> Any:
        """Register (campaign_id, account_id) pairs as the view ``_members`` for a ``with`` block."""
        import pyarrow as pa

        table = pa.Table.from_pandas(members[["campaign_id", "account_id"]].astype(str), preserve_index=False)
        return self._registered(_members=table)

    # -- score runs ----------------------------------------------------------------------
    def write_scores(self, run_id: int, accounts: pd.DataFrame, campaigns: pd.DataFrame, edges: pd.DataFrame) -> None:
        """Store one score run's account scores, campaigns and account graph in one transaction."""
        import pyarrow as pa

        acc = pa.Table.from_pandas(accounts, preserve_index=False)
        camp = pa.Table.from_pandas(campaigns, preserve_index=False) if len(campaigns) else None
        graph = pa.Table.from_pandas(edges[["a", "b", "coactivity", "infra", "weight"]], preserve_index=False)
        with self._registered(_acc=acc, _edges=graph), self.transaction():
            self._con.execute(
                "INSERT INTO account_edges (run_id, account_a, account_b, coactivity, infra, weight) "
                "SELECT ?, a, b, coactivity, infra, weight FROM _edges",
                [run_id],
            )
            self._con.execute(
                "INSERT INTO account_scores (run_id, account_id, score, flagged, campaign_id, reasons, n_requests, "
                "signals) SELECT ?, account_id, score, flagged, campaign_id, reasons, n_requests, signals::JSON FROM _acc",
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
