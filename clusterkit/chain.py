"""The whole chain in one call: logs -> store -> map and clusters -> campaigns -> report.

:func:`analyse` is what ``clusterkit run``, ``clusterkit demo``, the notebooks' ``demo_store`` and
the benchmarks call, so there is one way to run it. Each step reuses what the store already holds
for the same inputs, parameters and code (re-ingested rows are duplicates; a cluster or score run
with the same key is returned, not recomputed)::

    from clusterkit import Store
    from clusterkit.chain import analyse

    with Store("data/clusterkit.duckdb") as store:
        done = analyse(store, "logs/", report="report.html")
        print(done.scored.n_flagged, done.report)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .mapping import FieldMap
from .pipeline import EngineParams, RunResult

__all__ = ["ChainResult", "Hooks", "analyse"]

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


@dataclass(frozen=True)
class ChainResult:
    """What each step of :func:`analyse` did (``ingest`` is None when no logs were given)."""

    ingest: Any  # clusterkit.ingest.IngestReport | None
    engine: RunResult
    scored: Any  # clusterkit.campaigns.ScoreResult
    report: Path | None


@dataclass(frozen=True)
class Hooks:
    """Callbacks for a caller that shows progress (the CLI's bars and tables); all optional.

    ``ingest_progress(done, total)`` during the ingest (bytes); ``stage(name)`` as each engine
    stage starts and ``progress(done, total)`` within it; ``step(name, result)`` after each step
    (``"ingest"``, ``"engine"``, ``"score"``, ``"report"``) with what it returned."""

    ingest_progress: Callable[[int, int], None] | None = None
    stage: Callable[[str], None] | None = None
    progress: Callable[[int, int], None] | None = None
    step: Callable[[str, Any], None] | None = None


def analyse(
    store: Any,
    logs: Paths | None = None,
    *,
    fields: FieldMap | None = None,
    encoding: str | None = None,
    workers: int | None = None,
    engine: EngineParams | None = None,
    embedder: Any = None,
    detect: Any = None,
    report: str | os.PathLike[str] | None = None,
    pseudonymise: bool = False,
    hooks: Hooks | None = None,
) -> ChainResult:
    """Ingest ``logs`` (when given) into ``store`` with ``fields`` (None: detected per file) and
    ``encoding`` (None: UTF-8), build
    the map and clusters with ``engine`` (:class:`~clusterkit.pipeline.EngineParams`; ``embedder``
    swaps its embedding stage, as :func:`~clusterkit.pipeline.run`'s does), score every
    account with ``detect`` (:class:`~clusterkit.campaigns.DetectParams`) and, when ``report`` is a
    path, write the HTML report of that score run there."""
    from .campaigns import score
    from .embed import get_embedder
    from .ingest import ingest
    from .pipeline import EngineParams, run

    hooks = hooks or Hooks()
    step = hooks.step or (lambda _name, _result: None)
    # a model and backend that do not go together are refused before anything is ingested
    p = engine or EngineParams()
    get_embedder(None, p.model, "torch" if p.backend == "cuml" else p.backend)
    ingested = None
    if logs is not None:
        ingested = ingest(
            store, logs, fields=fields, encoding=encoding, workers=workers, progress=hooks.ingest_progress
        )
        step("ingest", ingested)
    mapped = run(store, engine, embedder=embedder, stage=hooks.stage, progress=hooks.progress)
    step("engine", mapped)
    scored = score(store, cluster_run_id=mapped.run_id, params=detect)
    step("score", scored)
    written = None
    if report is not None:
        from .report import build_report

        written = build_report(store, run_id=scored.run_id, pseudonymise=pseudonymise).save(report)
        step("report", written)
    return ChainResult(ingested, mapped, scored, written)
