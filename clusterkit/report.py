"""Self-contained interactive HTML report of a score run (or a cluster run before scoring).

``build_report(store)`` gathers what an analyst looks at — overview, ranked campaigns, each
campaign's map, timeline, account x cluster heatmap, account graph, examples, templates and
reasons, and a cluster explorer — into a :class:`Report`; ``Report.save(path)`` writes one HTML
file with plotly.js embedded once, no external requests (a Content-Security-Policy forbids them)
and every data string escaped. ``Report`` also renders inline in Jupyter.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from . import figures
from .campaigns.signals import campaign_templates
from .textnorm import visible

__all__ = ["Report", "build_report"]

#: above this many map points the background is sampled (every flagged point is kept)
MAX_POINTS = 50_000
#: most prompts drawn per campaign on its map, and grey context points behind them
MAX_CAMPAIGN_POINTS = 3_000
MAX_CONTEXT_POINTS = 8_000


def _e(value: Any) -> str:
    return html.escape(visible("" if value is None else str(value)), quote=True)


def _when(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _json_for_script(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survive unescaped."""
    text = obj if isinstance(obj, str) else orjson.dumps(obj).decode()
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


@dataclass
class Report:
    """An assembled report: HTML fragments (already escaped) plus plotly figures by element id."""

    title: str
    overview: dict[str, Any]
    campaigns: pd.DataFrame
    clusters: pd.DataFrame
    body: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    #: figure ids drawn when the page opens; the others when their section is opened
    eager: list[str] = field(default_factory=list)

    def html(self) -> str:
        """The whole page as one string."""
        from plotly.offline import get_plotlyjs

        figs = "\n".join(
            f'<script type="application/json" id="data-{_e(fid)}">{_json_for_script(fig.to_json())}</script>'
            for fid, fig in self.figures.items()
        )
        return _PAGE.format(
            title=_e(self.title),
            css=_CSS,
            plotly=get_plotlyjs(),
            body="\n".join(self.body),
            figs=figs,
            eager=_json_for_script(self.eager),
            js=_JS,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (folders created); returns the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.html(), encoding="utf-8")
        return out

    def _repr_html_(self) -> str:
        # an isolated frame: the page's scripts and styles cannot touch the notebook
        return (
            f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
            'style="width:100%;height:900px;border:1px solid #ddd" sandbox="allow-scripts"></iframe>'
        )


def _aliases(accounts: pd.DataFrame) -> dict[str, str]:
    """Pseudonyms for sharing: account-0001... in the report's own ranking order."""
    return {a: f"account-{i + 1:04d}" for i, a in enumerate(accounts["account_id"])}


