"""The ``clusterkit`` argument parser: its commands, their flags and help texts. Importing it loads
nothing heavy, so ``clusterkit --help`` is fast."""

from __future__ import annotations

import argparse

from .commands import (
    cmd_accounts,
    cmd_campaigns,
    cmd_cluster,
    cmd_clusters,
    cmd_demo,
    cmd_embed,
    cmd_evaluate,
    cmd_info,
    cmd_ingest,
    cmd_report,
    cmd_run,
    cmd_score,
    cmd_simulate,
)

DEFAULT_DB = "data/clusterkit.duckdb"
DEFAULT_SAMPLE = "data/sample"
DEFAULT_REPORT = "data/report.html"


def _add_mapping(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("field mapping (dotted paths; detected when absent)")
    g.add_argument("--text", help="prompt text, or a chat request body / messages list (e.g. request)")
    g.add_argument("--account", help="account id (e.g. account.id)")
    g.add_argument("--time", help="request time: ISO-8601, epoch s or ms (e.g. created_at)")
    g.add_argument("--id", help="request id; rows without one get a content-derived id")
    g.add_argument(
        "--time-format",
        help="strptime format of the time field when it is neither ISO-8601 nor epoch (e.g. '%%d/%%m/%%Y %%H:%%M'; UTC unless it has %%z)",
    )
    g.add_argument(
        "--encoding",
        help="what CSV and JSON files are written in when not UTF-8 (e.g. cp1252, gb18030, shift_jis)",
    )
    g.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="extra field; NAME model, org_id, ip or user_agent fills that column, "
        "any other NAME lands in `extra`. Repeatable.",
    )


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"DuckDB store (default {DEFAULT_DB})")


def _add_export(p: argparse.ArgumentParser, formats: list[str], what: str) -> None:
    """--run, --format and --out of the commands that list a run's results."""
    p.add_argument("--run", type=int, default=None, help=f"{what} run (default: the latest)")
    p.add_argument("--format", choices=formats, default=formats[0])
    p.add_argument("--out", help="write to this file instead of standard output (csv, json)")


