"""Confirm the GPU path (torch on CUDA + cuML UMAP/HDBSCAN) and the CPU path give comparable
clusters and campaigns on the same simulated log. Run by bench/gpu_check.sh on a GPU machine.

Prints per path: wall time per stage, clusters, noise share, flagged accounts and campaigns, then
the agreement: adjusted Rand index of the two clusterings (over prompts clustered by both) and of
the two campaign assignments, and each path's evaluation against the simulator's truth.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", default="small", help="simulated log size (default small, ~21k requests)")
    ap.add_argument("--corpora", default=None, help="prompt corpora folder (default: built-in prompts)")
    args = ap.parse_args()

    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from clusterkit import gpu
    from clusterkit.campaigns import score
    from clusterkit.evaluate import evaluate, load_truth
    from clusterkit.ingest import ingest
    from clusterkit.pipeline import EngineParams, run
    from clusterkit.simulate import simulate
    from clusterkit.store import Store

    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    print(f"CUDA visible to torch: {cuda}; cuML importable: {gpu.available()}")
    if not gpu.available():
        raise SystemExit("cuML is not importable: install RAPIDS cuML (see bench/gpu_check.sh)")

    work = Path(tempfile.mkdtemp(prefix="ck-gpu-"))
    sim = simulate(work / "sim", corpora=args.corpora, size=args.size, seed=1)
    truth = load_truth(sim.truth_path)
    results = {}
    for backend in ("openvino-int8", "cuml"):
        with Store(work / f"{backend}.duckdb") as store:
            ingest(store, sim.requests_path)
            t0 = time.perf_counter()
            res = run(store, EngineParams(backend=backend))
            sc = score(store)
            wall = time.perf_counter() - t0
            labels = store.labels(res.run_id)[["prompt_hash", "cluster"]]
            accounts = store.account_scores(sc.run_id)
            ev = evaluate(accounts, truth)
        results[backend] = (labels, accounts)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items())
        print(
            f"{backend:>14}: {wall:6.1f}s total ({stages}); {res.n_clusters} clusters, {res.noise_share:.0%} noise; "
            f"{sc.n_flagged} flagged, {sc.n_campaigns} campaigns; AP {ev.average_precision:.3f}, "
            f"recall@1% {ev.recall_at_1pct_fpr:.3f}, ARI vs truth {ev.ari:.3f}"
        )
    (cl, ca), (gl, ga) = results["openvino-int8"], results["cuml"]
    both = cl.merge(gl, on="prompt_hash", suffixes=("_cpu", "_gpu"))
    clustered = both[(both["cluster_cpu"] >= 0) & (both["cluster_gpu"] >= 0)]
    print(
        f"clusterings agree: ARI {adjusted_rand_score(clustered['cluster_cpu'], clustered['cluster_gpu']):.3f} "
        f"over {len(clustered):,} prompts clustered by both"
    )
    acc = ca.merge(ga, on="account_id", suffixes=("_cpu", "_gpu"))
    camp = acc[acc["flagged_cpu"] | acc["flagged_gpu"]].fillna({"campaign_id_cpu": "-", "campaign_id_gpu": "-"})
    flags = pd.crosstab(acc["flagged_cpu"], acc["flagged_gpu"])
    print(f"flagged accounts (rows CPU, columns GPU):\n{flags}")
    print(
        f"campaign assignments agree: ARI {adjusted_rand_score(camp['campaign_id_cpu'], camp['campaign_id_gpu']):.3f}"
    )


if __name__ == "__main__":
    main()
