"""What the ``clusterkit`` commands print and write: the console, progress bars, the chain's
:class:`_Printer` hooks, the summary tables and the csv/json writers. rich loads inside each function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ClusterkitError


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 140)


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

    from ..readers import SUPPORTED_SUFFIXES as SUPPORTED

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
    if report.skipped:  # file names are log content too: never read as markup
        shown = ", ".join(report.skipped[:10]) + (
            f" and {len(report.skipped) - 10} more" if len(report.skipped) > 10 else ""
        )
        console.print(
            _plain(f"skipped {len(report.skipped)} file(s) that are no log ({', '.join(SUPPORTED)}): {shown}"),
            style="yellow",
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
    for r in info.recent_runs:  # newest first: the ids --run takes
        what = [f"{r['kind']} ({r['status']})", f"{r['started_at']:%Y-%m-%d %H:%M}"]
        what += [f"model {r['model_id']}"] if r["model_id"] else []
        what += [f"of run {r['parent_run_id']}"] if r["parent_run_id"] is not None else []
        t.add_row(f"  run {r['run_id']}", _plain(", ".join(what)))
    console.print(t)


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
        from ..chain import Hooks

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
            model = self.store.run(result.run_id)["params"].get("model_id", "?")
            console.print(
                f"run {result.run_id} ({how}, embeddings of {model}): {result.n_prompts:,} prompts, "
                f"{result.n_clusters} clusters, {result.noise_share:.0%} noise"
            )
            if not result.reused:
                console.print("[dim]" + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()) + "[/dim]")
            _print_clusters(console, self.store, result.run_id, self.limit)
        elif name == "score":
            _print_score(console, self.store, result)
        elif name == "report":
            _print_report(console, result)


def _print_score(console: Any, store: Any, result: Any) -> None:
    """A score run's line and its campaigns."""
    how = "reused the stored run" if result.reused else "new run"
    console.print(
        f"score run {result.run_id} ({how}, from cluster run {result.cluster_run_id}): "
        f"{result.n_accounts:,} accounts, {result.n_flagged:,} flagged, {result.n_campaigns} campaigns"
    )
    _print_campaigns(console, store, result.run_id)


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

    from ..textnorm import visible

    return Text(visible(text))


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


def _print_report(console: Any, path: Path) -> None:
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB) — open it in a browser")
