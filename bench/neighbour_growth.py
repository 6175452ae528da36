"""How the neighbour graph grows above UMAP's fit threshold: by cells (clusterkit) against pynndescent.

    python bench/neighbour_growth.py --db STORE [--sizes 300000,1000000] [--nnd-max 300000]

The vectors are the embeddings of the latest cluster run's model in ``STORE`` (for instance the
million-distinct-prompt store); each size is a random subset. Both methods run in this process, one
after the other, on the same vectors (pynndescent only up to ``--nnd-max``; its first call in a
process compiles with numba, so a small warm-up call runs first). Prints seconds per size, the
growth exponent (log-log slope) between sizes, and how alike the near-duplicate groups (cosine >= 0.95)
of the two graphs are (ARI over the prompts either puts in a group).
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a store with a cluster run")
    ap.add_argument("--sizes", default="300000,1000000")
    ap.add_argument("--nnd-max", type=int, default=300_000, help="largest size pynndescent runs on")
    args = ap.parse_args()

    from pynndescent import NNDescent
    from sklearn.metrics import adjusted_rand_score

    from clusterkit.cluster import near_duplicate_groups
    from clusterkit.reduce import Neighbours, _cell_neighbours
    from clusterkit.store import Store

    with Store(args.db, read_only=True) as store:
        model = store.run(store.latest_run("cluster"))["params"]["model_id"]
        _, vectors = store.load_embeddings(model)
    rng = np.random.default_rng(0)

    def pynndescent(x: np.ndarray) -> Neighbours:
        index = NNDescent(x, n_neighbors=15, metric="cosine", random_state=42, low_memory=True, n_jobs=1)
        idx, dist = index.neighbor_graph
        return Neighbours(idx.astype(np.int64), dist.astype(np.float32))

    pynndescent(vectors[:2_000])  # numba compiles here, untimed
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        x = vectors[np.sort(rng.choice(len(vectors), size=min(n, len(vectors)), replace=False))]
        t0 = time.perf_counter()
        cells = _cell_neighbours(x, 15)
        t_cells = time.perf_counter() - t0
        t_nnd = ari = None
        if n <= args.nnd_max:
            t0 = time.perf_counter()
            nnd = pynndescent(x)
            t_nnd = time.perf_counter() - t0
            a, b = near_duplicate_groups(cells), near_duplicate_groups(nnd)
            either = (a >= 0) | (b >= 0)
            alone = -np.arange(1, len(a) + 1)  # a prompt in no group is a group of its own
            ari = adjusted_rand_score(np.where(a >= 0, a, alone)[either], np.where(b >= 0, b, alone)[either])
        rows.append((len(x), t_cells, t_nnd))
        print(
            f"{len(x):>10,}: by cells {t_cells:6.1f} s, pynndescent {'-' if t_nnd is None else f'{t_nnd:.1f} s':>8}"
            + ("" if ari is None else f", near-duplicate groups ARI {ari:.3f}"),
            flush=True,
        )

    print(f"\n{'from':>10} {'to':>10} {'slope by cells':>15} {'slope pynndescent':>18}")
    for (a, ca, na), (b, cb, nb) in itertools.pairwise(rows):
        print(f"{a:>10,} {b:>10,} {slope((a, b), (ca, cb)):>15.2f} {slope((a, b), (na, nb)):>18.2f}")


if __name__ == "__main__":
    main()
