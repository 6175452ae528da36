"""Plotly figures of the report and the notebooks: pure functions from DataFrames to figures.

Every string that comes from the data (prompts, account ids, keywords) is HTML-escaped before it
reaches plotly, whose labels understand a few HTML tags: a prompt is always shown as text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .textnorm import visible

__all__ = [
    "account_cluster_heatmap",
    "account_graph",
    "account_timeline",
    "campaign_map",
    "cluster_map",
    "hover_data",
]

_GREY = "rgba(160,160,160,0.35)"
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 40, "r": 20, "t": 50, "b": 40},
    "hoverlabel": {"align": "left"},
}
_MAP_AXES = {"showgrid": False, "zeroline": False, "showticklabels": False, "title": None}


def _esc(value: object, limit: int = 120) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # plotly's hover shows text, not attributes: quotes stay quotes (an id is copied as stored)
    return html.escape(visible(text), quote=False)


def hover_data(points: pd.DataFrame, snippet_chars: int = 80) -> np.ndarray:
    """Per map point, the escaped strings its hover label shows: (prompt snippet, account and how many
    others sent it, first seen). The cluster and its keywords come from the trace name (see
    :data:`HOVER`), so they are not repeated per point: a 100k-point map stays small."""
    rows = np.empty((len(points), 3), dtype=object)
    for i, (snippet, account, ts, n_accounts) in enumerate(
        zip(points["snippet"], points["account_id"], points["first_ts"], points["n_accounts"])
    ):
        others = f" (+{int(n_accounts) - 1} more)" if n_accounts and int(n_accounts) > 1 else ""
        rows[i, 0] = _esc(snippet, snippet_chars)
        rows[i, 1] = _esc(account, 32) + others
        rows[i, 2] = pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M")
    return rows


#: hover label of a map point: its prompt, account, time, then the trace (cluster or account) name
HOVER = "%{customdata[0]}<br>account %{customdata[1]}<br>%{customdata[2]}<br>%{fullData.name}<extra></extra>"
HOVER_CAMPAIGN = "%{customdata[0]}<br>account %{customdata[1]}<br>%{customdata[2]}<extra></extra>"


def _scatter(points: pd.DataFrame, mask: np.ndarray, data: np.ndarray, name: object, marker: dict, hover: str):
    """One WebGL trace of the map points selected by ``mask``, with their hover data."""
    return go.Scattergl(
        x=points["x"].to_numpy(np.float32)[mask],
        y=points["y"].to_numpy(np.float32)[mask],
        mode="markers",
        name=_esc(name, 40),
        marker=marker,
        customdata=data[mask],
        hovertemplate=hover,
    )


def _map_layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=_esc(title, 200), legend={"itemsizing": "constant"}, height=560, **_LAYOUT)
    fig.update_xaxes(**_MAP_AXES)
    fig.update_yaxes(**_MAP_AXES)
    return fig


def cluster_map(
    points: pd.DataFrame, keywords: dict[int, Sequence[str]] | None = None, *, title: str = "Prompt map"
) -> go.Figure:
    """All points coloured by cluster (WebGL), noise in grey; one trace per cluster, largest first."""
    fig = go.Figure()
    data = hover_data(points)
    clusters = points["cluster"].to_numpy()
    order = pd.Series(clusters[clusters >= 0]).value_counts().index.tolist()
    for c in [-1, *order]:
        mask = clusters == c
        if not mask.any():
            continue
        words = ", ".join((keywords or {}).get(int(c), [])[:3])
        name = "noise" if c < 0 else f"cluster {c}: {words}" if words else f"cluster {c}"
        fig.add_trace(_scatter(points, mask, data, name, {"size": 4, **({"color": _GREY} if c < 0 else {})}, HOVER))
    return _map_layout(fig, title)


def campaign_map(
    background: pd.DataFrame, campaign: pd.DataFrame, *, title: str = "Campaign on the prompt map"
) -> go.Figure:
    """All prompts in grey with one campaign's prompts on top, one colour per account."""
    fig = go.Figure(
        go.Scattergl(
            x=background["x"].to_numpy(np.float32),
            y=background["y"].to_numpy(np.float32),
            mode="markers",
            name="all prompts",
            marker={"size": 3, "color": _GREY},
            hoverinfo="skip",
        )
    )
    data = hover_data(campaign)
    accounts = campaign["account_id"].to_numpy()
    for account in pd.unique(accounts):
        mask = accounts == account
        fig.add_trace(_scatter(campaign, mask, data, account, {"size": 6}, HOVER_CAMPAIGN))
    return _map_layout(fig, title)


