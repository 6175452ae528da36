"""Figures are pure functions of DataFrames: checked on hand-made inputs."""

import pandas as pd

from clusterkit import figures


def _points():
    return pd.DataFrame(
        {
            "prompt_hash": ["h1", "h2", "h3"],
            "x": [0.0, 1.0, 2.0],
            "y": [0.0, 1.0, 0.5],
            "cluster": [0, 0, -1],
            "snippet": ["<b>bold</b> & <script>alert(1)</script>", "plain", "x" * 500],
            "account_id": ['<img src=x onerror="alert(1)">', "a2", "a3"],
            "first_ts": pd.to_datetime(["2026-03-01 10:00"] * 3, utc=True),
            "n_accounts": [1, 3, 1],
        }
    )


def test_hover_data_escapes_and_truncates():
    data = figures.hover_data(_points())
    assert data[0, 0] == "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    # markup is escaped; quotes stay quotes, so an id copied from the hover is the id as stored
    assert data[0, 1] == '&lt;img src=x onerror="alert(1)"&gt;'

    assert data[1, 1] == "a2 (+2 more)" and data[1, 2] == "2026-03-01 10:00"
    assert len(data[2, 0]) == 80 and data[2, 0].endswith("…")


def test_invisible_and_direction_changing_characters_are_shown():
    points = _points()
    points.loc[1, "account_id"] = "admin\u202egnp.exe"  # displays as "adminexe.png" when rendered as is
    points.loc[2, "snippet"] = "zero\u200bwidth and a bell\x07"
    data = figures.hover_data(points)
    assert data[1, 1].startswith("admin⟨U+202E⟩gnp.exe")
    assert data[2, 0] == "zero⟨U+200B⟩width and a bell⟨U+0007⟩"


def test_cluster_map_has_every_point_once():
    fig = figures.cluster_map(_points(), {0: ["alpha"]})
    assert sorted(t.name for t in fig.data) == ["cluster 0: alpha", "noise"]
    assert all(t.hovertemplate == figures.HOVER for t in fig.data)
    assert sum(len(t.x) for t in fig.data) == 3


def test_campaign_map_colours_by_account():
    pts = _points()
    fig = figures.campaign_map(pts[["x", "y"]], pts.iloc[:2])
    assert fig.data[0].hoverinfo == "skip" and len(fig.data) == 3


def test_timeline_fills_quiet_buckets_with_zero():
    activity = pd.DataFrame(
        {
            "account_id": ["a", "a", "b"],
            "bucket": pd.to_datetime(["2026-03-01 00:00", "2026-03-01 03:00", "2026-03-01 01:00"], utc=True),
            "n": [1, 2, 3],
        }
    )
    fig = figures.account_timeline(activity)
    assert [list(map(int, t.y)) for t in fig.data] == [[1, 0, 0, 2], [0, 3, 0, 0]]


def test_heatmap_rows_are_shares_and_graph_has_all_accounts():
    activity = pd.DataFrame({"account_id": ["a", "a", "b"], "cluster": [0, 1, 1], "n": [1, 3, 2]})
    fig = figures.account_cluster_heatmap(activity)
    assert [list(r) for r in fig.data[0].z] == [[0.25, 0.75], [0.0, 1.0]]
    edges = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "weight": [0.9]})
    graph = figures.account_graph(edges, ["a", "b", "c"])
    assert len(graph.data[1].x) == 3 and graph.data[1].text[2].endswith("0 links")
