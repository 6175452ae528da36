"""``bench/robustness.py --quick`` runs end to end (two logs through ingest, the real model, the map,
clusters and scoring) and reports every cell and every planted group. Figures are not asserted here:
they are the benchmark's output, reported in the README."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_PROMPTS

ROOT = Path(__file__).resolve().parents[1]
CORPORA = SHARED_PROMPTS


@pytest.mark.slow
def test_quick_robustness_grid_completes_and_reports_every_cell(tmp_path):
    if not any(CORPORA.glob("*.jsonl.gz")):
        pytest.skip(f"no prompt corpora in {CORPORA}")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from robustness_sim import grid
    finally:
        sys.path.pop(0)
    save = tmp_path / "robustness.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "robustness.py"),
            "--quick",
            "--corpora",
            str(CORPORA),
            "--save",
            str(save),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads(save.read_text())
    cells = grid(quick=True)
    assert [r["cell"] for r in saved["results"]] == [c.name for c in cells]
    assert {r["held_out"] for r in saved["results"]} == {False, True}
    for r in saved["results"]:
        labels = {g["label"] for g in r["groups"]}
        assert labels == {"organic", "campaign", "benign"}
        assert 0 <= r["ap"] <= 1 and 0 <= r["organic_fpr"] <= 1
        assert r["cell"] in done.stdout
    assert "taken from earlier cells of this run" in done.stdout  # (bench/shared_vectors.py)
    for heading in ("tuning (1 cells)", "held-out (1 cells)"):
        assert heading in done.stdout
