"""The semantic engine end to end on real prompts: reduce, cluster, describe, recorded runs."""

import numpy as np
import pytest
from conftest import nested, write_jsonl

from clusterkit.cluster import cluster, default_min_cluster_size, near_duplicate_groups
from clusterkit.describe import class_tfidf_keywords, tokenize
from clusterkit.errors import StoreError
from clusterkit.ingest import ingest
from clusterkit.pipeline import run
from clusterkit.reduce import nearest_neighbours, reduce
from clusterkit.store import Store

TEMPLATE = (
    "Solve the following {area} problem. Before answering, write out your complete internal reasoning "
    "step by step: problem #{i} about {area}."
)


def _engine_log(tmp_path, corpora):
    """Organic prompts (real corpora when present), a planted template family and Chinese prompts."""
    import random

    from clusterkit.prompts_builtin import chinese_tasks, organic_prompts

    rng = random.Random(4)
    texts = []
    if corpora is not None:
        import gzip

        import orjson

        for name in ("chatbot_arena_conversations_user_turns", "msmarco_bing_queries", "alpaca_52k"):
            with gzip.open(corpora / f"{name}.jsonl.gz", "rb") as fh:
                for i, line in enumerate(fh):
                    if i >= 120:
                        break
                    texts.append(orjson.loads(line)["text"])
    else:
        texts = organic_prompts(rng, 360)
    template = [TEMPLATE.format(area="algebra", i=i) for i in range(60)]
    zh = chinese_tasks(rng, 60)
    recs = [nested(i, f"acct{i % 40}", t) for i, t in enumerate(texts + template + zh)]
    return write_jsonl(tmp_path / "engine.jsonl", recs), set(template), set(zh)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from conftest import SHARED_PROMPTS

    tmp = tmp_path_factory.mktemp("engine")
    corpora = SHARED_PROMPTS if SHARED_PROMPTS.is_dir() else None
    log, template, zh = _engine_log(tmp, corpora)
    store = Store(tmp / "engine.duckdb")
    ingest(store, log)
    result = run(store)
    yield store, result, template, zh
    store.close()


@pytest.mark.slow
def test_run_is_recorded_with_lineage(engine):
    store, result, _, _ = engine
    rec = store.run(result.run_id)
    assert rec["kind"] == "cluster" and rec["status"] == "ok"
    assert rec["parent_run_id"] == result.embed_run_id
    assert set(rec["timings"]) >= {"embed", "reduce", "map", "cluster", "describe"}
    assert rec["versions"]["umap-learn"] and rec["versions"]["hdbscan"]
    assert rec["params"]["random_state"] == 42 and rec["params"]["model_id"].endswith("@openvino-int8")
    n = store.count_prompts()
    assert result.n_prompts == n
    labels = store.labels(result.run_id)
    assert len(labels) == n and labels[["x", "y"]].notna().all().all()
    assert result.n_clusters >= 3
    assert 0 <= result.noise_share < 1
    assert (labels["cluster"] == -1).mean() == pytest.approx(result.noise_share)


@pytest.mark.slow
def test_rerun_reuses_the_stored_run(engine):
    store, result, _, _ = engine
    again = run(store)
    assert again.reused and again.run_id == result.run_id
    assert store.sql("SELECT count(*) AS n FROM runs WHERE kind = 'cluster'")["n"][0] == 1


@pytest.mark.slow
def test_same_inputs_same_labels(engine, tmp_path):
    store, result, _, _ = engine
    log = tmp_path / "copy.jsonl"
    rows = store.sql(
        "SELECT r.request_id, r.account_id, r.ts, p.text FROM requests r JOIN prompts p USING (prompt_hash)"
    )
    write_jsonl(
        log,
        [
            {"id": r.request_id, "account_id": r.account_id, "timestamp": r.ts.isoformat(), "prompt": r.text}
            for r in rows.itertuples()
        ],
    )
    with Store(tmp_path / "second.duckdb") as other:
        ingest(other, log)
        second = run(other)
        a = store.labels(result.run_id)[["prompt_hash", "cluster", "x", "y"]]
        b = other.labels(second.run_id)[["prompt_hash", "cluster", "x", "y"]]
    assert list(a["prompt_hash"]) == list(b["prompt_hash"])
    assert list(a["cluster"]) == list(b["cluster"])
    assert np.allclose(a["x"], b["x"]) and np.allclose(a["y"], b["y"])


