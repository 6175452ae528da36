"""Ingest benchmark: rows/s and peak memory for a generated 1M-row nested JSONL log.

    python bench/ingest.py [--size large] [--keep DIR]

Runs, side by side in one process tree on the same file:
  * clusterkit ingest (parse, map, chat-body extraction, quarantine, de-duplication, commit)
  * a floor: DuckDB's own multi-threaded ``read_json`` loading the same file with no mapping
and prints rows/s, peak RSS of each (measured in a fresh subprocess) and their ratio.
Target (issue 2): >= 50k rows/s and < 2 GB peak RSS for clusterkit on a 2-vCPU machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# peak RSS of this process image: VmHWM is reset by exec, while getrusage's ru_maxrss carries the
# high-water mark of the forking parent (the bench itself, after simulating a 1M-row log) across exec
_PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

CLUSTERKIT = (
    _PEAK
    + """
import json, sys, time
from clusterkit.store import Store
from clusterkit.ingest import ingest
t = time.perf_counter()
with Store(sys.argv[2]) as store:
    r = ingest(store, sys.argv[1])
secs = time.perf_counter() - t
print(json.dumps({"rows": r.read, "ingested": r.ingested, "quarantined": r.quarantined, "seconds": secs,
                  "peak_mb": peak_mb()}))
"""
)

DUCKDB_FLOOR = (
    _PEAK
    + """
import json, sys, time
import duckdb
t = time.perf_counter()
con = duckdb.connect(sys.argv[2], config={"memory_limit": "2GB"})
con.execute("CREATE TABLE raw AS SELECT * FROM read_json(?, format='newline_delimited', ignore_errors=true)",
            [sys.argv[1]])
n = con.execute("SELECT count(*) FROM raw").fetchone()[0]
secs = time.perf_counter() - t
print(json.dumps({"rows": n, "seconds": secs,
                  "peak_mb": peak_mb()}))
"""
)


def _run(code: str, log: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", code, str(log), str(db)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="large", help="simulator size (large is ~1M rows)")
    ap.add_argument("--keep", help="folder to keep the generated log in (reused when present)")
    args = ap.parse_args()

    from clusterkit.simulate import simulate

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ck-bench-ingest-"))
    log = work / "requests.jsonl"
    if not log.exists():
        t = time.perf_counter()
        sim = simulate(work, size=args.size, seed=0)
        print(f"generated {sim.n_requests:,} requests in {time.perf_counter() - t:.1f}s -> {log}")
    size_mb = log.stat().st_size / 1e6
    ck = _run(CLUSTERKIT, log, work / "ck.duckdb")
    floor = _run(DUCKDB_FLOOR, log, work / "floor.duckdb")
    for db in ("ck.duckdb", "floor.duckdb"):
        (work / db).unlink(missing_ok=True)
    ck_rate = ck["rows"] / ck["seconds"]
    floor_rate = floor["rows"] / floor["seconds"]
    print(f"log: {ck['rows']:,} rows, {size_mb:,.0f} MB")
    print(f"{'':28}{'rows/s':>12}{'seconds':>10}{'peak RSS MB':>13}")
    print(f"{'clusterkit ingest':28}{ck_rate:>12,.0f}{ck['seconds']:>10.1f}{ck['peak_mb']:>13,.0f}")
    print(f"{'duckdb read_json (floor)':28}{floor_rate:>12,.0f}{floor['seconds']:>10.1f}{floor['peak_mb']:>13,.0f}")
    print(
        f"ratio clusterkit / floor: {ck_rate / floor_rate:.2f}x throughput, "
        f"{ck['peak_mb'] / floor['peak_mb']:.2f}x memory"
    )
    ok_rate, ok_mem = ck_rate >= 50_000, ck["peak_mb"] < 2048
    print(
        f"target >= 50k rows/s: {'met' if ok_rate else 'NOT met'}; target < 2 GB peak: {'met' if ok_mem else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
