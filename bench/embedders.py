"""The bundled embedders side by side: speed and what each can see, in one run.

    python bench/embedders.py [--corpora DIR] [--twins 1000] [--models default,multilingual,static]

For each model (clusterkit's own embedder for it, as ``--model`` picks it; default backends):
  * texts/s on a mixed set: the Chinese prompts of the twins below, their English originals and as
    many Russian WildChat prompts (encoded twice, the second timed; the static table is built
    before timing and its one-off build time reported);
  * zh -> en: for each Chinese Alpaca translation with ``alignment`` = ``verified``, whether its
    English original is the nearest of the English prompts (top-1), and the mean cosine of twins
    against random pairs;
  * NMI of k-means (k = 12) on 3,000 CQADupStack titles against their 12 forums (how well the
    space separates topics, in English).
Prints a table and each model's speed ratio to the default model's.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DEFAULT_CORPORA


def _rows(corpora: Path, name: str) -> list[dict]:
    with gzip.open(corpora / f"{name}.jsonl.gz", "rb") as fh:
        return [orjson.loads(line) for line in fh]


def _data(corpora: Path, n_twins: int) -> tuple[list[str], list[str], list[str], list[str], np.ndarray]:
    zh = [r for r in _rows(corpora, "alpaca_zh_translated") if r.get("alignment") == "verified"][:n_twins]
    en = _rows(corpora, "alpaca_52k")
    english = [en[r["alpaca_index"]]["text"] for r in zh]
    russian = [r["text"] for r in _rows(corpora, "wildchat_hard_ru")][:n_twins]
    forums = [
        r for r in _rows(corpora, "beir_community_questions") if str(r.get("subset", "")).startswith("cqadupstack")
    ]
    names = sorted({r["subset"] for r in forums})
    rng = np.random.default_rng(0)
    picked = [r for name in names for r in rng.permutation([x for x in forums if x["subset"] == name])[:250]]
    titles = [r["text"] for r in picked]
    labels = np.asarray([names.index(r["subset"]) for r in picked])
    return [r["text"] for r in zh], english, russian, titles, labels


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def main(argv: list[str] | None = None) -> int:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    from clusterkit.embed import get_embedder

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--twins", type=int, default=1000)
    ap.add_argument("--models", default="default,multilingual,static")
    args = ap.parse_args(argv)
    if not (args.corpora / "alpaca_zh_translated.jsonl.gz").exists():
        print(f"no corpora in {args.corpora}; pass --corpora DIR", file=sys.stderr)
        return 2
    zh, en, ru, titles, forums = _data(args.corpora, args.twins)
    mixed = zh + en + ru
    rows = []
    for name in args.models.split(","):
        emb = get_embedder(None, None if name == "default" else name)
        t0 = time.perf_counter()
        emb.encode(mixed[:64])  # loads the model (builds the static table on first use)
        load = time.perf_counter() - t0
        emb.encode(mixed)
        t0 = time.perf_counter()
        vectors = _unit(np.asarray(emb.encode(mixed), dtype=np.float64))
        speed = len(mixed) / (time.perf_counter() - t0)
        a, b = vectors[: len(zh)], vectors[len(zh) : 2 * len(zh)]
        sims = a @ b.T
        top1 = float((sims.argmax(axis=1) == np.arange(len(zh))).mean())
        off = ~np.eye(len(zh), dtype=bool)
        title_vectors = _unit(np.asarray(emb.encode(titles), dtype=np.float64))
        found = KMeans(12, n_init=4, random_state=0).fit_predict(title_vectors)
        nmi = float(normalized_mutual_info_score(forums, found))
        rows.append((emb.model_id, speed, top1, float(np.diag(sims).mean()), float(sims[off].mean()), nmi, load))
        print(
            f"{emb.model_id}: {speed:.0f} texts/s, zh->en top-1 {top1:.1%}, NMI {nmi:.3f} (load {load:.1f} s)",
            flush=True,
        )
    base = rows[0][1]
    print(
        f"\n{len(mixed)} mixed zh/en/ru prompts; {len(zh)} verified twins; {len(titles)} CQADupStack titles, 12 forums\n"
    )
    print("| model | texts/s | vs first | zh->en top-1 | twin / random cosine | NMI | load (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model_id, speed, top1, twin, rand, nmi, load in rows:
        print(
            f"| {model_id} | {speed:.0f} | {speed / base:.2f}x | {top1:.1%} | {twin:.2f} / {rand:.2f} | {nmi:.3f} | {load:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