def build_report(
    store: Any,
    *,
    run_id: int | None = None,
    pseudonymise: bool = False,
    max_points: int = MAX_POINTS,
    title: str | None = None,
) -> Report:
    """Assemble the report of a score run (default: the latest) from ``store``."""
    cluster_run, score_run = store.resolve_scored(run_id)
    info = store.info()
    cstats = store.run(cluster_run)["stats"]
    clusters = store.clusters(cluster_run)
    keywords = {int(c): list(k) for c, k in zip(clusters["cluster"], clusters["keywords"])}
    points = store.report_points(cluster_run, score_run, max_points)
    accounts = store.account_scores(score_run) if score_run else pd.DataFrame(columns=["account_id", "flagged"])
    campaigns = store.campaigns(score_run) if score_run else pd.DataFrame()
    flagged_camps = campaigns[campaigns["flagged"]].reset_index(drop=True) if len(campaigns) else campaigns
    members = accounts.loc[accounts["campaign_id"].notna(), ["campaign_id", "account_id"]] if score_run else None

    alias = _aliases(accounts) if pseudonymise else {}

    def name(account: Any) -> str:
        return alias.get(account, "account-?" if pseudonymise else account)

    if pseudonymise:
        points["account_id"] = points["account_id"].map(name)

    n_prompts_total = int(cstats.get("n_prompts", len(points)))
    report = Report(
        title=title
        or f"clusterkit report — {'score run ' + str(score_run) if score_run else 'cluster run ' + str(cluster_run)}",
        overview={
            "requests": info.requests,
            "accounts": info.accounts,
            "prompts": info.prompts,
            "first_seen": info.first_ts,
            "last_seen": info.last_ts,
            "clusters": cstats.get("n_clusters"),
            "noise_share": cstats.get("noise_share"),
            "flagged_accounts": int(accounts["flagged"].sum()) if len(accounts) else 0,
            "campaigns": len(flagged_camps),
            "map_points": len(points),
            "map_points_total": n_prompts_total,
        },
        campaigns=flagged_camps,
        clusters=clusters,
    )
    report.body.append(_overview_html(report.title, report.overview, cluster_run, score_run, pseudonymise))
    report.body.append(_campaign_table_html(flagged_camps, score_run))
    if len(flagged_camps):
        span = (info.last_ts - info.first_ts).total_seconds() if info.first_ts and info.last_ts else 3600
        bucket = int(max(600, min(86400, span / 150)))
        wanted = members[members["campaign_id"].isin(flagged_camps["campaign_id"])]
        activity = store.campaign_activity(cluster_run, wanted, bucket)
        camp_points = store.campaign_points(cluster_run, wanted, MAX_CAMPAIGN_POINTS)
        family_examples = _family_examples(store, activity)
        mined = campaign_templates(store, cluster_run, wanted)
        # the grey context behind each campaign: a sample is enough and keeps the file small
        context = points.sample(n=min(len(points), MAX_CONTEXT_POINTS), random_state=0)[["x", "y"]]
        for row in flagged_camps.itertuples():
            ids = wanted.loc[wanted["campaign_id"] == row.campaign_id, "account_id"].tolist()
            act = activity[activity["campaign_id"] == row.campaign_id].copy()
            pts = camp_points[camp_points["campaign_id"] == row.campaign_id].copy()
            edges = store.account_edges(score_run, ids)
            if pseudonymise:
                act["account_id"] = act["account_id"].map(name)
                pts["account_id"] = pts["account_id"].map(name)
                edges = edges.assign(account_a=edges["account_a"].map(name), account_b=edges["account_b"].map(name))
            cid = row.campaign_id
            report.figures[f"map-{cid}"] = figures.campaign_map(
                context, pts, title=f"{cid}: {_shown(pts)} prompts of {len(ids)} accounts on the map"
            )
            report.figures[f"timeline-{cid}"] = figures.account_timeline(
                act, title=f"{cid}: requests per {_bucket_words(bucket)} per account"
            )
            report.figures[f"heatmap-{cid}"] = figures.account_cluster_heatmap(
                act, keywords, title=f"{cid}: share of each account's requests per cluster"
            )
            report.figures[f"graph-{cid}"] = figures.account_graph(
                edges, [name(a) for a in ids], title=f"{cid}: account graph ({len(edges)} links)"
            )
            report.body.append(
                _campaign_section_html(
                    row, act, family_examples, mined[mined["campaign_id"] == cid], [name(a) for a in ids]
                )
            )
    report.figures["cluster-map"] = figures.cluster_map(
        points,
        keywords,
        title=_map_title(points, n_prompts_total),
    )
    report.eager.append("cluster-map")
    report.body.append(_cluster_explorer_html(clusters))
    return report


def _map_title(points: pd.DataFrame, total: int) -> str:
    if len(points) >= total:
        return f"All {total:,} prompts by cluster"
    flagged = int(points["flagged"].sum())
    return (
        f"Prompts by cluster: {len(points):,} of {total:,} shown — {flagged:,} sent by flagged accounts, "
        f"{len(points) - flagged:,} others sampled"
    )


def _shown(pts: pd.DataFrame) -> str:
    total = int(pts["n_campaign_prompts"].iloc[0]) if len(pts) else 0
    return f"{len(pts):,}" if total <= len(pts) else f"{len(pts):,} (a sample) of {total:,}"