@pytest.mark.slow
def test_planted_template_lands_in_one_group(engine):
    store, result, template, _ = engine
    labels = store.labels(result.run_id)
    planted = labels[labels["text"].isin(template)]
    assert len(planted) == len(template)
    assert planted["cluster"].nunique() == 1 and planted["cluster"].iloc[0] >= 0
    assert planted["dup_group"].nunique() == 1 and planted["dup_group"].iloc[0] >= 0
    # a near-duplicate group is never split between a cluster and noise
    for _, group in labels[labels["dup_group"] >= 0].groupby("dup_group"):
        assert group["cluster"].nunique() == 1


@pytest.mark.slow
def test_every_cluster_is_described_and_cjk_has_keywords(engine):
    store, result, _, zh = engine
    desc = store.clusters(result.run_id)
    real = desc[desc["cluster"] >= 0]
    assert len(real) == result.n_clusters
    assert all(len(k) > 0 for k in real["keywords"])
    assert all(1 <= len(r) <= 3 for r in real["representatives"])
    assert (real["n_accounts"] > 0).all() and real["first_seen"].notna().all()
    assert desc["n_prompts"].sum() == result.n_prompts
    labels = store.labels(result.run_id)
    zh_clusters = set(labels[labels["text"].isin(zh)]["cluster"]) - {-1}
    assert zh_clusters
    for c in zh_clusters:
        kws = real[real["cluster"] == c]["keywords"].iloc[0]
        assert any("\u4e00" <= ch <= "\u9fff" for kw in kws for ch in kw)


def test_near_duplicate_groups_from_neighbours():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((5, 32))
    vectors = np.vstack([base, base[0] + 0.01 * rng.standard_normal(32), base[1] + 0.01 * rng.standard_normal(32)])
    groups = near_duplicate_groups(nearest_neighbours(vectors.astype(np.float32), k=3), threshold=0.95)
    assert groups[0] == groups[5] >= 0 and groups[1] == groups[6] >= 0 and groups[0] != groups[1]
    assert (groups[[2, 3, 4]] == -1).all()


def test_groups_are_never_split_and_clusters_numbered_by_size():
    class Fixed:
        def fit_predict(self, X):
            return np.array([1, 1, 1, 0, 0, -1, -1, 0])

    groups = np.array([-1, -1, -1, -1, 7, 7, -1, -1])
    out = cluster(np.zeros((8, 2)), clusterer=Fixed(), dup_groups=groups)
    assert list(out.labels) == [1, 1, 1, 0, 0, 0, -1, 0]  # label 0 grew to 4 members: largest first
    assert out.n_clusters == 2 and out.noise_share == pytest.approx(1 / 8)


def test_min_cluster_size_scales_with_data():
    assert default_min_cluster_size(100) == 8
    assert default_min_cluster_size(10_000) == 50
    assert default_min_cluster_size(1_000_000) == 500


def test_tokenize_and_keywords_handle_cjk():
    assert tokenize("请解释量子力学") == ["解释", "量子力学"]  # words, not character bigrams
    assert "python" in tokenize("Explain decorators in Python, please") and "please" not in tokenize("please")
    texts = ["量子力学是什么", "量子力学的基本原理", "how to bake bread", "bread baking tips", "random noise"]
    kw = class_tfidf_keywords(texts, np.array([0, 0, 1, 1, -1]), top_n=3)
    assert kw[0][0] == "量子力学"
    assert "bread" in kw[1]
    assert -1 not in kw


