"""Shared helpers for the benchmarks: real prompts from ../shared/data/prompts as a request log."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import orjson

DEFAULT_CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prompts"


def real_prompts(n: int, corpora: Path = DEFAULT_CORPORA, seed: int = 0) -> list[str]:
    """``n`` distinct prompts drawn evenly from every corpus file (shuffled, reproducible)."""
    files = sorted(corpora.glob("*.jsonl.gz"))
    if not files:
        raise SystemExit(f"no corpora in {corpora}; pass --corpora DIR")
    pools = []
    for path in files:
        with gzip.open(path, "rb") as fh:
            pool = [t for t in (orjson.loads(line).get("text") for line in fh) if isinstance(t, str) and t.strip()]
        random.Random(seed).shuffle(pool)
        pools.append(pool)
    out, seen, i = [], set(), 0
    while len(out) < n and any(i < len(p) for p in pools):
        for pool in pools:
            if i < len(pool) and pool[i] not in seen and len(out) < n:
                seen.add(pool[i])
                out.append(pool[i])
        i += 1
    return out


def write_log(texts: list[str], path: Path) -> Path:
    """A flat JSONL request log, one request per prompt, 200 accounts."""
    with open(path, "wb") as fh:
        for i, text in enumerate(texts):
            fh.write(
                orjson.dumps({"id": f"b{i}", "account_id": f"a{i % 200}", "timestamp": 1767225600 + i, "prompt": text})
                + b"\n"
            )
    return path
