"""``clusterkit`` command line. Each command is a thin call into the public library function of
the same name and parameters; heavy libraries load only inside the command that needs them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ClusterkitError
from .export import safe_csv

DEFAULT_DB = "data/clusterkit.duckdb"
DEFAULT_SAMPLE = "data/sample"
DEFAULT_REPORT = "data/report.html"


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 140)


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
        help="sentence-transformers model name or local folder (default: bundled all-MiniLM-L6-v2)",
    )
    p.add_argument(
        "--backend",
        default="openvino-int8",
        choices=["torch", "onnx", "onnx-int8", "openvino", "openvino-int8", *(["cuml"] if gpu else [])],
        help="inference backend (default openvino-int8: fastest on CPU, checked against torch)"
        + ("; cuml: the GPU path (torch on CUDA, cuML UMAP and HDBSCAN)" if gpu else ""),
    )


def _bar(console: Any, description: str, unit: str = "items") -> tuple[Any, Any]:
    """A transient rich progress bar and an ``update(done, total)`` callback for it."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        amount,
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task(description, total=None)
    phase = {"total": None}

    def update(done: int, total: int) -> None:
        # a new total is a new phase of the stage (UMAP's epochs, then its transform): restart the
        # clock so the ETA is the phase's
        if phase["total"] is not None and total != phase["total"]:
            bar.reset(task, total=total)
        phase["total"] = total
        bar.update(task, completed=done, total=total)

    return bar, update


def _print_ingest(console: Any, report: Any) -> None:
    from rich.table import Table

    t = Table(title=f"ingest (run {report.run_id}, {report.seconds:.1f}s)", show_header=False)
    t.add_row("files", str(len(report.files)))
    t.add_row("rows read", f"{report.read:,}")
    t.add_row("ingested", f"{report.ingested:,}")
    t.add_row("duplicates skipped", f"{report.duplicates:,}")
    t.add_row("quarantined", f"{report.quarantined:,}")
    for reason, n in sorted(report.quarantine_reasons.items()):
        t.add_row(f"  {reason}", f"{n:,}")
    t.add_row("new prompts", f"{report.new_prompts:,}")
    console.print(t)
    if report.future:
        console.print(
            f"[yellow]{report.future:,} request(s) timed more than a day after now: a unit, zone or clock "
            "mistake? (ingested; see `clusterkit info`)[/yellow]"
        )
    for f in report.files:
        mapped = ", ".join(f"{k}={v}" for k, v in f.fields.items() if v and k != "meta")
        console.print(_plain(f"{f.path} ({f.format}, {f.rows:,} rows): {mapped}"), style="dim")
        if f.rows == 0:
            console.print(_plain(f"  {f.path}: empty - no rows read"), style="yellow")
        elif f.mostly_quarantined:
            console.print(
                _plain(
                    f"  {f.path}: {f.quarantined:,} of {f.rows:,} rows quarantined - is it really {f.format}, "
                    "and are the fields mapped? (see the quarantine table)"
                ),
                style="yellow",
            )
        if f.kept:  # source keys are log content: never read as markup
            console.print(_plain(f"  kept in extra.columns: {', '.join(f.kept)}"), style="dim")
        for name in f.missing_meta:
            path = f.fields["meta"].get(name)
            console.print(_plain(f"  --meta {name}={path}: no value at that path in the first records"), style="yellow")


