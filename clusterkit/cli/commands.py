"""The ``cmd_*`` functions of the ``clusterkit`` commands: each a thin call into the library function
of the same name, its heavy imports inside it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..export import safe_csv
from .output import (
    _bar,
    _console,
    _print_campaigns,
    _print_clusters,
    _print_info,
    _print_ingest,
    _print_report,
    _print_score,
    _Printer,
    _records_json,
    _table_to_terminal,
    _write_out,
)


def _fields(args: argparse.Namespace) -> Any:
    """The field map of the ingest mapping flags."""
    from ..mapping import FieldMap

    return FieldMap.from_options(
        text=args.text, account=args.account, time=args.time, id=args.id, meta=args.meta, time_format=args.time_format
    )


def _ingest_logs(console: Any, store: Any, args: argparse.Namespace) -> Any:
    """Ingest ``args.logs`` with the mapping flags and a progress bar; return the report."""
    from ..ingest import ingest

    bar, update = _bar(console, "ingesting", "bytes")
    with bar:
        return ingest(
            store, args.logs, fields=_fields(args), encoding=args.encoding, workers=args.workers, progress=update
        )


def _engine_params(args: argparse.Namespace, **extra: Any) -> Any:
    from ..pipeline import EngineParams

    return EngineParams(
        model=args.model, backend=args.backend, min_cluster_size=args.min_cluster_size, random_state=args.seed, **extra
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    from ..store import Store

    console = _console()
    with Store(args.db) as store:
        report = _ingest_logs(console, store, args)
    _print_ingest(console, report)
    if args.strict and report.quarantined:
        console.print(f"[red]--strict: {report.quarantined} row(s) quarantined; see the quarantine table[/red]")
        return 3
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..store import Store

    with Store(args.db, read_only=True) as store:
        _print_info(_console(), store.info())
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from ..embed import embed
    from ..store import Store

    ray = None
    if args.engine == "ray":
        from ..ray_engine import RayOptions

        ray = RayOptions(address=args.address, export_dir=args.export_dir, workers=args.workers)
    elif given := [
        f
        for f, v in (("--address", args.address), ("--export-dir", args.export_dir), ("--workers", args.workers))
        if v is not None
    ]:
        raise InputError(f"{', '.join(given)}: Ray engine options; add --engine ray (or leave them out)")
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
                ray=ray,
            )
    rate = report.embedded / report.seconds if report.seconds and report.embedded else 0
    console.print(
        f"{report.model_id}: embedded {report.embedded:,} prompts ({rate:,.0f}/s), "
        f"{report.cached:,} already cached, {report.truncated:,} truncated to the model window "
        + (f"(run {report.run_id})" if report.embedded else "(nothing to embed: no run recorded)")
    )
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    from ..pipeline import run
    from ..store import Store

    params = _engine_params(
        args, n_components=args.n_components, n_neighbors=args.n_neighbors, min_samples=args.min_samples
    )
    with Store(args.db, create=False) as store, _Printer(_console(), store, args.limit) as printer:
        if args.model is None:
            _note_default_model(store)
        hooks = printer.hooks(ingesting=False)
        printer.step("engine", run(store, params, stage=hooks.stage, progress=hooks.progress))
    return 0


def _note_default_model(store: Any) -> None:
    """Say on stderr when no --model was given and the store holds embeddings of other models only:
    the default model embeds every prompt again, and the embeddings made with ``embed --model`` are
    not what this map is of."""
    from ..embed import model_flag
    from ..models import resolve_model

    default = resolve_model(None).model_id
    stored = [m["model_id"] for m in store.embedding_models()]
    if not stored or any(m.rpartition("@")[0] == default for m in stored):
        return
    flags = ", ".join(dict.fromkeys(f"--model {model_flag(m)}" for m in stored))
    print(
        f"note: no --model given, so the default model ({default}) embeds the prompts; this store "
        f"already holds embeddings of {', '.join(stored)} - pass {flags} to map those instead",
        file=sys.stderr,
    )


def cmd_clusters(args: argparse.Namespace) -> int:
    from ..store import Store

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


def _score_run(store: Any, run: int | None) -> int:
    """The score run a view shows; by default the latest, with a note on stderr when it is not of
    the latest cluster run (the map ``clusters`` and ``info`` show)."""
    run_id = store.resolve_run("score", run)
    if run is None:
        _note_stale(store, run_id)
    return run_id


def _note_stale(store: Any, score_run: int | None) -> None:
    note = store.stale_score_note(score_run) if score_run is not None else None
    if note:
        print(note, file=sys.stderr)


def cmd_score(args: argparse.Namespace) -> int:
    from ..campaigns import DetectParams, score
    from ..store import Store

    console = _console()
    with Store(args.db, create=False) as store:
        result = score(
            store,
            cluster_run_id=args.run,
            params=DetectParams(flag_threshold=args.threshold, fdr=args.fdr),
            window_hours=args.window_hours,
        )
        _print_score(console, store, result)
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    from ..store import Store

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

    from ..store import Store

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

    from ..evaluate import evaluate, load_truth
    from ..store import Store

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
    from ..chain import analyse
    from ..store import Store

    with Store(args.db) as store, _Printer(_console(), store, 10) as printer:
        analyse(
            store,
            args.logs,
            fields=_fields(args),
            encoding=args.encoding,
            workers=args.workers,
            engine=_engine_params(args),
            report=args.report,
            pseudonymise=args.pseudonymise,
            hooks=printer.hooks(ingesting=True),
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report of a run."""
    from ..report import build_report
    from ..store import Store

    with Store(args.db, read_only=True) as store:
        if args.run is None:
            _note_stale(store, store.resolve_scored()[1])
        _print_report(_console(), build_report(store, run_id=args.run, pseudonymise=args.pseudonymise).save(args.out))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from ..simulate import simulate

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
    from ..chain import analyse
    from ..simulate import simulate
    from ..store import Store

    console = _console()
    sample = Path(args.sample) / "requests.jsonl"
    if not sample.exists():
        sim = simulate(args.sample, seed=0)
        console.print(f"generated the sample log {sim.requests_path} ({sim.n_requests:,} requests)")
    with Store(args.db) as store, _Printer(console, store, 12, info=True) as printer:
        analyse(store, sample, report=args.report, hooks=printer.hooks(ingesting=True))
    return 0
