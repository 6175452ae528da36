"""How the clustering stage grows: HDBSCAN on all points against clusterkit's fit-on-a-sample
(above 150k points: HDBSCAN fitted on 100k, the rest placed by ``approximate_predict``).

    python bench/cluster_growth.py --db STORE [--sizes 100000,300000,1000000] [--full-max 300000]

The points are the 5-D UMAP coordinates of the latest cluster run in ``STORE`` (for instance the
million-request run's store): sizes up to the store's are random subsets; larger sizes are drawn
with replacement and jittered by 2% of each axis's spread, so density grows as it does when a log
grows. Both sides run in this process, one after the other, on the same points; prints seconds per
size, the growth exponent (log-log slope) between consecutive sizes and the agreement (ARI) of the
two labelings where both ran.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _growth import slope


def points(coords: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if n <= len(coords):
        return coords[np.sort(rng.choice(len(coords), size=n, replace=False))]
    base = coords[rng.choice(len(coords), size=n, replace=True)]
    return (base + rng.normal(0.0, 0.02, size=base.shape) * coords.std(axis=0)).astype(np.float32)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a store with a cluster run")
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--full-max", type=int, default=300_000, help="largest size HDBSCAN runs on all points")
    args = ap.parse_args()

    from sklearn.metrics import adjusted_rand_score

    from clusterkit.cluster import FIT_SAMPLE, FIT_THRESHOLD, cluster
    from clusterkit.store import Store

    with Store(args.db, read_only=True) as store:
        _, coords = store.coords(store.latest_run("cluster"))
    rng = np.random.default_rng(0)
    cluster(coords[:2000])  # imports and first calls out of the timings
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        X = points(coords, n, rng)
        sampled, t_sampled = timed(cluster, X)
        full, t_full = (None, None)
        if n <= args.full_max:
            full, t_full = timed(cluster, X, fit_threshold=10**12)
        ari = both = None
        if full is not None and sampled.fitted_on:
            ari = adjusted_rand_score(full.labels, sampled.labels)
            clustered = (full.labels >= 0) & (sampled.labels >= 0)
            both = adjusted_rand_score(full.labels[clustered], sampled.labels[clustered])
        rows.append((n, t_full, t_sampled))
        print(
            f"{n:>9,}: all points {'-' if t_full is None else f'{t_full:.1f} s':>8}, "
            f"clusterkit {t_sampled:.1f} s ({'fit on ' + format(sampled.fitted_on, ',') if sampled.fitted_on else 'all'}), "
            f"{sampled.n_clusters} clusters, noise {sampled.noise_share:.0%}"
            + (f", ARI vs all points {ari:.3f} ({both:.3f} where both cluster)" if ari is not None else ""),
            flush=True,
        )

    print(f"\nthreshold {FIT_THRESHOLD:,}, sample {FIT_SAMPLE:,}")
    print(f"{'from':>9} {'to':>9} {'slope all points':>17} {'slope clusterkit':>17}")
    for (a, fa, sa), (b, fb, sb) in itertools.pairwise(rows):
        print(f"{a:>9,} {b:>9,} {slope((a, b), (fa, fb)):>17.2f} {slope((a, b), (sa, sb)):>17.2f}")


if __name__ == "__main__":
    main()