def _print_info(console: Any, info: Any) -> None:
    from rich.table import Table

    t = Table(title=f"{info.path} (schema v{info.schema_version})", show_header=False)
    t.add_row("requests", f"{info.requests:,}")
    t.add_row("distinct prompts", f"{info.prompts:,}")
    t.add_row("system prompts", f"{info.system_prompts:,}")
    t.add_row("accounts", f"{info.accounts:,}")
    span = f"{info.first_ts:%Y-%m-%d %H:%M} .. {info.last_ts:%Y-%m-%d %H:%M} UTC" if info.first_ts else "-"
    t.add_row("time span", span)
    t.add_row("top models", ", ".join(f"{m} ({n:,})" for m, n in info.top_models) or "-")
    t.add_row("quarantined", f"{info.quarantined:,}")
    for reason, n in info.quarantine:
        t.add_row(f"  {reason}", f"{n:,}")
    t.add_row("embeddings", ", ".join(f"{m} ({n:,})" for m, n in info.embeddings) or "-")
    latest = info.latest_cluster_run
    if latest:
        t.add_row(
            "latest cluster run",
            f"run {latest['run_id']}: {latest['n_clusters']} clusters, {latest['noise_share']:.0%} noise",
        )
    t.add_row("runs", ", ".join(f"{k} x{n}" for k, n in info.runs) or "-")
    console.print(t)


def _fields(args: argparse.Namespace) -> Any:
    """The field map of the ingest mapping flags."""
    from .mapping import FieldMap

    return FieldMap.from_options(
        text=args.text, account=args.account, time=args.time, id=args.id, meta=args.meta, time_format=args.time_format
    )


def _ingest_logs(console: Any, store: Any, args: argparse.Namespace) -> Any:
    """Ingest ``args.logs`` with the mapping flags and a progress bar; return the report."""
    from .ingest import ingest

    bar, update = _bar(console, "ingesting", "bytes")
    with bar:
        return ingest(store, args.logs, fields=_fields(args), workers=args.workers, progress=update)


class _Printer:
    """Progress bars and results of the chain's steps, as :class:`clusterkit.chain.Hooks`: a bar
    per step while it runs, then what it did (the ingest summary, the run and its clusters, the
    campaigns, the report's path)."""

    def __init__(self, console: Any, store: Any, limit: int, *, info: bool = False) -> None:
        self.console, self.store, self.limit, self.info = console, store, limit, info
        self.ingest_bar, self.ingest_update = _bar(console, "ingesting", "bytes")
        self.engine_bar, self.engine_update = _bar(console, "embedding prompts")
        self.live: Any = None

    def _show(self, bar: Any) -> None:
        if self.live is not None:
            self.live.stop()
        self.live = bar
        if bar is not None:
            bar.start()

    def __enter__(self) -> _Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._show(None)

    def hooks(self, *, ingesting: bool) -> Any:
        from .chain import Hooks

        self._show(self.ingest_bar if ingesting else self.engine_bar)
        return Hooks(ingest_progress=self.ingest_update, stage=self.stage, progress=self.engine_update, step=self.step)

    def stage(self, name: str) -> None:
        # each stage restarts the bar: its elapsed time is the stage's. Embedding, the exact neighbour
        # graph (below 30k prompts), UMAP (epochs, then the transform of rows outside its sample) and
        # HDBSCAN's placement of rows outside its sample and the keywords report done/total, so they
        # show an ETA; pynndescent's graph and HDBSCAN's fit show elapsed time and a pulsing bar
        self.engine_bar.reset(self.engine_bar.task_ids[0], description=name, total=None)

    def step(self, name: str, result: Any) -> None:
        console = self.console
        if name == "ingest":
            self._show(None)
            _print_ingest(console, result)
            if self.info:
                _print_info(console, self.store.info())
            self._show(self.engine_bar)
        elif name == "engine":
            self._show(None)
            how = "reused the stored run" if result.reused else "new run"
            console.print(
                f"run {result.run_id} ({how}): {result.n_prompts:,} prompts, {result.n_clusters} clusters, "
                f"{result.noise_share:.0%} noise"
            )
            if not result.reused:
                console.print("[dim]" + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()) + "[/dim]")
            _print_clusters(console, self.store, result.run_id, self.limit)
        elif name == "score":
            how = "reused the stored run" if result.reused else "new run"
            console.print(
                f"score run {result.run_id} ({how}): {result.n_accounts:,} accounts, {result.n_flagged:,} flagged, "
                f"{result.n_campaigns} campaigns"
            )
            _print_campaigns(console, self.store, result.run_id)
        elif name == "report":
            _print_report(console, result)


