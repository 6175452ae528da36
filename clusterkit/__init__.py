"""clusterkit: find distillation campaigns in LLM API request logs.

Public API (imported lazily, so ``import clusterkit`` stays fast)::

    from clusterkit import Store, ingest, simulate
    with Store("data/clusterkit.duckdb") as store:
        report = ingest(store, "logs/*.jsonl.gz", text="request", account="account.id")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Store": "store",
    "StoreInfo": "store",
    "DEFAULT_DB": "store",
    "ingest": "ingest",
    "IngestReport": "ingest",
    "FieldMap": "mapping",
    "simulate": "simulate",
    "Simulation": "simulate",
    "extract_prompt": "chat",
    "ClusterkitError": "errors",
    "InputError": "errors",
    "MappingError": "errors",
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