def test_keywords_in_every_language_read_as_words_without_stop_words():
    """Chinese segmented into words, Japanese into its content words, each language's stop words
    dropped - a German stop word in a German prompt, but not the same spelling in an English one."""
    assert tokenize("你好，给出三个保持健康的建议。") == ["三个", "保持", "健康", "建议"]  # greeting, "give" dropped
    assert tokenize("量子力学の基本原理を説明してください") == ["量子力学", "基本", "原理", "説明"]
    assert tokenize("Объясни, пожалуйста, как это работает и почему") == ["объясни", "работает"]
    assert tokenize("Erkläre die Geschichte des Krieges, der in Europa war") == [
        "erkläre",
        "geschichte",
        "krieges",
        "europa",
    ]
    assert tokenize("Why did the war start and why do people die") == ["did", "war", "start", "people", "die"]
    assert tokenize("Hi! Explain entropy, thanks!") == ["explain", "entropy"]
    assert tokenize("Привет! Объясни энтропию, спасибо!") == ["объясни", "энтропию"]
    assert tokenize("Explique la révolution française et ses causes") == [
        "explique",
        "révolution",
        "française",
        "causes",
    ]
    texts = ["Объясни квантовую механику", "Что такое квантовая механика и как она работает", "Рецепт борща"]
    kw = class_tfidf_keywords([*texts, "请解释量子力学", "量子力学的基本原理"], np.array([0, 0, 1, 2, 2]), top_n=5)
    assert {w[:7] for w in kw[0]} >= {"квантов", "механик"}
    assert not {"что", "как", "она", "такое", "и"} & set(kw[0])
    assert kw[2][0] == "量子力学"


def test_keywords_stream_texts_in_chunks():
    """Texts may come as a stream, read a chunk at a time: the same keywords as all at once, ties
    alphabetical; a stream shorter or longer than the labels is an error, not a silent shift."""
    texts = [f"alpha beta {w} gamma" for w in ("one", "two", "three")] + ["delta epsilon zeta"] * 3 + ["noise"]
    labels = np.array([0, 0, 0, 1, 1, 1, -1])
    whole = class_tfidf_keywords(texts, labels, top_n=4)
    seen = []
    assert whole == class_tfidf_keywords(iter(texts), labels, top_n=4, chunk=2, progress=lambda *a: seen.append(a))
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]
    assert whole[1] == ["delta", "epsilon", "zeta"]  # equal weights: alphabetical
    assert whole[0][:3] == ["alpha", "beta", "gamma"]
    with pytest.raises(StoreError, match="6 prompt texts read for 7 labelled prompts"):
        class_tfidf_keywords(iter(texts[:-1]), labels, chunk=2)
    with pytest.raises(StoreError, match="more prompt texts"):
        class_tfidf_keywords(iter([*texts, "extra"]), labels, chunk=2)


def test_custom_reducer_and_small_inputs():
    class FirstColumns:
        def fit_transform(self, X):
            return X[:, :3]

    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    assert reduce(X, reducer=FirstColumns()).shape == (10, 3)
    assert reduce(X[:2], n_components=5).shape == (2, 5)
    assert reduce(X[:0]).shape == (0, 5)