def _add_model(p: argparse.ArgumentParser, *, gpu: bool = False) -> None:
    p.add_argument(
        "--model",
        default=None,
        help="sentence-transformers model name or local folder, 'multilingual' (bundled Universal Sentence "
        "Encoder multilingual v3: a prompt and its translation land together) or 'static' (its fast static "
        "distillation, for first-pass triage) (default: bundled all-MiniLM-L6-v2)",
    )
    p.add_argument(
        "--backend",
        default="openvino-int8",
        choices=["torch", "onnx", "onnx-int8", "openvino", "openvino-int8", *(["cuml"] if gpu else [])],
        help="inference backend (default openvino-int8: fastest on CPU, checked against torch)"
        + ("; cuml: the GPU path (torch on CUDA, cuML UMAP and HDBSCAN)" if gpu else ""),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clusterkit",
        description="Find distillation campaigns in LLM API request logs.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ingest", help="load request logs (JSONL[.gz], JSON, CSV, Parquet) into the store")
    p.add_argument("logs", nargs="+", metavar="LOG", help="files, globs or folders")
    _add_db(p)
    p.add_argument("--strict", action="store_true", help="exit with status 3 if any row is quarantined")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes parsing large JSON-lines files (default: one per CPU, at most 4; 1 = serial)",
    )
    _add_mapping(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("info", help="what the store holds")
    _add_db(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("simulate", help="write a labelled simulated log (requests.jsonl + truth.csv)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--corpora", help="folder of *.jsonl.gz prompt corpora (e.g. ../shared/data/prompts)")
    p.add_argument("--size", default="tiny", choices=["tiny", "small", "medium", "large"])
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("embed", help="embed the prompts the store has no vectors for yet")
    _add_db(p)
    _add_model(p)
    p.add_argument("--batch-size", type=int, default=32, help="texts per model call (default 32)")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: the backend's choice)")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="where to encode (default local)")
    ray = p.add_argument_group("Ray engine (with --engine ray only)")
    ray.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray instance)")
    ray.add_argument("--export-dir", default=None, help="folder for the Parquet hand-off (shared storage on a cluster)")
    ray.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Ray workers, one model each (default: (CPUs - 1) / threads, at least 1: one CPU stays free for reading)",
    )
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("cluster", help="embed, map (UMAP), cluster (HDBSCAN) and describe all prompts")
    _add_db(p)
    _add_model(p, gpu=True)
    p.add_argument("--n-components", type=int, default=5, help="UMAP dimensions for clustering (default 5)")
    p.add_argument("--n-neighbors", type=int, default=15, help="UMAP neighbours (default 15)")
    p.add_argument(
        "--min-cluster-size",
        type=int,
        default=None,
        help="HDBSCAN min_cluster_size (default: scaled to the data, 0.5*sqrt(n), at least 8)",
    )
    p.add_argument("--min-samples", type=int, default=None, help="HDBSCAN min_samples (default min(5, size))")
    p.add_argument("--seed", type=int, default=42, help="random state (default 42)")
    p.add_argument("--limit", type=int, default=20, help="clusters to print (default 20)")
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser("clusters", help="list the clusters of a run with keywords and examples")
    _add_db(p)
    _add_export(p, ["table", "csv", "json"], "cluster")
    p.add_argument("--limit", type=int, default=1_000_000, help="at most this many clusters")
    p.set_defaults(func=cmd_clusters)

    p = sub.add_parser("score", help="score accounts and group coordinated ones into campaigns")
    _add_db(p)
    p.add_argument("--run", type=int, default=None, help="cluster run to score (default: the latest)")
    p.add_argument(
        "--fdr",
        type=float,
        default=0.05,
        help="flag groups whose q-value against matched random groups of ordinary accounts is at most this (0.05)",
    )
    p.add_argument(
        "--threshold", type=float, default=None, help="flag at this fixed score instead of by calibration (e.g. 0.5)"
    )
    p.add_argument("--window-hours", type=float, default=6.0, help="co-activity time window (default 6 h)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("accounts", help="export account scores (account_id,score,flagged,campaign_id,reasons)")
    _add_db(p)
    _add_export(p, ["csv", "json"], "score")
    p.add_argument("--flagged", action="store_true", help="only flagged accounts")
    p.set_defaults(func=cmd_accounts)

    p = sub.add_parser("campaigns", help="list the campaigns of a score run")
    _add_db(p)
    _add_export(p, ["table", "csv", "json"], "score")
    p.add_argument("--limit", type=int, default=1000, help="at most this many campaigns")
    p.set_defaults(func=cmd_campaigns)

    p = sub.add_parser("evaluate", help="compare account scores with a truth file (account_id,label,group)")
    _add_db(p)
    p.add_argument("--truth", required=True, help="truth CSV, e.g. from `clusterkit simulate`")
    p.add_argument("--run", type=int, default=None, help="score run (default: the latest)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("run", help="ingest -> embed -> map -> cluster -> score, in one command")
    p.add_argument("logs", nargs="+", metavar="LOG", help="files, globs or folders")
    _add_db(p)
    p.add_argument("--workers", type=int, default=None, help="ingest parser processes (default: one per CPU)")
    _add_mapping(p)
    _add_model(p, gpu=True)
    p.add_argument("--min-cluster-size", type=int, default=None, help="HDBSCAN min_cluster_size (default scaled)")
    p.add_argument("--seed", type=int, default=42, help="random state (default 42)")
    _add_report(p, required=False)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="write the self-contained interactive HTML report of a run")
    _add_db(p)
    p.add_argument("--run", type=int, default=None, help="score or cluster run (default: the latest score run)")
    _add_report(p, required=True)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="run the main job on the bundled sample data")
    _add_db(p)
    p.add_argument("--sample", default=DEFAULT_SAMPLE, help=f"sample folder (default {DEFAULT_SAMPLE})")
    p.add_argument("--report", default=DEFAULT_REPORT, help=f"HTML report to write (default {DEFAULT_REPORT})")
    p.set_defaults(func=cmd_demo)
    return parser


def _add_report(p: argparse.ArgumentParser, *, required: bool) -> None:
    flag = "--out" if required else "--report"
    p.add_argument(flag, required=required, default=None, metavar="OUT.html", help="HTML report to write")
    p.add_argument("--pseudonymise", action="store_true", help="replace account ids by account-0001... in the report")


def _version() -> str:
    from .. import __version__

    return f"clusterkit {__version__}"
