"""The distributed engine for the dominant cost, embedding, on Ray Data.

The prompts still to embed are exported to Parquet (``export_dir``: a local folder by default;
on a cluster, a path every node can read, such as an NFS mount or object-store URI that
pyarrow understands), read by ``ray.data.read_parquet``, encoded by ``map_batches`` with one
model per worker (an actor pool), and streamed back to the driver, which writes them to the store
through the same cache and chunk commits as the local engine: an interrupted run resumes.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = ["RayOptions", "check_address", "ray_batches"]

#: prompts per exported Parquet file
FILE_ROWS = 50_000


@dataclass(frozen=True)
class RayOptions:
    """The options only the Ray engine reads (``embed(store, ray=RayOptions(...))``).

    ``address``: the Ray cluster (None: a local instance); ``export_dir``: the folder for the
    Parquet hand-off (shared storage on a cluster; None: a temporary local one); ``workers``:
    encoding actors, one model each (None: (CPUs - 1) / threads, at least 1)."""

    address: str | None = None
    export_dir: str | os.PathLike[str] | None = None
    workers: int | None = None


class _Encoder:
    """One model per Ray worker (constructed once per actor)."""

    def __init__(self, model: str | None, backend: str, batch_size: int, threads: int | None) -> None:
        from clusterkit.embed import get_embedder

        self.emb = get_embedder(None, model, backend, batch_size, threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        return {
            "prompt_hash": batch["prompt_hash"],
            "vector": self.emb.encode(texts),
            # a model without a token window (the multilingual one) sends -1 and 0
            "n_tokens": self.emb.token_lengths(texts)
            if hasattr(self.emb, "token_lengths")
            else np.full(len(texts), -1, dtype=np.int32),
            "max_tokens": np.full(len(texts), getattr(self.emb, "max_tokens", 0), dtype=np.int32),
        }


def _export(store: Any, missing: Sequence[str], folder: Path, timings: dict[str, float]) -> None:
    """Write the prompts to embed (hash, text) as Parquet files of ``FILE_ROWS`` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i, start in enumerate(range(0, len(missing), FILE_ROWS)):
        hashes = list(missing[start : start + FILE_ROWS])
        table = pa.table({"prompt_hash": hashes, "text": store.prompt_texts(hashes, with_context=True)})
        pq.write_table(table, folder / f"prompts-{i:05d}.parquet")
    timings["read"] += time.perf_counter() - t0


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a Ray address that is malformed or unreachable: Ray itself retries for
    minutes, printing connection warnings, before it gives up."""
    if address in ("auto", "local"):
        return
    target = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ModelError(f"--address {address!r}: expected HOST:PORT, ray://HOST:PORT or 'auto'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ModelError(
            f"cannot reach the Ray cluster at {address!r} ({exc}): is `ray start --head` running there, "
            "and is the port open from this machine?"
        ) from exc


def ray_batches(
    store: Any,
    missing: Sequence[str],
    *,
    model: str | None,
    backend: str,
    batch_size: int,
    chunk_size: int,
    threads: int | None,
    options: RayOptions,
    timings: dict[str, float],
) -> Iterator[tuple[list[str], np.ndarray, np.ndarray, int]]:
    """Yield (hashes, vectors, token counts, the model's token window) batches encoded on Ray; see
    the module docstring. The model is loaded by the workers only."""
    address, export_dir, workers = options.address, options.export_dir, options.workers
    try:
        import ray
    except ImportError as exc:
        raise ModelError("--engine ray needs Ray: pip install 'ray[data]' (or the project's dev extra)") from exc

    if address and not ray.is_initialized():
        check_address(address)
    own_dir = export_dir is None
    folder = Path(export_dir or tempfile.mkdtemp(prefix="clusterkit-ray-")) / f"embed-{os.getpid()}-{time.time_ns()}"
    started_here = not ray.is_initialized()
    try:
        _export(store, missing, folder, timings)
        if started_here:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:  # a local instance on this machine
                ray.init(
                    num_cpus=os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    object_store_memory=512 * 1024 * 1024,
                )
        # one CPU stays free for Ray Data's Parquet read and the driver: with every CPU held by an
        # encoding actor the read waits forever (a 2-core machine with 2 workers deadlocks)
        free_cpus = int(ray.cluster_resources().get("CPU", 1)) - 1
        n_workers = workers or max(1, free_cpus // max(threads or 1, 1))
        ds = ray.data.read_parquet(str(folder)).map_batches(
            _Encoder,
            fn_constructor_kwargs={"model": model, "backend": backend, "batch_size": batch_size, "threads": threads},
            batch_size=chunk_size,
            batch_format="numpy",
            concurrency=n_workers,
            num_cpus=threads or 1,
        )
        t0 = time.perf_counter()
        for batch in ds.iter_batches(batch_size=chunk_size, batch_format="numpy"):
            timings["encode"] += time.perf_counter() - t0
            hashes = [str(h) for h in batch["prompt_hash"]]
            n_tokens = None if (np.asarray(batch["n_tokens"]) < 0).all() else batch["n_tokens"]
            yield hashes, np.asarray(batch["vector"], np.float32), n_tokens, int(batch["max_tokens"][0]) or None
            t0 = time.perf_counter()
    finally:
        if started_here and ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
        if own_dir:
            shutil.rmtree(folder.parent, ignore_errors=True)
