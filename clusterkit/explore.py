"""Helpers for exploring a store from notebooks and scripts: a ready demo store, map points with
selections pulled back into DataFrames, nearest neighbours of any prompt."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ClusterkitError

__all__ = ["demo_store", "map_points", "nearest_prompts", "select_box"]


def demo_store(folder: str | os.PathLike[str], *, corpora: str | None = None, size: str = "tiny", seed: int = 0) -> Any:
    """A store at ``folder/clusterkit.duckdb`` holding a simulated log, mapped, clustered and
    scored (each step reused when already done). Returns the store open **read-only**, so the CLI
    and other notebooks can read it while this one holds it (DuckDB allows one writer per file)."""
    from .chain import analyse
    from .simulate import simulate
    from .store import Store

    folder = Path(folder)
    log = folder / "sim" / "requests.jsonl"
    if not log.exists():
        simulate(folder / "sim", corpora=corpora, size=size, seed=seed)
    path = folder / "clusterkit.duckdb"
    with Store(path) as store:
        # a store already holding the log is not read again
        analyse(store, None if store.info().requests else log)
    return Store(path, read_only=True)


def map_points(store: Any, *, max_points: int = 50_000) -> pd.DataFrame:
    """Points of the latest scored map: x, y, cluster, snippet, first account, first seen, flagged."""
    cluster_run, score_run = store.resolve_scored()
    return store.report_points(cluster_run, score_run, max_points)


def select_box(points: pd.DataFrame, x: tuple[float, float], y: tuple[float, float]) -> pd.DataFrame:
    """The points inside a rectangle of the map (a box selection, as a DataFrame)."""
    inside = points["x"].between(min(x), max(x)) & points["y"].between(min(y), max(y))
    return points[inside].reset_index(drop=True)


def nearest_prompts(store: Any, query: str, *, k: int = 10, model_id: str | None = None) -> pd.DataFrame:
    """The ``k`` stored prompts closest in meaning to ``query`` (cosine), with their text and how
    many requests and accounts sent each. Embeds ``query`` with the model of the stored vectors."""
    from .embed import embed_texts, embedder_for

    cluster_run = store.latest_run("cluster")
    model_id = model_id or (store.run(cluster_run)["params"]["model_id"] if cluster_run else None)
    if model_id is None:
        raise ClusterkitError("no embeddings yet: run `clusterkit cluster` first")
    hashes, vectors = store.load_embeddings(model_id)
    q = embed_texts([query], embedder=embedder_for(model_id))[0]
    sims = vectors @ q / np.maximum(np.linalg.norm(vectors, axis=1) * np.linalg.norm(q), 1e-12)
    top = np.argsort(-sims)[:k]
    chosen = [hashes[i] for i in top]
    stats = store.sql(
        "SELECT prompt_hash, count(*) AS n_requests, count(DISTINCT account_id) AS n_accounts FROM requests "
        "WHERE list_contains(?, prompt_hash) GROUP BY 1",
        [chosen],
    ).set_index("prompt_hash")
    return pd.DataFrame(
        {
            "prompt_hash": chosen,
            "similarity": sims[top].round(4),
            "text": store.prompt_texts(chosen),
            "n_requests": [int(stats["n_requests"].get(h, 0)) for h in chosen],
            "n_accounts": [int(stats["n_accounts"].get(h, 0)) for h in chosen],
        }
    )
