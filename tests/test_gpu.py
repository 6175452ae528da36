"""The GPU path's plumbing (cuML itself needs a GPU: bench/gpu_check.sh checks it there)."""

import numpy as np
import pytest
from conftest import nested, write_jsonl

from clusterkit import gpu
from clusterkit.cli import main


def test_without_cuml_the_gpu_path_says_what_is_missing(tmp_path, capsys):
    if gpu.available():
        pytest.skip("cuML is installed here")
    log = write_jsonl(tmp_path / "l.jsonl", [nested(i, "a1", f"prompt {i}") for i in range(5)])
    db = str(tmp_path / "s.duckdb")
    assert main(["ingest", str(log), "--db", db]) == 0
    assert main(["cluster", "--db", db, "--backend", "cuml"]) == 2
    assert "needs RAPIDS cuML" in capsys.readouterr().err


def test_cuml_results_come_back_as_numpy():
    class FakeEstimator:  # what a cuML estimator looks like from outside
        probabilities_ = (0.5, 1.0, 0.0)

        def fit_transform(self, X):
            return [[float(x[0]), 0.0] for x in X]

        def fit_predict(self, X):
            return [0, 0, -1]

    wrapped = gpu._Numpy(FakeEstimator())
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = wrapped.fit_transform(X)
    assert out.dtype == np.float32 and out.shape == (3, 2)
    assert wrapped.fit_predict(X).tolist() == [0, 0, -1] and wrapped.probabilities_.dtype == np.float32


def test_an_installed_cuml_that_fails_to_import_says_so(tmp_path, monkeypatch):
    """A cuML that is installed but cannot load (driver mismatch) is not reported as missing."""
    if gpu.available():
        pytest.skip("cuML imports here")
    broken = tmp_path / "site" / "cuml"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise OSError('libcudart.so.12: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(gpu.ModelError) as exc:
        gpu._require()
    assert "installed but fails to import" in str(exc.value) and "libcudart" in str(exc.value)
