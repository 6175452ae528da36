"""One answer to "which run?": the latest finished run of the right kind (the one last produced or
reused), a run of the wrong kind refused with a message naming what was expected, nothing recorded
for a refused command."""

import shutil

from clusterkit.cli import main
from clusterkit.store import Store


def _runs(db):
    with Store(db, read_only=True) as store:
        return store.sql("SELECT run_id, kind, status, params FROM runs ORDER BY run_id")


def test_wrong_kind_refused_and_latest_means_last_used(scored_sim, tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    shutil.copy(scored_sim[0], db)
    runs = _runs(db)
    ingest_run = int(runs.loc[runs["kind"] == "ingest", "run_id"].iloc[0])
    default_score = int(runs.loc[runs["kind"] == "score", "run_id"].iloc[-1])

    # a score of an ingest run: refused, and no empty score run recorded
    assert main(["score", "--db", str(db), "--run", str(ingest_run)]) == 2
    err = capsys.readouterr().err
    assert f"run {ingest_run} is an ingest run, but a cluster run is needed" in err
    assert len(_runs(db)) == len(runs)
    assert main(["clusters", "--db", str(db), "--run", str(default_score)]) == 2
    assert "a cluster run is needed" in capsys.readouterr().err

    # a stricter score, then a plain one that reuses the default run: the plain one is the latest
    assert main(["score", "--db", str(db), "--threshold", "0.8"]) == 0
    strict = int(_runs(db)["run_id"].iloc[-1])
    assert strict != default_score
    assert main(["score", "--db", str(db)]) == 0
    assert "reused the stored run" in capsys.readouterr().out
    with Store(db, read_only=True) as store:
        assert store.latest_run("score") == default_score
        assert store.resolve_scored() == (int(store.run(default_score)["parent_run_id"]), default_score)
        assert store.resolve_run("score") == default_score
        assert store.resolve_run("score", strict) == strict


def test_no_run_yet_names_the_command_that_makes_one(tmp_path, capsys):
    db = tmp_path / "empty.duckdb"
    with Store(db):
        pass
    assert main(["accounts", "--db", str(db)]) == 2
    assert "no score run yet; run `clusterkit score" in capsys.readouterr().err
