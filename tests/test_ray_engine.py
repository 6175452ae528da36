"""The Ray Data engine gives the local engine's vectors, through the same store cache (a local
Ray instance on this machine)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import nested, write_jsonl

from clusterkit.cli import main
from clusterkit.store import Store

TEXTS = [
    "Explain how a hash map handles collisions.",
    "Write a haiku about autumn rain.",
    "What is the capital of Australia?",
    "请用三句话解释光合作用。",
    "Grade the response below against the rubric and give a score out of 10.",
    "Translate 'good morning' into French, Spanish and German.",
]


@pytest.mark.slow
def test_ray_engine_matches_local_engine(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    texts = [f"{t} (variant {i})" for i in range(25) for t in TEXTS]  # 150 distinct prompts
    log = write_jsonl(tmp_path / "log.jsonl", [nested(i, f"a{i % 7}", t) for i, t in enumerate(texts)])
    vectors = {}
    for engine in ("local", "ray"):
        db = tmp_path / f"{engine}.duckdb"
        assert main(["ingest", str(log), "--db", str(db)]) == 0
        args = ["embed", "--db", str(db), "--engine", engine]
        if engine == "ray":
            args += ["--export-dir", str(tmp_path / "exports")]  # default workers: must finish on 2 cores

            def no_model_on_the_driver(*_a, **_k):
                raise AssertionError("the driver loaded the model: only Ray's workers should")

            monkeypatch.setattr("clusterkit.embed.load_sentence_model", no_model_on_the_driver)
        assert main(args) == 0
        with Store(db, read_only=True) as store:
            (model,) = store.embedding_models()
            hashes, vecs = store.load_embeddings(model["model_id"])
            run = store.run(store.latest_run("embed"))
        assert run["params"]["engine"] == engine and run["stats"]["embedded"] == len(texts)
        assert model["max_tokens"] == 256  # the model's window, reported by the workers under Ray
        vectors[engine] = (hashes, vecs)
    assert vectors["local"][0] == vectors["ray"][0]
    local, ray = vectors["local"][1], vectors["ray"][1]
    cos = (local * ray).sum(1) / np.linalg.norm(local, axis=1) / np.linalg.norm(ray, axis=1)
    assert cos.min() > 0.9999 and np.abs(local - ray).max() < 1e-3
    assert not any((tmp_path / "exports").iterdir())  # the hand-off files are removed


@pytest.mark.slow
def test_ray_engine_resumes_and_skips_cached(tmp_path):
    pytest.importorskip("ray")
    log = write_jsonl(tmp_path / "log.jsonl", [nested(i, "a1", f"prompt number {i}") for i in range(40)])
    db = tmp_path / "s.duckdb"
    assert main(["ingest", str(log), "--db", str(db)]) == 0
    assert main(["embed", "--db", str(db)]) == 0  # local first: everything cached
    assert main(["embed", "--db", str(db), "--engine", "ray"]) == 0
    with Store(db, read_only=True) as store:
        runs = store.sql("SELECT run_id FROM runs WHERE kind = 'embed'")["run_id"].tolist()
        run = store.run(int(runs[0]))
    # nothing to embed records nothing: the local run that embedded the prompts stays the only one
    assert len(runs) == 1 and run["stats"] == {"embedded": 40, "cached": 0, "truncated": 0}
    # the multilingual model (no token window) on Ray: its own cache, no token counts made up
    assert main(["embed", "--db", str(db), "--engine", "ray", "--model", "multilingual", "--workers", "1"]) == 0
    with Store(db, read_only=True) as store:
        models = {m["model_id"]: m for m in store.embedding_models()}
        (use,) = [m for m in models if m.startswith("google/universal-sentence-encoder-multilingual-3")]
        assert models[use]["max_tokens"] is None and models[use]["dim"] == 512
        assert store.run(store.latest_run("embed"))["stats"] == {"embedded": 40, "cached": 0, "truncated": 0}
        assert (
            store.sql(f"SELECT count(*) AS n FROM emb_{models[use]['model_key']} WHERE n_tokens IS NULL")["n"][0] == 40
        )


@pytest.mark.parametrize(
    "address, message",
    [("127.0.0.1:1", "cannot reach the Ray cluster at '127.0.0.1:1'"), ("my-cluster", "expected HOST:PORT")],
)
def test_a_bad_ray_address_fails_fast_and_leaves_nothing(tmp_path, address, message, capsys):
    """Ray would retry an unreachable address for minutes; clusterkit says what is wrong at once."""
    pytest.importorskip("ray")
    log = write_jsonl(tmp_path / "log.jsonl", [nested(i, "a", t) for i, t in enumerate(TEXTS)])
    db = tmp_path / "s.duckdb"
    assert main(["ingest", str(log), "--db", str(db)]) == 0
    exports = tmp_path / "exports"
    args = ["embed", "--db", str(db), "--engine", "ray", "--address", address, "--export-dir", str(exports)]
    assert main(args) != 0
    assert message in capsys.readouterr().err
    assert not exports.exists() or not any(exports.iterdir())


def test_ray_options_without_the_ray_engine_are_refused(tmp_path, capsys):
    """Options the local engine would not read are said, not ignored."""
    db = tmp_path / "s.duckdb"
    Store(db).close()
    assert main(["embed", "--db", str(db), "--address", "auto", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--address, --workers: Ray engine options; add --engine ray" in err and "Traceback" not in err