def _bucket_words(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds // 60} minutes"


def _family_examples(store: Any, activity: pd.DataFrame) -> dict[int, str]:
    fams = activity[activity["dup_group"] >= 0].groupby("dup_group")["example_hash"].first()
    if fams.empty:
        return {}
    return dict(zip(fams.index.astype(int), store.prompt_texts(fams.tolist())))


def _overview_html(title: str, ov: dict[str, Any], cluster_run: int, score_run: int | None, pseud: bool) -> str:
    noise = ov["noise_share"]
    cells = [
        ("Data span", f"{_when(ov['first_seen'])} → {_when(ov['last_seen'])}"),
        ("Requests", f"{ov['requests']:,}"),
        ("Accounts", f"{ov['accounts']:,}"),
        ("Prompts", f"{ov['prompts']:,}"),
        ("Clusters", f"{ov['clusters']}"),
        ("Noise share", f"{noise:.0%}" if isinstance(noise, (int, float)) else "–"),
        ("Flagged accounts", f"{ov['flagged_accounts']:,}"),
        ("Campaigns", f"{ov['campaigns']}"),
    ]
    tiles = "".join(
        f'<div class="tile"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>' for k, v in cells
    )
    runs = f"cluster run {cluster_run}" + (f", score run {score_run}" if score_run else " (not scored yet)")
    note = " Account ids are pseudonymised." if pseud else ""
    return (
        f'<header><h1>{_e(title)}</h1><p class="muted">{_e(runs)}; generated '
        f"{_e(dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}.{_e(note)}</p></header>"
        f'<section id="overview"><h2>Overview</h2><div class="tiles">{tiles}</div></section>'
    )


def _confidence(row: Any) -> str:
    q, chance = getattr(row, "q_value", None), getattr(row, "expected_false_groups", None)
    if q is None or q != q:  # not calibrated (a small log, or a fixed threshold asked for)
        return "-"
    return f"{q:.3g} ({chance:.2g})"


def _campaign_table_html(camps: pd.DataFrame, score_run: int | None) -> str:
    if score_run is None:
        return '<section id="campaigns"><h2>Campaigns</h2><p>Not scored yet: run <code>clusterkit score</code>.</p></section>'
    if camps.empty:
        return '<section id="campaigns"><h2>Campaigns</h2><p>No campaign flagged in this run.</p></section>'
    rows = []
    for i, r in enumerate(camps.itertuples(), 1):
        rows.append(
            f'<tr data-campaign="{_e(r.campaign_id)}"><td>{i}</td>'
            f'<td><a href="#campaign-{_e(r.campaign_id)}" class="open">{_e(r.campaign_id)}</a></td>'
            f"<td>{r.score:.2f}</td><td>{_confidence(r)}</td><td>{r.n_accounts:,}</td><td>{r.n_requests:,}</td>"
            f"<td>{_e(_when(r.first_seen))} → {_e(_when(r.last_seen))}</td>"
            f"<td>{_e(', '.join(list(r.keywords)[:8]))}</td>"
            f"<td>{''.join(f'<span class=tag>{_e(s)}</span>' for s in r.signals)}</td></tr>"
        )
    return (
        '<section id="campaigns"><h2>Campaigns</h2><p class="muted">Ranked by score; click a campaign to open it.</p>'
        '<table id="campaign-table"><thead><tr><th>#</th><th>Campaign</th><th>Score</th>'
        '<th title="q-value against matched random groups of ordinary accounts; in brackets, the groups '
        'expected to score this high by chance">q (chance groups)</th><th>Accounts</th>'
        "<th>Requests</th><th>Time span</th><th>Capability areas (keywords)</th><th>Signals fired</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _campaign_section_html(
    row: Any, act: pd.DataFrame, family_examples: dict[int, str], mined: pd.DataFrame, names: Sequence[str]
) -> str:
    cid = row.campaign_id
    evidence = orjson.loads(row.evidence) if isinstance(row.evidence, str) else dict(row.evidence)
    fired = set(row.signals)
    reasons = "".join(
        f'<li class="{"fired" if k in fired else ""}">{_e(k)}: {float(v):.2f}</li>'
        for k, v in sorted(evidence.items(), key=lambda kv: -float(kv[1]))
    )
    examples = "".join(f"<li><pre>{_e(x)}</pre></li>" for x in row.examples)
    fams = act[act["dup_group"] >= 0].groupby("dup_group")["n"].sum().sort_values(ascending=False).head(5)
    affixes = (
        "".join(
            f"<li>{r.n_requests:,} requests, {r.n_prompts:,} distinct prompts, {r.n_accounts:,} accounts: "
            f"<pre>{_e(r.template)}</pre></li>"
            for r in mined.itertuples()
        )
        or "<li>No shared prefix or suffix mined among this campaign's prompts.</li>"
    )
    templates = (
        "".join(
            f"<li>{int(n):,} requests: <pre>{_e(family_examples.get(int(g), ''))}</pre></li>" for g, n in fams.items()
        )
        or "<li>No near-duplicate prompt families among this campaign's prompts.</li>"
    )
    accounts = ", ".join(_e(a) for a in names[:50]) + (f" … and {len(names) - 50} more" if len(names) > 50 else "")
    plots = "".join(
        f'<div class="fig" id="{kind}-{_e(cid)}"></div>' for kind in ("map", "timeline", "heatmap", "graph")
    )
    return (
        f'<details class="campaign" id="campaign-{_e(cid)}"><summary>Campaign {_e(cid)} — score {row.score:.2f}, '
        f"{row.n_accounts:,} accounts, {row.n_requests:,} requests</summary>"
        f'<div class="cols"><div><h4>Why (evidence, 0–1; fired in bold)</h4><ul class="reasons">{reasons}</ul></div>'
        f"<div><h4>Example prompts</h4><ol>{examples}</ol>"
        f"<h4>Mined templates (shared prefix or suffix)</h4><ul class='templates'>{affixes}</ul>"
        f"<h4>Near-duplicate families</h4><ul>{templates}</ul>"
        f'</div></div><h4>Accounts</h4><p class="accounts">{accounts}</p>{plots}</details>'
    )


def _cluster_explorer_html(clusters: pd.DataFrame) -> str:
    rows = []
    for r in clusters.itertuples():
        label = "noise" if r.cluster < 0 else str(r.cluster)
        reps = "".join(f"<li>{_e(t[:300])}</li>" for t in list(r.representatives)[:3])
        rows.append(
            f"<tr><td>{_e(label)}</td><td>{r.n_prompts:,}</td><td>{r.n_requests:,}</td><td>{r.n_accounts:,}</td>"
            f"<td>{_e(', '.join(list(r.keywords)[:8]))}</td><td><ul>{reps}</ul></td></tr>"
        )
    return (
        '<section id="clusters"><h2>Cluster explorer</h2><div class="fig" id="cluster-map"></div>'
        '<table id="cluster-table"><thead><tr><th>Cluster</th><th>Prompts</th><th>Requests</th><th>Accounts</th>'
        f"<th>Keywords</th><th>Representative prompts</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:0 24px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:1.6em}.muted{color:#666}
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{background:#f5f7fa;border-radius:6px;padding:10px 14px;min-width:140px}
.tile .k{font-size:.8em;color:#666}.tile .v{font-size:1.3em;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border-bottom:1px solid #eee;padding:6px;text-align:left;vertical-align:top}
th{background:#fafafa}.tag{display:inline-block;background:#eef3ff;border-radius:4px;padding:1px 6px;margin:1px;font-size:.85em}
details.campaign{border:1px solid #ddd;border-radius:6px;margin:10px 0;padding:8px 12px}
details.campaign summary{cursor:pointer;font-weight:600}.cols{display:grid;grid-template-columns:1fr 2fr;gap:24px}
pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:.85em;background:#fafafa;padding:4px}
ul.reasons li.fired{font-weight:700}.accounts{font-size:.85em;word-break:break-all}.fig{min-height:200px}
"""

_JS = """
(function(){
  var drawn = {};
  function draw(id){
    if (drawn[id]) return;
    var el = document.getElementById(id), data = document.getElementById('data-' + id);
    if (!el || !data) return;
    drawn[id] = true;
    var fig = JSON.parse(data.textContent);
    Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
  }
  function openCampaign(id){
    var d = document.getElementById(id);
    if (d && d.tagName === 'DETAILS') { d.open = true; d.scrollIntoView(); }
  }
  document.querySelectorAll('details.campaign').forEach(function(d){
    d.addEventListener('toggle', function(){
      if (d.open) d.querySelectorAll('.fig').forEach(function(f){ draw(f.id); });
    });
  });
  document.querySelectorAll('a.open').forEach(function(a){
    a.addEventListener('click', function(){ openCampaign(a.getAttribute('href').slice(1)); });
  });
  window.addEventListener('hashchange', function(){ openCampaign(location.hash.slice(1)); });
  JSON.parse(document.getElementById('eager-figures').textContent).forEach(draw);
  if (location.hash) openCampaign(location.hash.slice(1));
  window.clusterkitReady = true;
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; worker-src blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style>
<script>{plotly}</script>
</head><body>
{body}
{figs}
<script type="application/json" id="eager-figures">{eager}</script>
<script>{js}</script>
</body></html>
"""
