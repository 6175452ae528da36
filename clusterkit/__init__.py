"""clusterkit: find distillation campaigns in LLM API request logs.

Public API (imported lazily, so ``import clusterkit`` stays fast). Stage functions that share
their module's name (``ingest``, ``simulate``, ``embed``, ``reduce``, ``cluster``) are imported
from that module, so that ``clusterkit.ingest`` is always the module::

    from clusterkit import EngineParams, Store, analyse, run
    from clusterkit.ingest import ingest     # functions named like their module live there
    with Store("data/clusterkit.duckdb") as store:
        done = analyse(store, "logs/")           # the whole chain: ingest -> map -> clusters -> campaigns
        report = ingest(store, "logs/*.jsonl.gz", text="request", account="account.id")
        result = run(store, EngineParams(min_cluster_size=20))  # embed -> reduce -> cluster -> describe
        clusters = store.clusters(result.run_id)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Store": "store",
    "StoreInfo": "store",
    "DEFAULT_DB": "store",
    "IngestReport": "ingest",
    "FieldMap": "mapping",
    "Simulation": "simulate",
    "extract_prompt": "chat",
    "embed_texts": "embed",
    "SentenceEmbedder": "embed",
    "EmbedReport": "embed",
    "run": "pipeline",
    "EngineParams": "pipeline",
    "RunResult": "pipeline",
    "analyse": "chain",
    "ChainResult": "chain",
    "ClusterkitError": "errors",
    "InputError": "errors",
    "MappingError": "errors",
    "ModelError": "errors",
    "StoreError": "errors",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clusterkit' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
