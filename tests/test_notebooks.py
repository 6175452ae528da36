"""The notebooks run end to end (nbclient, a real kernel) on a small scored store, and are kept in
git without outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist_and_are_stripped():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_investigate.ipynb",
        "03_campaign_deep_dive.ipynb",
    ]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, scored_sim, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    db, sim, _ = scored_sim
    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(db, work / "clusterkit.duckdb")  # the scored store: every pipeline step is reused
    shutil.copytree(sim.requests_path.parent, work / "sim")
    monkeypatch.setenv("CLUSTERKIT_NB_DIR", str(work))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    plots = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    if path.stem == "01_quickstart":
        assert "<iframe srcdoc=" in html  # the report, inline
    else:
        assert len(plots) >= 1  # figures render inline
    if path.stem == "03_campaign_deep_dive":
        exported = list(work.glob("C*_accounts.csv"))
        assert len(exported) == 1 and exported[0].read_text().startswith("account_id,score,campaign_id")
