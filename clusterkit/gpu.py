"""The GPU path: RAPIDS cuML's UMAP and HDBSCAN in place of umap-learn and hdbscan, when cuML is
importable (``--backend cuml``). The CPU path is unchanged; embeddings use sentence-transformers'
PyTorch backend, which runs on CUDA when a GPU is visible. ``bench/gpu_check.sh`` compares both."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ModelError

__all__ = ["available", "cuml_clusterer", "cuml_reducer"]


def available() -> bool:
    try:
        import cuml  # noqa: F401
    except Exception:
        return False
    return True


def _require() -> Any:
    import importlib.util

    if importlib.util.find_spec("cuml") is None:
        raise ModelError(
            "--backend cuml needs RAPIDS cuML and a CUDA GPU (e.g. pip install --extra-index-url "
            "https://pypi.nvidia.com cuml-cu12); without them use the CPU path (the default)"
        )
    try:
        import cuml
    except Exception as exc:  # installed, but it cannot load (no GPU, CUDA driver or library mismatch)
        raise ModelError(
            f"--backend cuml: cuML is installed but fails to import ({type(exc).__name__}: {str(exc)[:300]}); "
            "check the CUDA driver and that cuML matches it, or use the CPU path (the default)"
        ) from exc
    return cuml


class _Numpy:
    """Wrap a cuML estimator so results come back as NumPy arrays."""

    def __init__(self, est: Any) -> None:
        self.est = est

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.est.fit_transform(X), dtype=np.float32)

    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        labels = np.asarray(self.est.fit_predict(X), dtype=np.int64)
        self.probabilities_ = np.asarray(getattr(self.est, "probabilities_", np.ones(len(labels))), dtype=np.float32)
        return labels


def cuml_reducer(n_components: int, n_neighbors: int = 15, min_dist: float = 0.0, random_state: int = 42) -> Any:
    cuml = _require()
    return _Numpy(
        cuml.manifold.UMAP(
            n_components=n_components,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            metric="cosine",
            random_state=random_state,
            output_type="numpy",
        )
    )


def cuml_clusterer(n: int, min_cluster_size: int | None = None, min_samples: int | None = None) -> Any:
    from .cluster import default_min_cluster_size, max_cluster_size

    cuml = _require()
    mcs = int(min_cluster_size or default_min_cluster_size(n))
    return _Numpy(
        cuml.cluster.hdbscan.HDBSCAN(
            min_cluster_size=mcs,
            min_samples=int(min_samples or max(2, min(mcs, 5))),
            cluster_selection_method="eom",
            max_cluster_size=max_cluster_size(n, mcs),
            output_type="numpy",
        )
    )
