"""The semantic engine on a store: embed -> neighbours -> reduce (N-D and 2-D) -> cluster ->
describe, recorded as one ``cluster`` run with its parameters, versions, timings and parent.

A run with the same parameters over the same prompts is not recomputed: ``run`` returns the
stored one (``reused=True``). Same inputs and parameters give the same labels.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from .cluster import FIT_SAMPLE, FIT_THRESHOLD, Clusterer, cluster, near_duplicate_groups
from .describe import class_tfidf_keywords, representatives
from .embed import Embedder, embed, get_embedder
from .errors import ClusterkitError
from .lineage import package_versions, source_digest
from .models import BACKENDS, DEFAULT_BACKEND
from .reduce import Reducer, nearest_neighbours, reduce
from .similarity import near_duplicate_cosine

__all__ = ["EngineParams", "RunResult", "run"]

StageFn = Callable[[str], None]
#: the embedding backends, and "cuml": the GPU path (see :mod:`clusterkit.gpu`)
ENGINE_BACKENDS = (*BACKENDS, "cuml")


@dataclass(frozen=True)
class EngineParams:
    """What decides a cluster run (every field is part of its reuse key, with the code's digest).

    ``model``: a sentence-transformers model id or path (None: the bundled default); ``backend``:
    how it runs (``clusterkit.models.BACKENDS``, or ``"cuml"`` for the GPU path);
    ``n_components``: dimensions clustered; ``n_neighbors``: UMAP's neighbourhood;
    ``min_cluster_size``/``min_samples``: HDBSCAN's (None: from the number of prompts);
    ``dup_threshold``: cosine at which prompts are near-duplicates (None: measured on the model,
    :func:`clusterkit.similarity.near_duplicate_cosine`); ``top_keywords`` per cluster."""

    model: str | None = None
    backend: str = DEFAULT_BACKEND
    n_components: int = 5
    n_neighbors: int = 15
    min_cluster_size: int | None = None
    min_samples: int | None = None
    dup_threshold: float | None = None
    random_state: int = 42
    top_keywords: int = 8

    def __post_init__(self) -> None:
        problems = []
        if self.backend not in ENGINE_BACKENDS:
            problems.append(f"backend must be one of {', '.join(ENGINE_BACKENDS)}, got {self.backend!r}")
        if self.n_components < 2:
            problems.append(f"n_components must be at least 2, got {self.n_components}")
        if self.n_neighbors < 2:
            problems.append(f"n_neighbors must be at least 2, got {self.n_neighbors}")
        if self.min_cluster_size is not None and self.min_cluster_size < 2:
            problems.append(f"min_cluster_size must be at least 2, got {self.min_cluster_size}")
        if self.min_samples is not None and self.min_samples < 1:
            problems.append(f"min_samples must be at least 1, got {self.min_samples}")
        if self.dup_threshold is not None and not 0 < self.dup_threshold <= 1:
            problems.append(f"dup_threshold must be in (0, 1], got {self.dup_threshold}")
        if self.top_keywords < 1:
            problems.append(f"top_keywords must be at least 1, got {self.top_keywords}")
        if problems:
            raise ClusterkitError("EngineParams: " + "; ".join(problems))


@dataclass(frozen=True)
class RunResult:
    """What ``run`` produced (or found already stored)."""

    run_id: int
    embed_run_id: int
    n_prompts: int
    n_clusters: int
    noise_share: float
    reused: bool
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _stage(timings: dict[str, float], key: str, say: StageFn, message: str) -> Iterator[None]:
    """Announce a stage and record its wall time under ``key``."""
    say(message)
    t0 = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - t0


def _fingerprint(model_id: str, hashes: list[str]) -> str:
    h = hashlib.blake2b(model_id.encode(), digest_size=16)
    for ph in hashes:
        h.update(ph.encode())
    return h.hexdigest()


def _name(obj: Any) -> str | None:
    return None if obj is None else f"{type(obj).__module__}.{type(obj).__qualname__}"


def run(
    store: Any,
    params: EngineParams | None = None,
    *,
    embedder: Embedder | None = None,
    reducer: Reducer | None = None,
    map_reducer: Reducer | None = None,
    clusterer: Clusterer | None = None,
    stage: StageFn | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Embed what is missing, then reduce, cluster and describe every prompt in ``store``, with
    ``params`` (default :class:`EngineParams`). The stages can be swapped (``embedder``,
    ``reducer``, ``map_reducer``, ``clusterer``); ``stage`` is told each stage's name and
    ``progress`` receives (done, total) within it.

    ``backend="cuml"`` is the GPU path: embeddings with PyTorch (on CUDA when present), UMAP and
    HDBSCAN from RAPIDS cuML (see :mod:`clusterkit.gpu`)."""
    p = params or EngineParams()
    say = stage or (lambda _: None)
    backend = p.backend
    if backend == "cuml":
        from . import gpu

        n = store.count_prompts()
        reducer = reducer or gpu.cuml_reducer(p.n_components, p.n_neighbors, 0.0, p.random_state)
        map_reducer = map_reducer or gpu.cuml_reducer(2, p.n_neighbors, 0.1, p.random_state)
        clusterer = clusterer or gpu.cuml_clusterer(n, p.min_cluster_size, p.min_samples)
        backend = "torch"
    say("embedding")
    t0 = time.perf_counter()
    emb = get_embedder(embedder, p.model, backend)
    embedded = embed(store, embedder=emb, progress=progress)
    timings = {"embed": time.perf_counter() - t0}

    t0 = time.perf_counter()
    hashes, vectors = store.load_embeddings(embedded.model_id)
    store.release_memory()  # the numeric stages below need the room more than DuckDB's cache
    if not hashes:
        raise ClusterkitError("the store holds no prompts; ingest a log first (`clusterkit ingest LOG`)")
    key = {
        "model_id": embedded.model_id,
        "n_components": p.n_components,
        "n_neighbors": p.n_neighbors,
        "min_cluster_size": p.min_cluster_size,
        "min_samples": p.min_samples,
        # (None: measured on the model by the code digested below, so the model id decides it)
        "dup_threshold": p.dup_threshold,
        "random_state": p.random_state,
        "top_keywords": p.top_keywords,
        "reducer": _name(reducer),
        "map_reducer": _name(map_reducer),
        "clusterer": _name(clusterer),
        "selection": "eom, max cluster size n/10",
        "cluster_fit": f"sample of {FIT_SAMPLE} above {FIT_THRESHOLD}, rest by approximate_predict",
        "inputs": _fingerprint(embedded.model_id, hashes),
        # the code that decides the result (fit thresholds, sample sizes, graph and cell constants,
        # stop words): change any and the stored run is not reused
        "code": source_digest(
            "clusterkit.pipeline",
            "clusterkit.reduce",
            "clusterkit.cluster",
            "clusterkit.describe",
            "clusterkit.words",
            "clusterkit.similarity",
        ),
        "n_prompts": len(hashes),
    }
    timings["load"] = time.perf_counter() - t0
    custom = any(x is not None for x in (reducer, map_reducer, clusterer))
    found = None if custom else store.find_run("cluster", key)
    if found is not None:
        stats = store.run(found)["stats"]
        return RunResult(found, embedded.run_id, len(hashes), stats["n_clusters"], stats["noise_share"], True, timings)
    dup_threshold = p.dup_threshold if p.dup_threshold is not None else near_duplicate_cosine(emb.encode)
    # the model is not kept past this point: its session and buffers would stay resident through the rest
    del emb

    versions = package_versions("umap-learn", "hdbscan", "pynndescent", "scikit-learn", "sentence-transformers")
    with store.recorded_run("cluster", key, parent_run_id=embedded.run_id, versions=versions) as record:
        run_id = record.run_id
        record.timings = timings
        with _stage(timings, "neighbours", say, "nearest neighbours"):
            neighbours = nearest_neighbours(
                vectors, k=max(p.n_neighbors, 10), random_state=p.random_state, progress=progress
            )
            groups = near_duplicate_groups(neighbours, dup_threshold)
        umap_args = {
            "n_neighbors": p.n_neighbors,
            "random_state": p.random_state,
            "neighbours": neighbours,
            "progress": progress,  # UMAP's epochs, then the rows outside its fitted sample
        }
        with _stage(timings, "reduce", say, f"reducing to {p.n_components}-D"):
            coords = reduce(vectors, n_components=p.n_components, reducer=reducer, **umap_args)
        with _stage(timings, "map", say, "reducing to 2-D for the map"):
            xy = reduce(vectors, n_components=2, min_dist=0.1, reducer=map_reducer, **umap_args)
        with _stage(timings, "cluster", say, "clustering"):
            result = cluster(
                coords,
                min_cluster_size=p.min_cluster_size,
                min_samples=p.min_samples,
                dup_groups=groups,
                clusterer=clusterer,
                random_state=p.random_state,
                progress=progress,  # the placement of rows outside HDBSCAN's fitted sample
            )
        with _stage(timings, "describe", say, "describing clusters"):
            texts = chain.from_iterable(store.iter_prompt_texts(hashes, with_context=True))
            keywords = class_tfidf_keywords(texts, result.labels, top_n=p.top_keywords, progress=progress)
            reps = {c: [hashes[i] for i in rows] for c, rows in representatives(vectors, result.labels).items()}
        with _stage(timings, "write", say, "writing the run"):
            store.write_semantic_run(
                run_id, hashes, coords, xy, result.labels, result.probabilities, result.dup_groups, keywords, reps
            )
        record.stats.update(
            {
                "n_prompts": len(hashes),
                "n_clusters": result.n_clusters,
                "noise_share": result.noise_share,
                "n_dup_groups": int(result.dup_groups.max() + 1) if len(result.dup_groups) else 0,
                "dup_threshold": dup_threshold,
                "min_cluster_size": result.min_cluster_size,
                "min_samples": result.min_samples,
                "cluster_fitted_on": result.fitted_on or len(hashes),
            }
        )
    return RunResult(run_id, embedded.run_id, len(hashes), result.n_clusters, result.noise_share, False, timings)
