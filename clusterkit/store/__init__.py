"""The DuckDB store: the one package that talks to DuckDB.

One file (default ``data/clusterkit.duckdb``; any path, or ``:memory:``) holds requests,
prompts, system prompts, the quarantine and the ``runs`` lineage table. The schema is created
and upgraded by numbered migrations in ``clusterkit/sql/migrations`` recorded in
``schema_migrations``. Values are always bound parameters; identifiers are checked.

The one class :class:`Store` is assembled from one part per concept, all over one connection:

- ``connection``: opening the file, migrations, transactions, query and SQL-script helpers;
- ``runs``: the ``runs`` lineage table (:meth:`Store.recorded_run`, :meth:`Store.resolve_run`);
- ``staging``: ingest staging tables and their commit;
- ``embeddings``: prompt texts and the embedding cache;
- ``artifacts``: projections, labels, clusters, scores, campaigns and the report's queries;
- ``summary``: :meth:`Store.info`.

The parts call each other's methods through ``self``; only :class:`Store` has them all.
"""

from __future__ import annotations

from .artifacts import ArtifactsMixin
from .connection import DEFAULT_DB, check_identifier
from .connection import _migrations as _migrations  # the known migrations, read by the tests
from .embeddings import CONTEXT_CHARS, EmbeddingsMixin
from .runs import RunRecord, RunsMixin
from .staging import IngestCounts, StagingMixin
from .summary import StoreInfo, SummaryMixin

__all__ = ["CONTEXT_CHARS", "DEFAULT_DB", "IngestCounts", "RunRecord", "Store", "StoreInfo", "check_identifier"]


class Store(RunsMixin, StagingMixin, EmbeddingsMixin, ArtifactsMixin, SummaryMixin):
    """A clusterkit DuckDB store. Use as a context manager or call :meth:`close`.

    ``Store(":memory:")`` gives a throw-away store for tests and scripts. ``create=False`` refuses
    a path where no store exists yet (commands that only read or extend a store: a mistyped
    ``--db`` is an error, not a new empty store).

    DuckDB allows one process to have a store open for writing, and none to read it meanwhile; a
    store held by another process is refused with one line naming that process and what to do.
    """
