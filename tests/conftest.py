from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from clusterkit.store import Store

#: the shared prompt corpora: ``$CLUSTERKIT_CORPORA``, else ``../shared/data/prompts`` next to the
#: repository (tests that need them skip cleanly when absent)
SHARED_PROMPTS = Path(
    os.environ.get("CLUSTERKIT_CORPORA") or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prompts"
)


def bench_module(name: str) -> Any:
    """A module of ``bench/`` (not a package), loaded once by file path."""
    import importlib.util

    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def pytest_configure(config: pytest.Config) -> None:
    """Model exports and quantisations go to a fresh cache per test session, so the suite always
    exercises preparing them (set CLUSTERKIT_TEST_CACHE to reuse a folder while developing)."""
    import os
    import tempfile

    keep = os.environ.get("CLUSTERKIT_TEST_CACHE")
    os.environ["CLUSTERKIT_CACHE"] = keep or tempfile.mkdtemp(prefix="ck-cache-")
    config._ck_temp_cache = None if keep else os.environ["CLUSTERKIT_CACHE"]  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    folder = getattr(config, "_ck_temp_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def nested(i: int, account: str = "a1", text: str = "hello", **over: Any) -> dict[str, Any]:
    """One request in the nested request-log format of the issue."""
    rec: dict[str, Any] = {
        "id": f"r{i}",
        "account": {"id": account},
        "created_at": f"2026-03-01T10:{i % 60:02d}:00Z",
        "request": {"model": "m-large", "system": "You are helpful.", "messages": [{"role": "user", "content": text}]},
        "client": {"ip": "10.0.0.1", "user_agent": "python-httpx/0.27"},
    }
    rec.update(over)
    return rec


def write_jsonl(path: Path, records: list[Any], gz: bool = False) -> Path:
    data = b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "store.duckdb") as s:
        yield s


@pytest.fixture
def shared_prompts() -> Path:
    if not SHARED_PROMPTS.is_dir():
        pytest.skip(f"shared prompt corpora not found at {SHARED_PROMPTS}")
    return SHARED_PROMPTS


XSS_ACCOUNT = '<img src=x onerror="window.__xss=1;alert(1)">'
XSS_PROMPTS = (
    "<script>window.__xss=2;alert(1)</script> Write a function that reverses a linked list.",
    '<img src=x onerror="window.__xss=3;alert(1)"> Summarise the causes of the French revolution.',
    '"><svg onload="window.__xss=4">& explain TCP handshakes </textarea></script>',
)


def _set_text(rec: dict[str, Any], text: str) -> None:
    msg = rec["request"]["messages"][-1]
    if isinstance(msg["content"], list):
        msg["content"] = [{"type": "text", "text": text}]
    else:
        msg["content"] = text


@pytest.fixture(scope="session")
def scored_sim(tmp_path_factory):
    """The tiny simulated log run end to end (`clusterkit run`) into a real DuckDB file, with
    attacker-style strings planted: one campaign account's id and a few of its prompts are XSS
    payloads. Returns (db path, simulation, truth DataFrame)."""
    import pandas as pd

    from clusterkit.cli import main
    from clusterkit.simulate import simulate

    tmp = tmp_path_factory.mktemp("scored")
    sim = simulate(tmp / "sim", seed=0)
    truth = pd.read_csv(sim.truth_path)
    target = truth.loc[truth["group"] == "campaign:grader", "account_id"].iloc[0]
    lines = sim.requests_path.read_bytes().splitlines()
    planted = 0
    for i, line in enumerate(lines):
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # the simulator's deliberately bad lines stay as they are
        if rec.get("account", {}).get("id") != target:
            continue
        rec["account"]["id"] = XSS_ACCOUNT
        if planted < len(XSS_PROMPTS):
            _set_text(rec, XSS_PROMPTS[planted])
            planted += 1
        lines[i] = orjson.dumps(rec)
    sim.requests_path.write_bytes(b"\n".join(lines) + b"\n")
    truth.loc[truth["account_id"] == target, "account_id"] = XSS_ACCOUNT
    truth.to_csv(sim.truth_path, index=False)
    db = tmp / "c.duckdb"
    assert main(["run", str(sim.requests_path), "--db", str(db), "--report", str(tmp / "report.html")]) == 0
    return db, sim, truth


def store_holder(db: Path, then: str = "") -> subprocess.Popen:
    """Another process that opens the store ``db`` for writing, runs the statements ``then`` (with
    the open store as ``store``) and waits for a line on its stdin; returned once it is waiting."""
    code = f"import sys\nfrom clusterkit.store import Store\nstore = Store({str(db)!r})\n"
    code += textwrap.dedent(then) + "\nprint('ready', flush=True)\nsys.stdin.readline()\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child