def _engine_params(args: argparse.Namespace, **extra: Any) -> Any:
    from .pipeline import EngineParams

    return EngineParams(
        model=args.model, backend=args.backend, min_cluster_size=args.min_cluster_size, random_state=args.seed, **extra
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    from .store import Store

    console = _console()
    with Store(args.db) as store:
        report = _ingest_logs(console, store, args)
    _print_ingest(console, report)
    if args.strict and report.quarantined:
        console.print(f"[red]--strict: {report.quarantined} row(s) quarantined; see the quarantine table[/red]")
        return 3
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .store import Store

    with Store(args.db, read_only=True) as store:
        _print_info(_console(), store.info())
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from .embed import embed
    from .store import Store

    console = _console()
    with Store(args.db, create=False) as store:
        bar, update = _bar(console, "embedding prompts")
        with bar:
            report = embed(
                store,
                model=args.model,
                backend=args.backend,
                batch_size=args.batch_size,
                threads=args.threads,
                progress=update,
                engine=args.engine,
                address=args.address,
                export_dir=args.export_dir,
                workers=args.workers,
            )
    rate = report.embedded / report.seconds if report.seconds and report.embedded else 0
    console.print(
        f"{report.model_id}: embedded {report.embedded:,} prompts ({rate:,.0f}/s), "
        f"{report.cached:,} already cached, {report.truncated:,} truncated to the model window "
        + (f"(run {report.run_id})" if report.embedded else "(nothing to embed: no run recorded)")
    )
    return 0


def _print_clusters(console: Any, store: Any, run_id: int, limit: int) -> None:
    from rich.table import Table

    df = store.clusters(run_id)
    t = Table(title=f"clusters of run {run_id}")
    for col in ("cluster", "prompts", "requests", "accounts", "keywords", "example"):
        t.add_column(col, overflow="fold")
    for row in df.head(limit).itertuples():
        example = row.representatives[0][:90] if len(row.representatives) else ""
        name = "noise" if row.cluster < 0 else str(row.cluster)
        t.add_row(
            name,
            f"{row.n_prompts:,}",
            f"{row.n_requests:,}",
            f"{row.n_accounts:,}",
            _plain(", ".join(row.keywords[:6])),
            _plain(example),
        )
    console.print(t)
    if len(df) > limit:
        console.print(
            f"[dim]... {len(df) - limit} more; see `clusterkit clusters --db {store.path} --run {run_id}`[/dim]"
        )


def _plain(text: str) -> Any:
    """Log text shown as it is (never read as rich markup), its invisible and direction-changing
    characters made visible."""
    from rich.text import Text

    from .textnorm import visible

    return Text(visible(text))


def cmd_cluster(args: argparse.Namespace) -> int:
    from .pipeline import run
    from .store import Store

    params = _engine_params(
        args, n_components=args.n_components, n_neighbors=args.n_neighbors, min_samples=args.min_samples
    )
    with Store(args.db, create=False) as store, _Printer(_console(), store, args.limit) as printer:
        hooks = printer.hooks(ingesting=False)
        printer.step("engine", run(store, params, stage=hooks.stage, progress=hooks.progress))
    return 0


def cmd_clusters(args: argparse.Namespace) -> int:
    from .store import Store

    _table_to_terminal(args)
    with Store(args.db, read_only=True) as store:
        run_id = store.resolve_run("cluster", args.run)
        if args.format == "table":
            _print_clusters(_console(), store, run_id, args.limit)
            return 0
        df = store.clusters(run_id).head(args.limit)
        for col in ("first_seen", "last_seen"):
            df[col] = df[col].astype(str)
        df["keywords"] = df["keywords"].map(list)
        if args.format == "csv":
            df["keywords"] = df["keywords"].map(" | ".join)
            df["representatives"] = df["representatives"].map(" | ".join)
            text = safe_csv(df)
        else:
            text = _records_json(df)
        _write_out(text, args.out)
    return 0


def _records_json(df: Any) -> str:
    """A DataFrame as a JSON array of records (UTF-8 as is, timestamps as ISO strings, NaN as null)."""
    import orjson

    records = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    return orjson.dumps(records, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode()


def _table_to_terminal(args: argparse.Namespace) -> None:
    """A table is for the terminal: ``--out`` with it would write nothing, so it is refused."""
    if args.out and args.format == "table":
        raise ClusterkitError(f"--out {args.out}: the table format prints to the terminal; add --format csv or json")


def _write_out(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _score_run(store: Any, run: int | None) -> int:
    return store.resolve_run("score", run)


def _print_campaigns(console: Any, store: Any, run_id: int, limit: int = 20) -> None:
    from rich.table import Table

    df = store.campaigns(run_id)
    flagged = df[df["flagged"]]
    t = Table(title=f"campaigns of score run {run_id} ({len(flagged)} flagged of {len(df)} candidate groups)")
    for col in (
        "campaign",
        "score",
        "q",
        "chance groups",
        "accounts",
        "requests",
        "active",
        "capability areas",
        "signals",
    ):
        t.add_column(col, overflow="fold")
    for row in df.head(limit).itertuples():
        span = f"{row.first_seen:%m-%d %H:%M} .. {row.last_seen:%m-%d %H:%M}" if row.first_seen is not None else "-"
        name = f"{row.campaign_id}{' (flagged)' if row.flagged else ''}"
        calibrated = row.q_value == row.q_value and row.q_value is not None  # NaN/None: not calibrated
        t.add_row(
            name,
            f"{row.score:.2f}",
            f"{row.q_value:.3g}" if calibrated else "-",
            f"{row.expected_false_groups:.2g}" if calibrated else "-",
            f"{row.n_accounts:,}",
            f"{row.n_requests:,}",
            span,
            _plain(", ".join(list(row.keywords)[:6])),
            _plain("; ".join(row.signals)),
        )
    console.print(t)


def cmd_score(args: argparse.Namespace) -> int:
    from .campaigns import DetectParams, score
    from .store import Store

    console = _console()
    with Store(args.db, create=False) as store:
        result = score(
            store,
            cluster_run_id=args.run,
            params=DetectParams(flag_threshold=args.threshold, fdr=args.fdr),
            window_hours=args.window_hours,
        )
        how = "reused the stored run" if result.reused else "new run"
        console.print(
            f"score run {result.run_id} ({how}, from cluster run {result.cluster_run_id}): "
            f"{result.n_accounts:,} accounts, {result.n_flagged:,} flagged, "
            f"{result.n_campaigns} campaigns"
        )
        _print_campaigns(console, store, result.run_id)
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    from .store import Store

    with Store(args.db, read_only=True) as store:
        df = store.account_scores(_score_run(store, args.run))
    if args.flagged:
        df = df[df["flagged"]]
    df = df[["account_id", "score", "flagged", "campaign_id", "reasons", "n_requests"]]
    text = safe_csv(df) if args.format == "csv" else _records_json(df)
    _write_out(text, args.out)
    return 0


def cmd_campaigns(args: argparse.Namespace) -> int:
    import orjson

    from .store import Store

    _table_to_terminal(args)
    with Store(args.db, read_only=True) as store:
        run_id = _score_run(store, args.run)
        if args.format == "table":
            _print_campaigns(_console(), store, run_id, limit=args.limit)
            return 0
        df = store.campaigns(run_id).head(args.limit)
    for col in ("first_seen", "last_seen"):
        df[col] = df[col].astype(str)
    for col in ("signals", "keywords", "examples"):
        df[col] = df[col].map(list)
    df["evidence"] = df["evidence"].map(orjson.loads)
    if args.format == "csv":
        for col in ("signals", "keywords", "examples"):
            df[col] = df[col].map(" | ".join)
        df["evidence"] = df["evidence"].map(lambda e: orjson.dumps(e).decode())
        text = safe_csv(df)
    else:
        text = _records_json(df)
    _write_out(text, args.out)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .evaluate import evaluate, load_truth
    from .store import Store

    truth = load_truth(args.truth)
    with Store(args.db, read_only=True) as store:
        run_id = _score_run(store, args.run)
        ev = evaluate(store.account_scores(run_id), truth)
    console = _console()
    if args.format == "json":
        import json

        _write_out(json.dumps(ev.as_dict(), indent=1), None)
        return 0
    t = Table(title=f"evaluation of score run {run_id} against {args.truth}", show_header=False)
    t.add_row("average precision", f"{ev.average_precision:.3f}")
    t.add_row("recall at 1% organic FPR", f"{ev.recall_at_1pct_fpr:.3f}")
    t.add_row("flagged recall", f"{ev.flagged_recall:.3f}")
    t.add_row("flagged FPR (organic)", f"{ev.flagged_fpr:.3%}")
    t.add_row("campaign grouping ARI", f"{ev.ari:.3f}")
    for g in ev.groups:
        t.add_row(f"  {g.group}", f"{g.flagged}/{g.accounts} flagged")
    if ev.missing_scores or ev.unlabelled_scores:
        t.add_row("accounts without score / without label", f"{ev.missing_scores} / {ev.unlabelled_scores}")
    console.print(t)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """ingest -> embed -> reduce -> cluster -> score (-> report), in one command."""
    from .chain import analyse
    from .store import Store

    with Store(args.db) as store, _Printer(_console(), store, 10) as printer:
        analyse(
            store,
            args.logs,
            fields=_fields(args),
            workers=args.workers,
            engine=_engine_params(args),
            report=args.report,
            pseudonymise=args.pseudonymise,
            hooks=printer.hooks(ingesting=True),
        )
    return 0


def _print_report(console: Any, path: Path) -> None:
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB) — open it in a browser")


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report of a run."""
    from .report import build_report
    from .store import Store

    with Store(args.db, read_only=True) as store:
        _print_report(_console(), build_report(store, run_id=args.run, pseudonymise=args.pseudonymise).save(args.out))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from .simulate import simulate

    sim = simulate(args.out, corpora=args.corpora, size=args.size, seed=args.seed)
    console = _console()
    console.print(
        f"wrote {sim.n_requests:,} requests from {sim.n_accounts:,} accounts "
        f"(+{sim.n_bad_lines} bad lines) to {sim.requests_path}; labels in {sim.truth_path}"
    )
    console.print(", ".join(f"{g}: {n}" for g, n in sim.groups.items()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded defaults: sample log -> store -> summary."""
    from .chain import analyse
    from .simulate import simulate
    from .store import Store

    console = _console()
    sample = Path(args.sample) / "requests.jsonl"
    if not sample.exists():
        sim = simulate(args.sample, seed=0)
        console.print(f"generated the sample log {sim.requests_path} ({sim.n_requests:,} requests)")
    with Store(args.db) as store, _Printer(console, store, 12, info=True) as printer:
        analyse(store, sample, report=args.report, hooks=printer.hooks(ingesting=True))
    return 0


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
    p.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray instance)")
    p.add_argument("--export-dir", default=None, help="folder for the Parquet hand-off (shared storage on a cluster)")
    p.add_argument(
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
    from . import __version__

    return f"clusterkit {__version__}"


_INTERRUPTED = {
    "ingest": "nothing of this ingest was stored (it is one transaction); run it again",
    "embed": "every finished chunk of vectors is stored; run it again to resume",
    "cluster": "finished embeddings are stored; the unfinished run is marked failed; run it again to resume",
    "demo": "finished steps are stored; run it again to resume",
    "run": "finished steps are stored (ingest is all or nothing); run it again to resume",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ClusterkitError as exc:
        print(f"clusterkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the environment: a file that cannot be written, a full disk, a permission
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"clusterkit {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = _INTERRUPTED.get(args.command, "work committed before the interruption is kept")
        print(f"clusterkit {args.command}: interrupted; {kept}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
