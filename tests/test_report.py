"""The HTML report: built from a real scored store, opened in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import XSS_ACCOUNT, XSS_PROMPTS

from clusterkit.cli import main
from clusterkit.report import build_report
from clusterkit.store import Store

CHROMIUM = os.environ.get("CLUSTERKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_skip():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CLUSTERKIT_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found (set CLUSTERKIT_CHROMIUM or apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def report_path(scored_sim):
    db, _, _ = scored_sim
    path = db.parent / "report.html"
    assert path.exists(), "`clusterkit run --report` wrote no report"
    return path


@pytest.fixture(scope="module")
def expected(scored_sim):
    db, _, _ = scored_sim
    with Store(db, read_only=True) as store:
        score_run = store.latest_run("score")
        cluster_run = store.run(score_run)["parent_run_id"]
        campaigns = store.campaigns(score_run)
        flagged = campaigns[campaigns["flagged"]].reset_index(drop=True)
        points = store.report_points(cluster_run, score_run, 50_000)
    return {"campaigns": flagged, "n_points": len(points)}


@pytest.mark.slow
def test_report_is_self_contained_and_escaped(report_path):
    page = report_path.read_text(encoding="utf-8")
    assert page.count("<script>") == 2  # plotly.js once, the page's own script once
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    start = page.index("<script>")
    ours = page[:start] + page[page.index("</script>", start) :]  # all but the plotly.js bundle
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours), "an external resource is referenced"
    for raw in (XSS_ACCOUNT, *XSS_PROMPTS):
        assert raw not in page
    assert "&lt;img src=x onerror=&quot;window.__xss=1;alert(1)&quot;&gt;" in page  # the account id, as text
    # templates mined from the data, shown in the campaign sections
    assert "you are an expert evaluator. grade the" in page and "showing every intermediate thought." in page


@pytest.mark.slow
def test_report_in_headless_chromium(report_path, expected):
    sync_api = _browser_or_skip()
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request to {r.url}"))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(report_path.as_uri())
            page.wait_for_function("window.clusterkitReady === true", timeout=30_000)

            # campaign table: one row per flagged campaign, ranked
            rows = page.locator("#campaign-table tbody tr")
            assert rows.count() == len(expected["campaigns"]) >= 5
            assert rows.first.get_attribute("data-campaign") == expected["campaigns"]["campaign_id"][0]

            # the cluster map holds every point of the run
            n_points = page.evaluate(
                "document.getElementById('cluster-map')._fullData.reduce((s, t) => s + t.x.length, 0)"
            )
            assert n_points == expected["n_points"]

            # opening a campaign draws its map, timeline (one line per account), heatmap and graph
            first = expected["campaigns"].iloc[0]
            rows.first.locator("a.open").click()
            cid = first["campaign_id"]
            page.wait_for_function(f"document.getElementById('timeline-{cid}')._fullData !== undefined")
            lines = page.evaluate(f"document.getElementById('timeline-{cid}')._fullData.length")
            assert lines == first["n_accounts"]
            for kind in ("map", "heatmap", "graph"):
                assert page.evaluate(f"document.getElementById('{kind}-{cid}')._fullData.length") >= 1

            # hovering a point shows its prompt: zoom onto one planted prompt, move the mouse there
            target = page.evaluate(
                """() => {
                  const gd = document.getElementById('cluster-map');
                  for (let i = 0; i < gd._fullData.length; i++) {
                    const t = gd._fullData[i];
                    for (let j = 0; j < t.customdata.length; j++) {
                      if (t.customdata[j][0].includes('window.__xss=2')) return [i, j, t.x[j], t.y[j]];
                    }
                  }
                  return null;
                }"""
            )
            assert target is not None, "the planted prompt is not on the map"
            _, _, x, y = target
            page.evaluate(
                f"Plotly.relayout('cluster-map', {{'xaxis.range': [{x} - 1e-4, {x} + 1e-4], "
                f"'yaxis.range': [{y} - 1e-4, {y} + 1e-4]}})"
            )
            page.locator("#cluster-map").scroll_into_view_if_needed()
            px, py = page.evaluate(
                f"""() => {{
                  const gd = document.getElementById('cluster-map'), fl = gd._fullLayout;
                  const box = gd.getBoundingClientRect();
                  return [box.left + fl.xaxis._offset + fl.xaxis.l2p({x}), box.top + fl.yaxis._offset + fl.yaxis.l2p({y})];
                }}"""
            )
            page.mouse.move(px - 3, py - 3)
            page.mouse.move(px, py)
            label = page.locator("#cluster-map .hovertext")
            label.first.wait_for(timeout=5_000)
            assert "<script>window.__xss=2;alert(1)</script> Write a function" in label.first.text_content()

            # attacker strings are shown as text and run nothing
            assert page.locator("p.accounts", has_text=XSS_ACCOUNT).count() >= 1
            assert page.evaluate("window.__xss") is None
            assert dialogs == []
            assert errors == [], errors
        finally:
            browser.close()


@pytest.mark.slow
def test_pseudonymised_report_hides_account_ids(scored_sim, tmp_path):
    db, _, truth = scored_sim
    out = tmp_path / "shared.html"
    assert main(["report", "--db", str(db), "--out", str(out), "--pseudonymise"]) == 0
    page = out.read_text(encoding="utf-8")
    flagged = truth[truth["label"] == "campaign"]["account_id"]
    assert not any(a in page for a in flagged if a != XSS_ACCOUNT)
    assert "account-0001" in page
    assert "onerror=&quot;window.__xss=1" not in page and 'onerror="window.__xss=1' not in page


@pytest.mark.slow
def test_report_object_in_python_and_notebooks(scored_sim):
    db, _, _ = scored_sim
    with Store(db, read_only=True) as store:
        report = build_report(store)
    assert report.overview["campaigns"] == len(report.campaigns) >= 5
    assert report.overview["map_points"] == report.overview["map_points_total"]
    frame = report._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in frame
    assert "<script>" not in frame  # the page is an escaped attribute of the frame


def test_report_needs_a_run(tmp_path, capsys):
    with Store(tmp_path / "empty.duckdb"):
        pass
    assert main(["report", "--db", str(tmp_path / "empty.duckdb"), "--out", str(tmp_path / "r.html")]) == 2
    assert "no cluster run yet" in capsys.readouterr().err


def test_chromium_is_where_the_tests_expect_it():
    """`make test` installs chromium; the browser test must not silently skip in CI."""
    if os.environ.get("CLUSTERKIT_REQUIRE_BROWSER"):
        assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists()


@pytest.mark.slow
def test_large_maps_keep_flagged_points_and_sample_the_rest(scored_sim):
    db, _, _ = scored_sim
    with Store(db, read_only=True) as store:
        score_run = store.latest_run("score")
        cluster_run = store.run(score_run)["parent_run_id"]
        every = store.report_points(cluster_run, score_run, 10**9)
        few = store.report_points(cluster_run, score_run, 200, flag_budget=10**9)
        again = store.report_points(cluster_run, score_run, 200, flag_budget=10**9)
        capped = store.report_points(cluster_run, score_run, 200, flag_budget=50)
        report = build_report(store, max_points=200)
    n_flagged = int(every["flagged"].sum())
    assert 0 < n_flagged < len(every) - 200
    assert int(few["flagged"].sum()) == n_flagged and int((~few["flagged"]).sum()) == 200
    assert few["prompt_hash"].tolist() == again["prompt_hash"].tolist()  # deterministic sample
    assert int(capped["flagged"].sum()) == 50
    # the report keeps flagged points up to the budget, and as many others
    assert report.overview["map_points"] == min(n_flagged, 200) + 200
    assert report.overview["map_points_total"] == len(every)
    assert "others sampled" in report.figures["cluster-map"].layout.title.text


def test_report_of_a_run_that_is_not_clustered(tmp_path, capsys):
    from conftest import nested, write_jsonl

    log = write_jsonl(tmp_path / "l.jsonl", [nested(i, "a1", f"prompt {i}") for i in range(3)])
    db = str(tmp_path / "s.duckdb")
    assert main(["ingest", str(log), "--db", db]) == 0
    assert main(["report", "--db", db, "--run", "1", "--out", str(tmp_path / "r.html")]) == 2
    assert "run 1 is an ingest run; a report needs a cluster or score run" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
