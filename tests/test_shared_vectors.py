"""The robustness benchmark's vectors shared across its cells (bench/shared_vectors.py): a text an
earlier cell embedded is not encoded again, and every cell's store still holds, under its own embed
run, exactly the vectors the model gives."""

from pathlib import Path

import numpy as np
from conftest import bench_module, nested, write_jsonl

from clusterkit.embed import embed
from clusterkit.ingest import ingest
from clusterkit.store import Store


class Counting:
    """Deterministic fake: a hash of each text as an 8-D vector; records what it is asked."""

    model_id = "fake-8"
    dim = 8

    def __init__(self):
        self.asked: list[str] = []

    def encode(self, texts):
        self.asked.extend(texts)
        vecs = [np.random.default_rng(sum(t.encode()) + len(t)).standard_normal(8) for t in texts]
        return np.asarray(vecs, dtype=np.float32)


def _store(path: Path, texts: list[str]) -> Store:
    log = path.with_suffix(".jsonl")
    write_jsonl(log, [nested(i, f"a{i % 3}", t) for i, t in enumerate(texts)])
    store = Store(path)
    ingest(store, log)
    return store


def test_a_text_embedded_for_one_cell_is_not_encoded_again_for_the_next(tmp_path):
    shared_vectors = bench_module("shared_vectors")
    (tmp_path / "shared.duckdb").write_text("stale")  # a file left by an earlier run is replaced
    shared = shared_vectors.SharedVectors(tmp_path / "shared.duckdb")
    inner = Counting()
    cached = shared_vectors._Cached(inner, shared)
    assert cached.model_id == "fake-8" and cached.dim == 8  # the model's own id: the store keys by it
    first = [f"first cell prompt {i}" for i in range(10)]
    second = first[5:] + [f"second cell prompt {i}" for i in range(4)]
    with _store(tmp_path / "one.duckdb", first) as one:
        embed(one, embedder=cached)
    assert sorted(inner.asked) == sorted(first)
    inner.asked.clear()
    with _store(tmp_path / "two.duckdb", second) as two:
        report = embed(two, embedder=cached)
        hashes, vectors = two.load_embeddings("fake-8")
        texts = two.prompt_texts(hashes)
    assert sorted(inner.asked) == sorted(second[5:])  # only what the first cell did not send
    assert report.embedded == len(second)  # the cell's own store holds every vector, in its own run
    assert np.allclose(vectors, Counting().encode(texts))  # and they are the model's
    assert (shared.computed, shared.reused) == (14, 5)
    other = shared_vectors._Cached(type("Other", (Counting,), {"model_id": "fake-8b"})(), shared)
    other.encode(first[:2])
    assert other.inner.asked == first[:2]  # another model's vectors are its own
    shared.close()
