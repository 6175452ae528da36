"""Report size and open time in headless Chromium, side by side with plotly's own HTML export of
the same map (plotly.js embedded, every point, no sampling) as the baseline.

    python bench/report.py --db STORE.duckdb            # a scored store (e.g. from `clusterkit run`)
    python bench/report.py --size medium --corpora ../shared/data/prompts   # builds one (~110k requests)

Prints file sizes, time to open (navigation until the page's figures are drawn) and the ratios.
Targets (issue 5): a 100k-prompt report under 25 MB that opens in under 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _open_seconds(path: Path, ready: str, repeats: int = 3) -> float:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_function(ready, timeout=120_000)
            times.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="a scored store; without it one is built from a simulated log")
    ap.add_argument("--size", default="medium", help="simulated log size when --db is not given")
    ap.add_argument("--corpora", default=None, help="prompt corpora for the simulated log")
    ap.add_argument("--out", default="bench/out", help="where the HTML files go")
    args = ap.parse_args()

    from clusterkit import figures
    from clusterkit.explore import demo_store, map_points
    from clusterkit.report import build_report
    from clusterkit.store import Store

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.db:
        store = Store(args.db, read_only=True)
    else:
        store = demo_store(Path(tempfile.mkdtemp(prefix="ck-report-")), corpora=args.corpora, size=args.size)
    with store:
        t0 = time.perf_counter()
        report = build_report(store)
        ours = report.save(out / "report.html")
        build_s = time.perf_counter() - t0
        points = map_points(store, max_points=10**9)  # every point: what a plain export would draw
        clusters = store.clusters(store.latest_run("cluster"))
    keywords = dict(zip(clusters["cluster"], clusters["keywords"]))
    baseline = out / "plain_plotly.html"
    figures.cluster_map(points, keywords).write_html(baseline, include_plotlyjs=True, full_html=True)

    ours_s = _open_seconds(ours, "window.clusterkitReady === true")
    base_s = _open_seconds(
        baseline, "document.querySelector('.plotly-graph-div') && document.querySelector('.main-svg')"
    )
    mb = ours.stat().st_size / 1e6
    base_mb = baseline.stat().st_size / 1e6
    print(f"prompts on the map: {report.overview['map_points']:,} of {report.overview['map_points_total']:,}")
    print(f"{'':24}{'size MB':>10}{'open s':>10}")
    print(
        f"{'clusterkit report':24}{mb:>10.1f}{ours_s:>10.2f}   (built in {build_s:.1f} s, {len(report.figures)} figures)"
    )
    print(f"{'plain plotly export':24}{base_mb:>10.1f}{base_s:>10.2f}   (the cluster map alone, every point)")
    print(f"ratio report / plain: size {mb / base_mb:.2f}x, open time {ours_s / base_s:.2f}x")
    print(f"targets: size < 25 MB: {'met' if mb < 25 else 'NOT met'}; open < 5 s: {'met' if ours_s < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