@pytest.mark.slow
def test_large_inputs_fit_on_a_sample_and_transform_the_rest():
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((3, 16)) * 5
    X = np.vstack([c + rng.standard_normal((150, 16)) for c in centers]).astype(np.float32)
    out = reduce(X, n_components=2, fit_threshold=200, fit_sample=120, random_state=1)
    again = reduce(X, n_components=2, fit_threshold=200, fit_sample=120, random_state=1)
    assert out.shape == (450, 2) and np.isfinite(out).all()
    assert np.allclose(out, again)  # reproducible, sample included
    # the three blobs stay apart: each point is nearer its own blob's centre than the others'
    means = np.stack([out[i * 150 : (i + 1) * 150].mean(axis=0) for i in range(3)])
    nearest = np.argmin(((out[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert (nearest == np.repeat(np.arange(3), 150)).mean() > 0.95

    # UMAP's epochs, then the transform of the rest, reach the progress callback
    calls = []
    reduce(
        X, n_components=2, fit_threshold=200, fit_sample=120, random_state=1, progress=lambda d, t: calls.append((d, t))
    )
    epochs = [c for c in calls if c[1] != 450 - 120]
    assert epochs and epochs[-1][0] == epochs[-1][1] > 0  # every epoch done
    assert calls[-1] == (330, 330)  # then every row outside the sample placed


@pytest.mark.slow
def test_umap_reuses_a_graph_without_search_index_quietly(monkeypatch):
    import warnings

    import clusterkit.reduce as reduce_module

    monkeypatch.setattr(reduce_module, "UMAP_OWN_NEIGHBOURS_BELOW", 100)
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((3, 16)) * 5
    X = np.vstack([c + rng.standard_normal((150, 16)) for c in centers]).astype(np.float32)
    graph = nearest_neighbours(X, k=15)  # exact: no search index
    assert graph.index is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = reduce(X, n_components=2, neighbours=graph, random_state=1)
    assert not [w for w in caught if "knn_search_index" in str(w.message)]
    # the graph given is the one used: a scrambled graph gives another layout
    scrambled = type(graph)(rng.permutation(graph.indices.ravel()).reshape(graph.indices.shape), graph.distances)
    assert not np.allclose(out, reduce(X, n_components=2, neighbours=scrambled, random_state=1))


def test_epoch_lines_from_tqdm_become_progress_calls():
    from clusterkit.reduce import _EpochsTo

    calls = []
    out = _EpochsTo(lambda d, t: calls.append((d, t)))
    for text in ["\r0/200", "\r57/200", "\r200/200", "\n", ""]:
        assert out.write(text) == len(text)
    out.flush()
    assert calls == [(0, 200), (57, 200), (200, 200)]


def _blobs(n_per: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-20, 20, size=(6, 5))
    return np.vstack([c + 0.6 * rng.standard_normal((n_per, 5)) for c in centers])


def test_large_inputs_cluster_on_a_sample_and_place_the_rest():
    from sklearn.metrics import adjusted_rand_score

    X = _blobs(500)  # 3,000 rows in six blobs
    truth = np.repeat(np.arange(6), 500)
    full = cluster(X, min_cluster_size=60)
    calls = []
    sampled = cluster(
        X, min_cluster_size=60, fit_threshold=2_000, fit_sample=1_000, progress=lambda d, t: calls.append((d, t))
    )
    assert full.fitted_on == 0 and sampled.fitted_on == 1_000
    assert sampled.min_cluster_size == 60  # reported on the full data's scale
    assert sampled.n_clusters == full.n_clusters == 6
    assert adjusted_rand_score(full.labels, sampled.labels) > 0.95
    assert adjusted_rand_score(truth, sampled.labels) > 0.95
    assert calls[-1] == (2_000, 2_000)  # every row outside the sample placed, with progress
    again = cluster(X, min_cluster_size=60, fit_threshold=2_000, fit_sample=1_000)
    assert (again.labels == sampled.labels).all()  # the sample is drawn from random_state
    # far-away points, sampled or placed, are noise: not forced into a cluster
    far = np.vstack([X, 500.0 + 50 * np.random.default_rng(1).standard_normal((40, 5))])
    placed = cluster(far, min_cluster_size=60, fit_threshold=2_000, fit_sample=1_000)
    assert (placed.labels[-40:] == -1).all() and placed.n_clusters == 6
    # near-duplicate groups stay whole across sampled and placed rows
    groups = np.full(len(X), -1)
    groups[[0, 2_999]] = 0  # one row of the first blob, one of the last
    kept = cluster(X, min_cluster_size=60, dup_groups=groups, fit_threshold=2_000, fit_sample=1_000)
    assert kept.labels[0] == kept.labels[2_999]


def test_exact_neighbours_report_progress_per_block_and_match_one_block():
    from clusterkit.reduce import _exact_neighbours

    X = np.random.default_rng(5).standard_normal((100, 8)).astype(np.float32)
    calls = []
    blocked = _exact_neighbours(X, 5, block=30, progress=lambda d, t: calls.append((d, t)))
    whole = nearest_neighbours(X, k=5)
    assert calls == [(30, 100), (60, 100), (90, 100), (100, 100)]
    assert (blocked.indices == whole.indices).all() and np.allclose(blocked.distances, whole.distances)
    assert (whole.indices[:, 0] == np.arange(100)).all()  # each row is its own first neighbour


def _blobs_with_near_duplicates(n: int = 6_000, seed: int = 6) -> np.ndarray:
    """Rows around 60 centres in 32-D, a tenth of them with a near-copy (cosine > 0.99)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((60, 32))
    X = centres[rng.integers(0, 60, n)] + 0.6 * rng.standard_normal((n, 32))
    copies = rng.choice(n, n // 10, replace=False)
    X[copies[::2]] = X[copies[1::2]] + 0.02 * rng.standard_normal((len(copies) // 2, 32))
    return X.astype(np.float32)


def test_neighbours_by_cells_find_what_exact_search_finds():
    """The cells method (used above UMAP's fit threshold) finds nearly every exact neighbour, the
    same near-duplicate groups, exact distances for what it finds, and reports two phases of
    progress that each reach their total."""
    from clusterkit.reduce import _cell_neighbours, _exact_neighbours

    X = _blobs_with_near_duplicates()
    exact = _exact_neighbours(X, 10)
    calls = []
    cells = _cell_neighbours(X, 10, cell_size=300, fit_sample=3_000, progress=lambda d, t: calls.append((d, t)))
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.indices, cells.indices)])
    assert recall > 0.9
    assert (cells.indices[:, 0] == np.arange(len(X))).all() and (cells.distances[:, 0] == 0).all()
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    rows = np.repeat(np.arange(len(X)), 10)
    assert np.allclose(
        cells.distances.ravel()[10:],
        np.maximum(1 - (unit[rows] * unit[cells.indices.ravel()]).sum(1), 0)[10:],
        atol=1e-5,
    )
    assert (np.diff(cells.distances, axis=1) >= 0).all()  # nearest first
    assert (near_duplicate_groups(cells, 0.95) == near_duplicate_groups(exact, 0.95)).all()
    assert (near_duplicate_groups(exact, 0.95) >= 0).sum() >= 600
    totals = list(dict.fromkeys(t for _, t in calls))
    assert totals[0] == len(X) and len(totals) == 2  # rows placed in cells, then products cell by cell
    for total in totals:
        done = [d for d, t in calls if t == total]
        assert done == sorted(done) and done[-1] == total


def test_neighbours_by_cells_pad_rows_with_too_few_candidates():
    """Rows whose probed cells hold fewer than k rows get -1 at distance inf, never a made-up neighbour."""
    from clusterkit.reduce import _cell_neighbours

    X = _blobs_with_near_duplicates(n=200)
    found = _cell_neighbours(X, 30, probes=1, cell_size=10, fit_sample=200)
    padded = found.indices < 0
    assert padded.any() and np.isinf(found.distances[padded]).all() and np.isfinite(found.distances[~padded]).all()
    assert (found.indices[:, 0] == np.arange(200)).all()
    assert near_duplicate_groups(found, 0.95).max() >= 0


def test_above_umaps_fit_threshold_neighbours_are_found_by_cells(monkeypatch):
    import clusterkit.reduce as reduce_module

    X = _blobs_with_near_duplicates(n=1_500)
    monkeypatch.setattr(reduce_module, "UMAP_FIT_THRESHOLD", 1_000)
    calls = []
    found = nearest_neighbours(X, k=10, exact_below=500, progress=lambda d, t: calls.append((d, t)))
    assert found.index is None and calls and calls[-1][0] == calls[-1][1]
    monkeypatch.setattr(reduce_module, "UMAP_FIT_THRESHOLD", 2_000)
    assert nearest_neighbours(X, k=10, exact_below=500).index is not None  # pynndescent, for UMAP to reuse
