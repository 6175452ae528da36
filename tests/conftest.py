from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from clusterkit.store import Store

SHARED_PROMPTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prompts"


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
