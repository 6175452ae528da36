"""How campaign scoring grows with the log, with and without the cap on accounts per cell.

    python bench/score_growth.py --db STORE [--factors 1,3,10] [--caps 20,0]

``STORE`` is a scored store with a cluster run (``bench/scale.py`` keeps its 100k store under
``bench/out/``). For each factor f the store is copied and its log made f times larger: every
prompt gets f-1 copies (new hashes, the same cluster, 5-D coordinates jittered by 2% of each axis's
spread) sent by f-1 new sets of accounts, each request moved to a random time within the log's span,
so accounts, prompts and requests grow together while the clusters and time windows stay as they
are: the busiest case for scoring, whose pairs of accounts sharing a (cluster, window) cell grow
with the square of the accounts per cell. Then ``score`` runs in this process once per cap
(``DetectParams.cell_cap``; 0 = no cap) and prints its seconds (account signals in SQL, then
detection), the accounts per cell and the growth exponent (log-log slope) between factors.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb  # only to build the larger logs; scoring goes through clusterkit's Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _growth import slope

REPLICATE = """
CREATE TEMP TABLE copies AS SELECT range AS k FROM range(1, {f});
CREATE TEMP TABLE span AS SELECT epoch(min(ts)) AS lo, epoch(max(ts)) - epoch(min(ts)) + 1 AS width FROM requests;
CREATE TEMP TABLE spread AS SELECT stddev_pop(c) AS s FROM (SELECT unnest(coords) AS c FROM projections);
INSERT INTO prompts SELECT prompt_hash || '~' || k, text, n_chars, language, first_run_id FROM prompts, copies;
INSERT INTO cluster_labels SELECT run_id, prompt_hash || '~' || k, cluster, probability, -1 FROM cluster_labels, copies;
INSERT INTO projections
    SELECT run_id, prompt_hash || '~' || k, x, y, list_transform(coords, lambda c: c + 0.02 * s * (random() * 2 - 1))
    FROM projections, copies, spread;
INSERT INTO requests
    SELECT request_id || '~' || k, account_id || '~' || k,
           to_timestamp((SELECT lo FROM span) + random() * (SELECT width FROM span)),
           prompt_hash || '~' || k, model, org_id, ip, user_agent, system_hash, extra, source, line,
           row_hash || '~' || k, run_id
    FROM requests, copies;
"""


def build(src: Path, factor: int, work: Path) -> tuple[Path, int, int]:
    """A copy of ``src`` with its log ``factor`` times larger; its requests and accounts."""
    db = work / f"x{factor}.duckdb"
    shutil.copy(src, db)
    con = duckdb.connect(str(db))
    if factor > 1:
        con.execute("SELECT setseed(0.5)")
        con.execute(REPLICATE.format(f=factor))
    requests, accounts = con.execute("SELECT count(*), count(DISTINCT account_id) FROM requests").fetchone()
    con.close()
    return db, requests, accounts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, type=Path, help="a store with a cluster run")
    ap.add_argument("--factors", default="1,3,10")
    ap.add_argument("--caps", default="20,0", help="cell caps to compare; 0 = every pair sharing a cell")
    args = ap.parse_args()

    from clusterkit.campaigns import DetectParams, score
    from clusterkit.store import Store

    factors = [int(f) for f in args.factors.split(",")]
    caps = [int(c) for c in args.caps.split(",")]
    results: dict[int, list[tuple[int, float]]] = {c: [] for c in caps}
    with tempfile.TemporaryDirectory(dir=args.db.parent) as tmp:
        for factor in factors:
            db, requests, accounts = build(args.db, factor, Path(tmp))
            with Store(db) as store:
                if factor == factors[0]:
                    score(store, params=DetectParams(cell_cap=10**9 - 1))  # imports and first calls, untimed
                line = [f"x{factor:<3} {requests:>10,} requests {accounts:>8,} accounts"]
                for cap in caps:
                    params = DetectParams(cell_cap=cap or 10**9)
                    t0 = time.perf_counter()
                    result = score(store, params=params)
                    seconds = time.perf_counter() - t0
                    parts = store.run(result.run_id)["timings"]
                    results[cap].append((requests, seconds))
                    line.append(
                        f"cap {cap or 'none'}: {seconds:6.1f} s (signals {parts['signals']:.1f}, "
                        f"detect {parts['detect']:.1f}; {result.n_flagged} flagged)"
                    )
                print("  ".join(line), flush=True)
            db.unlink()

    print(f"\n{'from':>11} {'to':>11} " + " ".join(f"{'slope cap ' + str(c or 'none'):>15}" for c in caps))
    for i, j in itertools.pairwise(range(len(factors))):
        (a, _), (b, _) = results[caps[0]][i], results[caps[0]][j]
        slopes = [slope((a, b), (results[c][i][1], results[c][j][1])) for c in caps]
        print(f"{a:>11,} {b:>11,} " + " ".join(f"{s:>15.2f}" for s in slopes))


if __name__ == "__main__":
    sys.exit(main())
