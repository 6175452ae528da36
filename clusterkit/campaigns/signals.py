"""Detection's SQL: per-account signals, activity cells, prompts and infrastructure of a cluster run,
templates mined from its prompts, campaign context and per-group signals. The SQL files live in
``clusterkit/campaigns/sql`` and run through the store's generic script access
(:meth:`Store.query_script`, :meth:`Store.run_script`).

``account_signals.sql`` builds the temp table ``_req`` (a cluster run's requests with their
cluster, near-duplicate family and IP prefix) that ``account_cells.sql``, ``account_prompts.sql``
and ``account_infra.sql`` read; :func:`detection_inputs` runs them together and drops the temp
tables after, so no other caller depends on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import pandas as pd

from .intent import FOLLOW_UP

__all__ = ["campaign_context", "campaign_templates", "detection_inputs", "min_family", "write_group_signals"]

#: temp tables the detection scripts create (dropped after use)
_TEMP = ("_req", "_prompt_pop", "_dup_size", "_gaps", "_hours", "_pivot", "_infra", "_affix")
#: a mined template needs this many distinct prompts sharing a prefix or suffix, at least
MIN_FAMILY = 20
#: ... and at least one in this many of the run's prompts
FAMILY_SHARE = 2000
#: a prompt's first or last line, shared whole, makes a template when this many distinct prompts
#: share it (and one in this many of the run's prompts): an exact line is far rarer by chance than
#: 40 shared characters that may run into the varying content
MIN_LINE_FAMILY = 10
LINE_FAMILY_SHARE = 4000
#: ... and when it has at least this many characters ("Thanks!" is no wrapper)
MIN_LINE_CHARS = 20
#: prompts of each mined template read to find its whole fixed part
TEMPLATE_SAMPLE = 50


def _sql(name: str) -> str:
    return resources.files("clusterkit.campaigns").joinpath("sql", name).read_text(encoding="utf-8")


def min_family(n_prompts: int) -> int:
    """Distinct prompts that must share a prefix or suffix for it to count as a mined template."""
    return max(MIN_FAMILY, n_prompts // FAMILY_SHARE)


def min_line_family(n_prompts: int) -> int:
    """Distinct prompts that must share a whole first or last line (or conversations a whole later
    turn: a scripted follow-up) for it to count as a template."""
    return max(MIN_LINE_FAMILY, n_prompts // LINE_FAMILY_SHARE)


@contextmanager
def _temp_tables(store: Any) -> Iterator[None]:
    try:
        yield
    finally:
        store.drop_temp_tables(*_TEMP)


def _mine_templates(store: Any, run_id: int) -> None:
    """(Re)create the temp table ``_affix``: templates mined from a cluster run's prompts."""
    n_prompts = int(store.sql("SELECT count(*) AS n FROM cluster_labels WHERE run_id = ?", [run_id])["n"].iloc[0])
    store.run_script(
        _sql("mined_affixes.sql"),
        {
            "run_id": run_id,
            "min_family": min_family(n_prompts),
            "min_line_family": min_line_family(n_prompts),
            "min_line": MIN_LINE_CHARS,
            "follow_up": FOLLOW_UP,
        },
    )


def detection_inputs(store: Any, run_id: int, window_seconds: int = 6 * 3600) -> dict[str, pd.DataFrame]:
    """Inputs of campaign detection for a cluster run, computed in SQL: per-account signals,
    (account, cluster, time window) activity cells, (account, prompt) counts and the
    infrastructure values each account used, and the mined templates with a sample of their prompts."""
    store.run(run_id)
    with _temp_tables(store):
        _mine_templates(store, run_id)
        signals = store.query_script(_sql("account_signals.sql"), {"run_id": run_id})
        cells = store.query_script(_sql("account_cells.sql"), {"window": window_seconds})
        prompts = store.query_script(_sql("account_prompts.sql"), {})
        infra = store.query_script(_sql("account_infra.sql"), {})
        templates = store.query_script(_sql("template_texts.sql"), {"sample": TEMPLATE_SAMPLE})
    return {"signals": signals, "cells": cells, "prompts": prompts, "infra": infra, "templates": templates}


def campaign_context(store: Any, cluster_run_id: int, members: pd.DataFrame) -> pd.DataFrame:
    """Keywords and example prompts per campaign (``members``: campaign_id, account_id)."""
    with store.registered_members(members):
        return store.query_script(_sql("campaign_context.sql"), {"run_id": cluster_run_id})


def campaign_templates(store: Any, run_id: int, members: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Per campaign, the mined templates (shared prefixes/suffixes) its accounts used most."""
    with _temp_tables(store), store.registered_members(members):
        _mine_templates(store, run_id)
        return store.query_script(_sql("campaign_templates.sql"), {"top": int(top)})


def write_group_signals(store: Any, run_id: int, cluster_run_id: int) -> None:
    """Per-cluster and per-template signals of a score run (after its account scores)."""
    with store.transaction():
        store.run_script(_sql("group_signals.sql"), {"run_id": run_id, "cluster_run": cluster_run_id})
