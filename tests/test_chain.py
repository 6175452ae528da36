"""The one way to run the chain: ``analyse`` (what ``clusterkit run``/``demo``, the notebooks and the
benchmarks call), on a real DuckDB file with the bundled model."""

from __future__ import annotations

import dataclasses

import pytest

from clusterkit import ClusterkitError, EngineParams, Store, analyse
from clusterkit.chain import Hooks
from clusterkit.simulate import simulate


def test_engine_params_are_checked_when_built():
    with pytest.raises(ClusterkitError, match=r"min_cluster_size must be at least 2.*dup_threshold"):
        EngineParams(min_cluster_size=1, dup_threshold=1.5)
    with pytest.raises(ClusterkitError, match="backend must be one of"):
        EngineParams(backend="tpu")
    with pytest.raises(dataclasses.FrozenInstanceError):  # a run's parameters cannot change under it
        EngineParams().n_neighbors = 3  # type: ignore[misc]


def test_a_model_and_backend_that_do_not_go_together_are_refused_before_the_ingest(tmp_path):
    sim = simulate(tmp_path / "sim", size="tiny", seed=3)
    with Store(tmp_path / "c.duckdb") as store:
        with pytest.raises(ClusterkitError, match="numpy only"):
            analyse(store, sim.requests_path, engine=EngineParams(model="multilingual", backend="onnx"))
        assert store.sql("SELECT count(*) AS n FROM requests")["n"][0] == 0


def test_analyse_runs_every_step_once_then_reuses_them(tmp_path):
    sim = simulate(tmp_path / "sim", size="tiny", seed=3)
    steps: list[str] = []
    hooks = Hooks(step=lambda name, _result: steps.append(name))
    with Store(tmp_path / "c.duckdb") as store:
        first = analyse(store, sim.requests_path, report=tmp_path / "r.html", hooks=hooks)
        assert steps == ["ingest", "engine", "score", "report"]
        assert first.ingest.ingested > 0 and not first.engine.reused and not first.scored.reused
        assert first.scored.cluster_run_id == first.engine.run_id
        assert first.report is not None and "campaign-table" in first.report.read_text(encoding="utf-8")
        # the same log again: its rows are duplicates, the map and the scores are the stored ones
        again = analyse(store, sim.requests_path)
        assert again.ingest.ingested == 0 and again.ingest.duplicates == first.ingest.read - first.ingest.quarantined
        assert again.engine.reused and again.engine.run_id == first.engine.run_id
        assert again.scored.reused and again.scored.run_id == first.scored.run_id and again.report is None
        # no logs: the later steps on what the store holds; other parameters make a new run
        other = analyse(store, None, engine=EngineParams(min_cluster_size=30))
        assert other.ingest is None and not other.engine.reused and other.engine.run_id != first.engine.run_id
        assert other.scored.cluster_run_id == other.engine.run_id