def account_timeline(activity: pd.DataFrame, *, title: str = "Requests over time per account") -> go.Figure:
    """Requests per time bucket, one line per account (``activity``: account_id, bucket, n); buckets
    without requests count as zero, so scripted steady traffic and human bursts both show."""
    per = activity.groupby(["account_id", "bucket"], as_index=False)["n"].sum()
    buckets = pd.DatetimeIndex(sorted(per["bucket"].unique())) if len(per) else pd.DatetimeIndex([])
    step = pd.Series(buckets).diff().min() if len(buckets) > 1 else None
    full = pd.date_range(buckets[0], buckets[-1], freq=step) if step is not None else buckets
    if len(full) > 5000:  # uneven buckets: keep the observed ones
        full = buckets
    fig = go.Figure()
    for account, rows in per.groupby("account_id", sort=True):
        series = rows.set_index("bucket")["n"].reindex(full, fill_value=0)
        fig.add_trace(
            go.Scatter(
                x=series.index,
                y=series.to_numpy(),
                mode="lines",
                name=_esc(account, 40),
                line={"width": 1, "shape": "hv"},
            )
        )
    fig.update_layout(title=_esc(title, 200), height=340, yaxis_title="requests", **_LAYOUT)
    return fig


def account_cluster_heatmap(
    activity: pd.DataFrame, keywords: dict[int, Sequence[str]] | None = None, *, title: str = "Accounts × clusters"
) -> go.Figure:
    """Share of each account's requests per cluster: even stripes are a coverage sweep."""
    table = activity[activity["cluster"] >= 0].pivot_table(
        index="account_id", columns="cluster", values="n", aggfunc="sum", fill_value=0
    )
    share = table.div(table.sum(axis=1).replace(0, 1), axis=0)
    cols = [
        f"{c}: {_esc(', '.join((keywords or {}).get(int(c), [])[:2]), 30)}" if keywords else str(c)
        for c in share.columns
    ]
    fig = go.Figure(
        go.Heatmap(
            z=share.to_numpy(),
            x=cols,
            y=[_esc(a, 40) for a in share.index],
            colorscale="Blues",
            hovertemplate="account %{y}<br>cluster %{x}<br>share %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(title=_esc(title, 200), height=max(260, 18 * len(share) + 160), **_LAYOUT)
    fig.update_yaxes(type="category", dtick=1, automargin=True)
    fig.update_xaxes(type="category", automargin=True)
    return fig


def account_graph(edges: pd.DataFrame, accounts: Sequence[str], *, title: str = "Account graph", seed: int = 0):
    """The accounts as nodes and their links (co-activity, shared infrastructure) as edges."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(accounts)
    for a, b, w in zip(edges["account_a"], edges["account_b"], edges["weight"]):
        g.add_edge(a, b, weight=float(w))
    pos = nx.spring_layout(g, seed=seed, weight="weight") if len(g) else {}
    ex, ey = [], []
    for a, b in g.edges():
        ex += [pos[a][0], pos[b][0], None]
        ey += [pos[a][1], pos[b][1], None]
    nodes = list(g.nodes())
    fig = go.Figure(
        [
            go.Scatter(x=ex, y=ey, mode="lines", line={"width": 1, "color": "#999"}, hoverinfo="skip", name="links"),
            go.Scatter(
                x=[pos[n][0] for n in nodes],
                y=[pos[n][1] for n in nodes],
                mode="markers",
                marker={"size": 10, "color": [g.degree(n) for n in nodes], "colorscale": "Viridis"},
                text=[f"{_esc(n, 40)}<br>{g.degree(n)} links" for n in nodes],
                hovertemplate="%{text}<extra></extra>",
                name="accounts",
            ),
        ]
    )
    fig.update_layout(title=_esc(title, 200), height=380, showlegend=False, **_LAYOUT)
    fig.update_xaxes(**_MAP_AXES)
    fig.update_yaxes(**_MAP_AXES)
    return fig
