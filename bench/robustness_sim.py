"""Labelled API-request logs for the detection-robustness benchmark (written from threat descriptions only).

One log (:func:`build_log`) is ``requests.jsonl`` (one request per line, sorted by time, in the nested
format ``clusterkit ingest`` reads with no flags) plus ``truth.csv`` (``account_id,label,group``). Every text
is a real public prompt read at run time from the corpora folder (``../shared/data/prompts/*.jsonl.gz``), or a
template written here around such prompts; nothing is copied into the project. Within one log no corpus text is
used by two groups (a global used-set keyed by the NFC, whitespace-collapsed, case-folded text), except where the
scenario itself repeats texts inside one group (a benchmark re-run, a classroom, viral prompts, scripted probes).

**Background** (label ``organic``, group ``organic``): ``organic_accounts`` people over ``days`` days (start
2026-03-02, a Monday). Volumes are heavy-tailed (log-normal, median ~3, most 1-20; ~1.5 % power users with
100-300 requests). Each person has a time zone, an active span (many join or leave mid-log), diurnal sessions
(local-hour weights, weekday/weekend and a per-log "news day"), their own org (a minority in small team orgs),
home/mobile IPs (a minority behind a few shared corporate NATs) and one client (browsers, or popular SDK UAs that
many share; the request dialect follows the client). Personas: *searcher* (MS MARCO / NQ queries), *forum*
(BEIR community questions), *chatter* (Chatbot Arena / WildChat / OASST / HH / InstructionWild / Self-Instruct
user prompts, real multi-turn conversations replayed turn by turn with placeholder assistant answers) and
*developer* (StackExchange-style questions from an SDK, sometimes with "You are a helpful assistant.").
``web_en`` is English users (time zones mostly Americas/Europe/India); ``multilingual`` adds ~30 % Chinese users
(ShareGPT-zh conversations, Ruozhiba posts, InstructionWild zh; UTC+8) and ~18 % Russian users (WildChat-hard-ru,
capped, topped up with English; UTC+3..+7). Models: ``frontier-large`` and ``frontier-fast``; ``frontier-large-2``
is released mid-log (day ``days // 2``, 17:00 UTC) and adopted gradually by ~60 % of people.

**Attacker styles** (label ``campaign``, group ``campaign:<style>-<shape>``, one instance of each per log):

- ``sweep_en``: capability sweep over Alpaca-52k plus GPTeacher (codegen/roleplay/toolformer); every prompt once
  across the campaign; contiguous dataset slices, one slice per account (relays continue the same sweep). The
  campaign picks one wrapping: the raw instruction, the Alpaca "Below is an instruction..." template, or a
  "### Instruction / ### Input" block.
- ``sweep_zh``: the same over Alpaca-zh, BELLE-eval and MOSS-003 Chinese first turns (raw, or 指令/输入 wrapping).
- ``sweep_ru``: no Russian instruction set exists, so a Russian sweep template over varied tasks (20 task
  templates x slot banks x 13 format constraints, ~10k distinct prompts, each rendered once per log) mixed with up to ~35 % real Russian WildChat-hard prompts
  (a slice not used by the background).
- ``harvested``: replays of real user prompts (a slice of Chatbot Arena / HH / OASST / WildChat / InstructionWild
  in English, ShareGPT-zh / Ruozhiba in Chinese, WildChat-hard-ru in Russian) the background does not use; half
  the instances wrap every prompt in one fixed harvesting wrapper.
- ``reasoning``: chain-of-thought elicitation in the campaign's language: 18 English, 16 Chinese and 16 Russian
  phrasings, drawn per request, placed before the task, after it, around a question *plus its answer* ("reconstruct
  the hidden reasoning") or around a task plus a completed response ("imagine and articulate the internal
  reasoning behind a completed response"). Tasks: Alpaca / GPTeacher / FLAN-CoT (a quarter of FLAN items sent with
  their own CoT trigger only), Alpaca-zh / BELLE, Russian sweep tasks / WildChat-ru, and generated arithmetic word
  problems whose answers are known.
- ``grader``: rubric / reward-model grading: a question (instruction corpora) + one or two synthetic candidate
  responses + a rubric drawn from criteria banks, 10 English and 6 Chinese judge templates, scores asked as an
  integer, JSON, "Score: X/5", per-criterion totals, ``[[N]]``, PASS/FAIL, a 0-1 float or a pairwise winner.
- ``agentic``: agentic coding: Code-Alpaca and GPTeacher-codegen tasks wrapped as repository tasks (6 wrappers),
  with an agent system prompt and a ``tools`` list (3 tool sets); ~45 % continue for 1-3 more requests that carry
  the earlier tool calls and synthetic tool results (file contents, test output) before a new user turn. Under
  ``rotated`` infra the system prompt and tool set vary per account (the content needs a scaffold).
- ``multiturn``: multi-turn harvesting: a first prompt (GPTeacher roleplay / Alpaca / MOSS, Chinese or Russian
  equivalents) then 1-4 scripted follow-ups ("now give a harder variant", "explain the previous answer in more
  depth", "translate your answer to ..."), each request carrying all earlier turns with short placeholder answers.

**Coordination shapes** (``StyleKnobs.shape``): ``parallel``: N workers over one window (length from pacing),
each with its own slice; scripted workers' windows span ``0.6 + 0.4*overlap`` of it with staggered starts
(all active together for at least 40 % of it); human-paced workers share the operator's working sessions. ``relay``: accounts one after another (each lives ``span/accounts``, the next starts
1-40 min after the previous one's last request, never two active at once), continuing one sweep. ``swarm``:
many accounts, 3-8 requests each, all appearing within 6-36 hours. ``reseller``: accounts of a proxy network,
each with its own residential IP, UA, org and time zone, human-paced over days, mixing campaign slices with
``cover_share`` ordinary cover prompts from organic corpora.

**Infra**: ``shared``: 2-6 IPs in 1-3 datacenter /24s, one client UA, one dialect, and one org or (when orgs are
distinct) one shared system prompt. ``rotated``: a fresh random IP and one of ~25 UAs on every request, one org
per account, no system prompt. **Pacing**: ``scripted``: regular gaps (+-10 %) round the clock; ``human``:
diurnal sessions in the operator's time zone. **Overlap**: the campaign window is placed at the busiest organic
span of the same length, shifted by ``(1 - overlap) * span`` (then clipped into the log); for ``parallel`` it also
sets how far worker windows overlap. **Cover**: ``cover_share`` of each account's requests are single organic
prompts (cover traffic). One campaign per log (``Knobs.model_switch``) moves half its traffic to the new model
2-20 h after its release. Campaigns ask for large ``max_tokens`` and keep one temperature.

**Benign look-alikes** (label ``benign``, group ``benign:<name>``, must not be flagged):

- ``multikey_app`` (two instances, different tasks: translate / summarise / classify / edit / answer from
  documents): one org, 10-25 API keys load-balanced round the clock, one system prompt and one task template
  wrapped around its end users' own texts (organic corpora), a scripted client UA, one /24.
- ``benchmark_run``: a public benchmark (Arena-Hard v0.1 / AlpacaEval / WizardLM test set, first N items) run by
  one org in 1-4 accounts on two models in a 1-3 h burst, and the same items re-run by one or two other orgs on
  other days.
- ``classroom``: 15-45 new accounts in one afternoon from 1-3 school IPs (mostly one Chromebook UA), the same 3-5
  exercise questions with small typing variations, some follow-ups.
- ``popular_prompts``: 25-60 unrelated ordinary users each sending 1-3 of 6-10 viral prompts (prompts.chat /
  shared Twitter prompts, mostly verbatim) on the same 2-3 days, plus their own ordinary requests.
- ``power_user``: 2-4 individuals asking about everything (all organic corpora, some multi-turn), 150-350
  requests each, long human sessions most days, quick adopters of the new model.
- ``service_account``: an hourly cron summarising a generated metrics report, a monitoring probe every 2-4 h
  ("reply with OK"), and sometimes a nightly error-log classifier: 2-3 accounts, one template each, exact timing.

**Grid**: :func:`grid` returns 8 tuning cells and 8 held-out cells (seeds 1-6, 11, 12 vs 9001-9008; knob values
-- account counts, requests per account, cover shares, overlaps, organic sizes, days and shape-to-style
assignments -- drawn from disjoint value sets fixed below before any tuning). Every style meets every shape in the
tuning cells and again in the held-out cells; every log contains each shape twice. ``quick=True`` gives one small
tuning and one small held-out cell (< 5,000 requests each).
"""

from __future__ import annotations

import argparse
import csv
import functools
import gzip
import math
import os
import random
import sys
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "ATTACKER_STYLES",
    "BACKGROUNDS",
    "LOOKALIKES",
    "SHAPES",
    "BuiltLog",
    "Cell",
    "Knobs",
    "StyleKnobs",
    "build_log",
    "default_corpora",
    "grid",
]

BACKGROUNDS: tuple[str, ...] = ("web_en", "multilingual")
ATTACKER_STYLES: tuple[str, ...] = (
    "sweep_en",
    "sweep_zh",
    "sweep_ru",
    "harvested",
    "reasoning",
    "grader",
    "agentic",
    "multiturn",
)
SHAPES: tuple[str, ...] = ("parallel", "relay", "swarm", "reseller")
LOOKALIKES: tuple[str, ...] = (
    "multikey_app",
    "benchmark_run",
    "classroom",
    "popular_prompts",
    "power_user",
    "service_account",
)
PACINGS = ("human", "scripted")
INFRAS = ("shared", "rotated")
LANGUAGES = ("en", "zh", "ru")
MODELS = ("frontier-large", "frontier-fast")
NEW_MODEL = "frontier-large-2"
START = datetime(2026, 3, 2, tzinfo=timezone.utc)
DAY = 86400.0
HOUR = 3600.0
MAX_CORPUS_TEXT = 3000  # corpus texts longer than this are skipped, so wrapped texts stay < 4000 chars
MAX_TEXT = 3990
INSTANCE_REQUEST_CAP = 1200  # accounts x requests_per_account of one campaign instance is capped here
MAX_LOG_ACCOUNTS = 1100
MAX_LOG_REQUESTS = 15000

_LANG_OF_STYLE = {
    "sweep_en": ("en",),
    "sweep_zh": ("zh",),
    "sweep_ru": ("ru",),
    "agentic": ("en",),
    "grader": ("en", "zh"),
}


def default_corpora() -> Path:
    """``$CLUSTERKIT_CORPORA`` or ``../shared/data/prompts`` next to the repository root."""
    env = os.environ.get("CLUSTERKIT_CORPORA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prompts"


# ----------------------------------------------------------------------------------------------- knobs and grid


@dataclass(frozen=True)
class StyleKnobs:
    """How one attacker-style instance of a log is run (see the module docstring for what each value does)."""

    style: str
    shape: str = "parallel"
    accounts: int = 8
    requests_per_account: int = 40
    pacing: str = "scripted"
    infra: str = "shared"
    language: str = "en"
    cover_share: float = 0.0
    overlap: float = 0.5

    def __post_init__(self) -> None:
        problems = []
        if self.style not in ATTACKER_STYLES:
            problems.append(f"unknown style {self.style!r}")
        if self.shape not in SHAPES:
            problems.append(f"unknown shape {self.shape!r}")
        if not 3 <= self.accounts <= 300:
            problems.append("accounts must be 3-300")
        if not 3 <= self.requests_per_account <= 500:
            problems.append("requests_per_account must be 3-500")
        if self.shape == "swarm" and not 3 <= self.requests_per_account <= 8:
            problems.append("swarm requests_per_account must be 3-8")
        if self.shape == "relay" and not 20 <= self.requests_per_account <= 200:
            problems.append("relay requests_per_account must be 20-200")
        if self.pacing not in PACINGS or self.infra not in INFRAS:
            problems.append("pacing must be human|scripted and infra shared|rotated")
        if self.shape == "reseller" and (self.pacing != "human" or self.infra != "rotated" or self.cover_share < 0.3):
            problems.append("reseller is human-paced, rotated (no shared infra) and has cover_share >= 0.3")
        if not 0.0 <= self.cover_share <= 0.7 or not 0.0 <= self.overlap <= 1.0:
            problems.append("cover_share must be 0-0.7 and overlap 0-1")
        if self.language not in _LANG_OF_STYLE.get(self.style, LANGUAGES):
            problems.append(f"language {self.language!r} not available for {self.style}")
        if problems:
            raise ValueError(f"StyleKnobs({self.style}): " + "; ".join(problems))


def _default_styles() -> tuple[StyleKnobs, ...]:
    lang = {"sweep_zh": "zh", "sweep_ru": "ru"}
    return tuple(
        StyleKnobs(
            style=s,
            shape=SHAPES[i % 4],
            accounts=(8, 6, 80, 10)[i % 4],
            requests_per_account=(40, 40, 4, 40)[i % 4],
            pacing="human" if SHAPES[i % 4] == "reseller" else "scripted",
            infra="rotated" if SHAPES[i % 4] == "reseller" else "shared",
            language=lang.get(s, "en"),
            cover_share=0.4 if SHAPES[i % 4] == "reseller" else 0.0,
        )
        for i, s in enumerate(ATTACKER_STYLES)
    )


@dataclass(frozen=True)
class Knobs:
    """One knob setting: a :class:`StyleKnobs` for every attacker style plus the log-level knobs.

    ``organic_accounts`` background people, ``days`` log length, ``benign_scale`` scales the look-alikes'
    volumes, ``model_switch`` names the style whose campaign moves half its traffic to the new model."""

    setting: str = "default"
    styles: tuple[StyleKnobs, ...] = field(default_factory=_default_styles)
    organic_accounts: int = 550
    days: int = 12
    benign_scale: float = 1.0
    model_switch: str = "sweep_en"

    def __post_init__(self) -> None:
        names = [s.style for s in self.styles]
        if sorted(names) != sorted(ATTACKER_STYLES):
            raise ValueError(f"Knobs needs exactly one StyleKnobs per style {ATTACKER_STYLES}, got {names}")
        if {s.shape for s in self.styles} != set(SHAPES):
            raise ValueError("every log must contain all four shapes")
        if not 10 <= self.days <= 14 or not 100 <= self.organic_accounts <= 700:
            raise ValueError("days must be 10-14 and organic_accounts 100-700")
        if self.model_switch not in ATTACKER_STYLES:
            raise ValueError(f"model_switch must be a style, got {self.model_switch!r}")

    def style(self, name: str) -> StyleKnobs:
        return next(s for s in self.styles if s.style == name)


@dataclass(frozen=True)
class Cell:
    """One log of the grid: background kind, seed, knob setting, split. ``note`` records any capping."""

    name: str
    background: str
    seed: int
    knobs: Knobs
    held_out: bool
    note: str = ""


@dataclass(frozen=True)
class BuiltLog:
    """What :func:`build_log` wrote. ``groups``: accounts per truth group; ``styles``: group -> style name
    (attacker style, look-alike name, or ``organic``); ``group_requests``: requests per group."""

    requests_path: Path
    truth_path: Path
    n_requests: int
    n_accounts: int
    groups: dict[str, int]
    styles: dict[str, str]
    group_requests: dict[str, int] = field(default_factory=dict)


# Value sets, fixed before any tuning. Tuning and held-out sets are disjoint for every numeric knob.
_TUNE_VALUES: dict[str, Any] = {
    "accounts": {"parallel": (4, 12, 24), "relay": (5, 10), "swarm": (60, 150), "reseller": (8, 16)},
    "rpa": {"parallel": (40, 60), "relay": (30, 80), "swarm": (3, 5), "reseller": (32, 50)},
    "cover": (0.0, 0.1),
    "reseller_cover": (0.4, 0.5),
    "overlap": (0.0, 0.5, 1.0),
    "organic": (480, 560, 640),
    "days": (10, 12),
}
_HOLD_VALUES: dict[str, Any] = {
    "accounts": {"parallel": (6, 18, 32), "relay": (3, 7, 14), "swarm": (45, 90, 180), "reseller": (9, 20, 28)},
    "rpa": {"parallel": (25, 45, 90), "relay": (20, 55, 120), "swarm": (4, 6, 8), "reseller": (24, 36, 70)},
    "cover": (0.05, 0.2),
    "reseller_cover": (0.35, 0.6, 0.7),
    "overlap": (0.25, 0.75, 0.9),
    "organic": (420, 500, 600, 660),
    "days": (11, 13, 14),
}
TUNING_SEEDS = (1, 2, 3, 4, 5, 6)
#: k1-k6 drew 16 reseller accounts at 50 % cover only; k7 and k8 (added later, before any tuning on
#: them) send thinner slices: (accounts, requests per account, cover share) of each reseller instance,
#: values disjoint from the held-out sets
EXTRA_TUNING: tuple[tuple[int, tuple[tuple[int, int, float], tuple[int, int, float]]], ...] = (
    (11, ((24, 32, 0.55), (12, 50, 0.65))),
    (12, ((16, 18, 0.4), (24, 32, 0.65))),
)
#: k9-k12 (added in session 20, before any tuning on them, after the held-out set kept missing shapes the
#: first eight tuning cells flagged): a third value set between the two and two more style-to-shape
#: families, so tuning sees more of the knob space; disjoint from the held-out values, seeds and shapes
LATER_TUNING_SEEDS = (13, 14, 15, 16)
_LATER_VALUES: dict[str, Any] = {
    "accounts": {"parallel": (8, 16, 26), "relay": (4, 8, 12), "swarm": (75, 120), "reseller": (12, 22)},
    "rpa": {"parallel": (30, 50, 75), "relay": (40, 100), "swarm": (7,), "reseller": (28, 44)},
    "cover": (0.15, 0.3),
    "reseller_cover": (0.45, 0.68),
    "overlap": (0.35, 0.65, 0.8),
    "organic": (450, 530, 620),
    "days": (12, 10),
}
HELD_OUT_SEEDS = (9001, 9002, 9003, 9004, 9005, 9006, 9007, 9008)
QUICK_SEEDS = (7, 9101)


def _pattern(kind: str, k: int) -> tuple[str, ...]:
    """Shape of style i under an assignment family. Each family over k = 0..3 gives every style every shape,
    and each shape to exactly two styles per log; tuning uses ``rot``/``tri`` (k1-k8) and ``alt``/``swap``
    (k9-k12), held-out ``pair``/``mix``."""
    base = {
        "rot": [0, 1, 2, 3, 0, 1, 2, 3],
        "tri": [0, 3, 2, 1, 0, 3, 2, 1],
        "pair": [0, 0, 1, 1, 2, 2, 3, 3],
        "mix": [0, 2, 1, 3, 3, 1, 2, 0],
        "alt": [1, 1, 0, 0, 3, 3, 2, 2],
        "swap": [0, 2, 2, 0, 1, 3, 3, 1],
    }[kind]
    return tuple(SHAPES[(b + k) % 4] for b in base)


def _make_knobs(
    setting: str,
    shapes: tuple[str, ...],
    vals: dict[str, Any],
    j: int,
    *,
    organic: int,
    days: int,
    benign_scale: float = 1.0,
    small: bool = False,
) -> Knobs:
    styles = []
    for i, style in enumerate(ATTACKER_STYLES):
        shape = shapes[i]
        accts = vals["accounts"][shape]
        rpas = vals["rpa"][shape]
        accounts = accts[0] if small else accts[(i + j) % len(accts)]
        rpa = rpas[0] if small else rpas[(2 * i + j) % len(rpas)]
        # pacing and infra vary independently of the shape: every (shape, pacing, infra) occurs in both splits
        pacing = "human" if shape == "reseller" else PACINGS[(i + j + i // 4 + j // 4) % 2]
        infra = "rotated" if shape == "reseller" else INFRAS[(i // 2 + j + (i % 2) * (j // 2) + i // 4) % 2]
        cover = (
            vals["reseller_cover"][(i + j) % len(vals["reseller_cover"])]
            if shape == "reseller"
            else vals["cover"][(i + 2 * j) % len(vals["cover"])]
        )
        overlap = vals["overlap"][(2 * i + j) % len(vals["overlap"])]
        langs = _LANG_OF_STYLE.get(style, LANGUAGES)
        language = langs[(i + j) % len(langs)]
        styles.append(StyleKnobs(style, shape, accounts, rpa, pacing, infra, language, cover, overlap))
    parallel = [s.style for s in styles if s.shape == "parallel"]
    return Knobs(
        setting=setting,
        styles=tuple(styles),
        organic_accounts=organic,
        days=days,
        benign_scale=benign_scale,
        model_switch=parallel[j % len(parallel)],
    )


def _estimate(knobs: Knobs) -> tuple[int, int]:
    """Upper-bound estimate of (accounts, requests) of a log, used to keep cells inside the budget."""
    b = knobs.benign_scale
    accounts = knobs.organic_accounts + sum(s.accounts for s in knobs.styles) + int(175 * b) + 8
    requests = int(knobs.organic_accounts * 11.5) + sum(s.accounts * s.requests_per_account for s in knobs.styles)
    requests += int(2900 * b) + 450
    return accounts, requests


def _fit_budget(knobs: Knobs, avoid: frozenset[int] = frozenset()) -> tuple[Knobs, str]:
    """Cap each campaign instance at INSTANCE_REQUEST_CAP requests (lowering requests_per_account, skipping
    values in ``avoid``: the other split's values) and the log at MAX_LOG_ACCOUNTS accounts (lowering
    organic_accounts, never below 400 for full cells). Returns the capped knobs and a note saying what changed."""
    notes = []
    styles = []
    for s in knobs.styles:
        if s.accounts * s.requests_per_account > INSTANCE_REQUEST_CAP:
            rpa = INSTANCE_REQUEST_CAP // s.accounts
            while rpa in avoid and rpa > 3:
                rpa -= 1
            notes.append(
                f"{s.style}: requests_per_account {s.requests_per_account}->{rpa} (cap {INSTANCE_REQUEST_CAP})"
            )
            s = replace(s, requests_per_account=rpa)
        styles.append(s)
    knobs = replace(knobs, styles=tuple(styles))
    accounts, _ = _estimate(knobs)
    if accounts > MAX_LOG_ACCOUNTS and knobs.organic_accounts > 400:
        organic = max(400, knobs.organic_accounts - (accounts - MAX_LOG_ACCOUNTS))
        organic -= organic % 10 - 3  # ends in 3: never a value of either value set
        notes.append(f"organic_accounts {knobs.organic_accounts}->{organic} (cap {MAX_LOG_ACCOUNTS} accounts)")
        knobs = replace(knobs, organic_accounts=organic)
    return knobs, "; ".join(notes)


@functools.lru_cache(maxsize=4)
def _grid(quick: bool) -> tuple[Cell, ...]:
    cells: list[Cell] = []
    if quick:
        specs = [
            (False, "web_en", QUICK_SEEDS[0], "q1", _pattern("rot", 1), _TUNE_VALUES, 0),
            (True, "multilingual", QUICK_SEEDS[1], "qh1", _pattern("mix", 2), _HOLD_VALUES, 1),
        ]
        for held, bg, seed, setting, shapes, vals, j in specs:
            knobs = _make_knobs(
                setting,
                shapes,
                vals,
                j,
                organic=(180 if not held else 210),
                days=vals["days"][j],
                benign_scale=0.35,
                small=True,
            )
            knobs, note = _fit_budget(knobs)
            prefix = "quick-hold" if held else "quick-tune"
            cells.append(Cell(f"{prefix}-{bg}-s{seed}-{setting}", bg, seed, knobs, held, note))
        return tuple(cells)
    tune_shapes = [
        _pattern("rot", 0),
        _pattern("rot", 1),
        _pattern("rot", 2),
        _pattern("rot", 3),
        _pattern("tri", 0),
        _pattern("tri", 1),
    ]
    for j, (seed, shapes) in enumerate(zip(TUNING_SEEDS, tune_shapes)):
        bg = BACKGROUNDS[j % 2]
        v = _TUNE_VALUES
        knobs = _make_knobs(f"k{j + 1}", shapes, v, j, organic=v["organic"][j % 3], days=v["days"][j % 2])
        knobs, note = _fit_budget(knobs)
        cells.append(Cell(f"tune-{bg}-s{seed}-k{j + 1}", bg, seed, knobs, False, note))
    tuned = frozenset(v for c in cells for s in c.knobs.styles for v in (s.accounts, s.requests_per_account))
    for j, (seed, resellers) in enumerate(EXTRA_TUNING, start=len(TUNING_SEEDS)):
        bg = BACKGROUNDS[j % 2]
        v = _TUNE_VALUES
        knobs = _make_knobs(
            f"k{j + 1}", _pattern("tri", j - 4), v, j, organic=v["organic"][j % 3], days=v["days"][j % 2]
        )
        thin = iter(resellers)
        styles = tuple(
            replace(s, **dict(zip(("accounts", "requests_per_account", "cover_share"), next(thin))))
            if s.shape == "reseller"
            else s
            for s in knobs.styles
        )
        knobs, note = _fit_budget(replace(knobs, styles=styles))
        cells.append(Cell(f"tune-{bg}-s{seed}-k{j + 1}", bg, seed, knobs, False, note))
    hold_shapes = [_pattern("pair", k) for k in range(4)] + [_pattern("mix", k) for k in range(4)]
    for j, (seed, shapes) in enumerate(zip(HELD_OUT_SEEDS, hold_shapes)):
        bg = BACKGROUNDS[(j + 1) % 2]
        v = _HOLD_VALUES
        knobs = _make_knobs(f"h{j + 1}", shapes, v, j, organic=v["organic"][j % 4], days=v["days"][j % 3])
        knobs, note = _fit_budget(knobs, tuned)
        cells.append(Cell(f"hold-{bg}-s{seed}-h{j + 1}", bg, seed, knobs, True, note))
    held = frozenset(
        v for c in cells if c.held_out for s in c.knobs.styles for v in (s.accounts, s.requests_per_account)
    )
    later_shapes = [_pattern("alt", 0), _pattern("swap", 0), _pattern("alt", 2), _pattern("swap", 3)]
    for j, (seed, shapes) in enumerate(zip(LATER_TUNING_SEEDS, later_shapes), start=8):
        bg = BACKGROUNDS[j % 2]
        v = _LATER_VALUES
        knobs = _make_knobs(f"k{j + 1}", shapes, v, j, organic=v["organic"][j % 3], days=v["days"][j % 2])
        knobs, note = _fit_budget(knobs, held)
        cells.append(Cell(f"tune-{bg}-s{seed}-k{j + 1}", bg, seed, knobs, False, note))
    return tuple(cells)


def grid(*, quick: bool = False, held_out: bool | None = None) -> list[Cell]:
    """The benchmark cells (fixed in code): 12 tuning + 8 held-out, or with ``quick`` 1 + 1 small ones.
    ``held_out`` keeps only held-out (True) or only tuning (False) cells."""
    return [c for c in _grid(quick) if held_out is None or c.held_out == held_out]


# ----------------------------------------------------------------------------------------------- corpora


_KEEP_FIELDS = (
    "language",
    "conversation_id",
    "turn",
    "subset",
    "category",
    "instruction",
    "input",
    "origin",
    "synthetic",
    "version",
    "task",
)


@functools.lru_cache(maxsize=64)
def _read_corpus(path: str) -> tuple[dict[str, Any], ...]:
    rows = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            obj = orjson.loads(line)
            text = obj.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_CORPUS_TEXT:
                continue
            row = {k: obj[k] for k in _KEEP_FIELDS if k in obj}
            row["text"] = text.strip()
            rows.append(row)
    return tuple(rows)


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


class _Pools:
    """Corpus rows handed out without reuse: every text taken is recorded in ``used`` (by normalised key), so
    two groups of one log never get the same corpus text unless one group repeats what it took."""

    def __init__(self, corpora: Path, seed: int) -> None:
        self.corpora = corpora
        self.seed = seed
        self.used: set[str] = set()
        self._order: dict[str, list[int]] = {}
        self._cursor: dict[tuple[str, str], int] = {}
        self._convs: dict[str, list[list[dict[str, Any]]]] = {}

    def rows(self, name: str) -> tuple[dict[str, Any], ...]:
        path = self.corpora / f"{name}.jsonl.gz"
        if not path.exists():
            raise FileNotFoundError(f"corpus {path} missing; pass --corpora DIR or set CLUSTERKIT_CORPORA")
        return _read_corpus(str(path))

    def _shuffled(self, name: str) -> list[int]:
        if name not in self._order:
            order = list(range(len(self.rows(name))))
            random.Random(f"{self.seed}:pool:{name}").shuffle(order)
            self._order[name] = order
        return self._order[name]

    def take(self, name: str, n: int, where: Callable[[dict[str, Any]], bool] | None = None, tag: str = "") -> list:
        """``n`` unused rows of corpus ``name`` (fewer if it runs out), in a per-log shuffled order."""
        rows, order = self.rows(name), self._shuffled(name)
        i = self._cursor.get((name, tag), 0)
        out: list[dict[str, Any]] = []
        while len(out) < n and i < len(order):
            row = rows[order[i]]
            i += 1
            if where is not None and not where(row):
                continue
            k = _key(row["text"])
            if k in self.used:
                continue
            self.used.add(k)
            out.append(row)
        self._cursor[(name, tag)] = i
        return out

    def take_block(
        self, name: str, n: int, rng: random.Random, where: Callable | None = None, start: int | None = None
    ) -> list[dict[str, Any]]:
        """``n`` unused rows in file order from a random (or given) start: a contiguous dataset slice."""
        rows = self.rows(name)
        i = rng.randrange(len(rows)) if start is None else start
        out: list[dict[str, Any]] = []
        for step in range(len(rows)):
            if len(out) >= n:
                break
            row = rows[(i + step) % len(rows)]
            if where is not None and not where(row):
                continue
            k = _key(row["text"])
            if k not in self.used:
                self.used.add(k)
                out.append(row)
        return out

    def take_mix(
        self, names: dict[str, float], n: int, rng: random.Random, where: Callable | None = None, tag: str = ""
    ) -> list[dict[str, Any]]:
        """``n`` rows drawn from several corpora with the given weights (falling back when one runs out)."""
        names = dict(names)
        out: list[dict[str, Any]] = []
        while len(out) < n and names:
            name = rng.choices(list(names), weights=list(names.values()))[0]
            got = self.take(name, 1, where, tag)
            if got:
                out.append(got[0])
            else:
                del names[name]
        return out

    def take_conv(self, name: str, rng: random.Random, max_turns: int = 6) -> list[str]:
        """The user turns of one unused real conversation (all its turns become used)."""
        if name not in self._convs:
            by: dict[str, list[dict[str, Any]]] = {}
            for row in self.rows(name):
                if "conversation_id" in row:
                    by.setdefault(row["conversation_id"], []).append(row)
            convs = [sorted(v, key=lambda r: r.get("turn", 0)) for v in by.values()]
            random.Random(f"{self.seed}:conv:{name}").shuffle(convs)
            self._convs[name] = convs
        convs = self._convs[name]
        while convs:
            conv = convs.pop()[:max_turns]
            keys = [_key(r["text"]) for r in conv]
            if len(set(keys)) == len(keys) and not any(k in self.used for k in keys):
                self.used.update(keys)
                return [r["text"] for r in conv]
        return []


# ----------------------------------------------------------------------------------------------- infrastructure

_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
)
_CHROMEBOOK = (
    "Mozilla/5.0 (X11; CrOS x86_64 15633.69.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36"
)
_SDKS = (
    "OpenAI/Python 1.51.0",
    "OpenAI/Python 1.40.6",
    "OpenAI/JS 4.67.3",
    "Anthropic/Python 0.39.0",
    "Anthropic/TypeScript 0.32.1",
    "python-httpx/0.27.0",
    "python-requests/2.31.0",
    "python-requests/2.32.3",
    "axios/1.7.7",
    "curl/8.5.0",
    "aiohttp/3.9.5",
    "langchain/0.2.16",
    "okhttp/4.12.0",
    "Go-http-client/2.0",
    "PostmanRuntime/7.39.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
)
_POPULAR_SDKS = ("OpenAI/Python 1.51.0", "python-httpx/0.27.0", "Anthropic/Python 0.39.0", "python-requests/2.31.0")
_DC_OCTETS = (34, 35, 45, 52, 54, 64, 66, 104, 139, 146, 149, 159, 167, 178, 185, 188, 193, 195, 198, 209)
_HOSTING_CLIENTS = (
    "python-httpx/0.27.0",
    "python-requests/2.31.0",
    "aiohttp/3.9.5",
    "OpenAI/Python 1.40.6",
    "Anthropic/Python 0.39.0",
    "Go-http-client/2.0",
)


def _ip(rng: random.Random) -> str:
    while True:
        a = rng.randint(2, 223)
        if a not in (10, 100, 127, 169, 172, 192, 198, 203):
            return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _subnet(rng: random.Random, datacenter: bool = True) -> str:
    a = rng.choice(_DC_OCTETS) if datacenter else int(_ip(rng).split(".")[0])
    return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"


def _dialect_for(ua: str, rng: random.Random) -> str:
    if ua.startswith("OpenAI") or ua.startswith("langchain"):
        return "openai"
    if ua.startswith("Anthropic"):
        return "anthropic"
    return rng.choice(("openai", "anthropic"))


@dataclass
class _Account:
    id: str
    org: str
    label: str
    group: str
    dialect: str
    ua: str
    ips: list[str]
    rotate: bool = False
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    pool: bool = False  # pick uniformly among ``ips`` (a shared pool) instead of a main IP plus occasional others


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def new(self, prefix: str) -> str:
        while True:
            value = f"{prefix}_{self.rng.getrandbits(56):014x}"
            if value not in self.seen:
                self.seen.add(value)
                return value


# ----------------------------------------------------------------------------------------------- time

_DIURNAL = (2, 1.2, 0.8, 0.5, 0.4, 0.5, 1, 2, 4, 6, 7.5, 8, 7, 7, 7.5, 7.5, 7, 6.5, 6, 6.5, 7, 6.5, 5, 3.5)


def _local_hour(rng: random.Random) -> float:
    return rng.choices(range(24), weights=_DIURNAL)[0] + rng.random()


class _Clock:
    """Log time in seconds from START; day weights (weekends quieter, one news day busier)."""

    def __init__(self, days: int, rng: random.Random) -> None:
        self.days = days
        self.end = days * DAY
        news = rng.randrange(days)
        self.day_weights = [(0.65 if (d % 7) in (5, 6) else 1.0) * (1.6 if d == news else 1.0) for d in range(days)]
        self.release = (days // 2) * DAY + 17 * HOUR

    def clip(self, t: float) -> float:
        """Keep ``t`` inside the log by whole days (the hour of day is kept), then clamp."""
        while t >= self.end:
            t -= DAY
        while t < 0:
            t += DAY
        return min(max(t, 0.0), self.end - 1.0)

    def human_start(self, rng: random.Random, tz: float, first: int = 0, last: int | None = None) -> float:
        last = self.days - 1 if last is None else last
        days = list(range(first, last + 1))
        day = rng.choices(days, weights=[self.day_weights[d] for d in days])[0]
        return self.clip(day * DAY + (_local_hour(rng) - tz) * HOUR)

    def human_times(
        self,
        rng: random.Random,
        n: int,
        tz: float,
        lo: float = 0.0,
        hi: float | None = None,
        session: float = 4.0,
        gap: float = 75.0,
    ) -> list[float]:
        """``n`` times in human sessions (diurnal in ``tz``) inside [lo, hi)."""
        hi = self.end if hi is None else hi
        first, last = int(lo // DAY), max(int(lo // DAY), int((hi - 1) // DAY))
        times: list[float] = []
        tries = 0
        while len(times) < n:
            tries += 1
            t = self.human_start(rng, tz, first, min(last, self.days - 1))
            if not lo <= t < hi and tries < 200:
                continue
            sess = []
            for _ in range(max(1, min(n - len(times), int(rng.expovariate(1 / session)) + 1))):
                sess.append(t)
                t += 8 + rng.expovariate(1 / gap)
            if sess[-1] >= hi:  # a session running past the window is moved earlier, not piled up at its end
                shift = sess[-1] - hi + 1 + rng.uniform(0, min(HOUR, max(0.0, sess[0] - lo)))
                sess = [x - shift for x in sess]
            times.extend(min(max(x, lo), hi - 1) for x in sess)
        return sorted(times)

    def scripted_times(self, rng: random.Random, n: int, lo: float, hi: float) -> list[float]:
        """``n`` times at regular gaps (+-10 %) spanning [lo, hi), round the clock."""
        step = (hi - lo) / max(n, 1)
        return sorted(min(hi - 1, lo + (i + 0.5) * step + rng.uniform(-0.1, 0.1) * step) for i in range(n))


def _iso(t: float) -> str:
    return (START + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ----------------------------------------------------------------------------------------------- request bodies


def _u(text: str) -> dict[str, Any]:
    return {"role": "user", "text": text[:MAX_TEXT]}


def _a(text: str) -> dict[str, Any]:
    return {"role": "assistant", "text": text}


def _job(turns: list[dict[str, Any]], system: str | None = None, tools: list | None = None) -> dict[str, Any]:
    return {"turns": turns, "system": system, "tools": tools}


def _render(acct: _Account, model: str, job: dict[str, Any]) -> dict[str, Any]:
    system = job["system"] if job["system"] is not None else acct.system
    tools = job["tools"]
    if acct.dialect == "anthropic":
        msgs = []
        for turn in job["turns"]:
            blocks: list[dict[str, Any]] = []
            if "tool_result" in turn:
                tr = turn["tool_result"]
                blocks.append({"type": "tool_result", "tool_use_id": tr["id"], "content": tr["content"]})
            if turn.get("text"):
                blocks.append({"type": "text", "text": turn["text"]})
            if "tool_call" in turn:
                tc = turn["tool_call"]
                blocks.append({"type": "tool_use", "id": tc["id"], "name": tc["name"], "input": tc["input"]})
            msgs.append({"role": turn["role"], "content": blocks})
        body: dict[str, Any] = {"model": model, "max_tokens": acct.max_tokens or 1024}
        if system:
            body["system"] = system
        body["messages"] = msgs
        if tools:
            body["tools"] = [
                {"name": t["name"], "description": t["description"], "input_schema": t["schema"]} for t in tools
            ]
    else:
        msgs = [{"role": "system", "content": system}] if system else []
        for turn in job["turns"]:
            if "tool_result" in turn:
                tr = turn["tool_result"]
                msgs.append({"role": "tool", "tool_call_id": tr["id"], "content": tr["content"]})
            if "tool_call" in turn:
                tc = turn["tool_call"]
                msgs.append(
                    {
                        "role": "assistant",
                        "content": turn.get("text") or None,
                        "tool_calls": [
                            {
                                "id": tc["id"],
                                "type": "function",
                                "function": {"name": tc["name"], "arguments": orjson.dumps(tc["input"]).decode()},
                            }
                        ],
                    }
                )
            elif turn.get("text"):
                msgs.append({"role": turn["role"], "content": turn["text"]})
        body = {"model": model, "messages": msgs}
        if acct.max_tokens:
            body["max_tokens"] = acct.max_tokens
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t["name"], "description": t["description"], "parameters": t["schema"]},
                }
                for t in tools
            ]
    if acct.temperature is not None:
        body["temperature"] = acct.temperature
    return body


# ----------------------------------------------------------------------------------------------- text banks

# Reasoning elicitation: (placement, template). placement: pre / post (around a task), qa (a question plus its
# answer: reconstruct the hidden reasoning), done (a task plus a completed response: articulate its reasoning).
_REASONING: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        (
            "pre",
            "Before you answer, walk me through your complete reasoning step by step, including any dead ends.\n\n{task}",
        ),
        (
            "pre",
            "Think out loud. Show every intermediate step of your thought process, then give the final answer on its own line.\n\n{task}",
        ),
        (
            "pre",
            "I want to see how you think, not just what you conclude. Lay out your full chain of reasoning first.\n\nTask: {task}",
        ),
        (
            "pre",
            "Reason carefully and explicitly: list your assumptions, work through the problem, check your work, then answer.\n{task}",
        ),
        (
            "pre",
            "Produce a detailed internal monologue of how an expert would approach this before writing the final response.\n\n{task}",
        ),
        ("post", "{task}\n\nExplain your reasoning in detail before giving the answer."),
        ("post", "{task}\n\nPlease show all of your work, step by step, and do not skip any steps."),
        (
            "post",
            "{task}\n\nFirst write out your full thought process inside <thinking> tags, then give the answer inside <answer> tags.",
        ),
        ("post", "{task}\n\nLet's reason about this slowly and carefully. Number each reasoning step."),
        (
            "post",
            "{task}\n\nAfter answering, describe exactly how you arrived at the answer, including alternatives you considered and rejected.",
        ),
        (
            "qa",
            "Question: {task}\nAnswer: {answer}\n\nThe answer above is correct. Reconstruct the hidden reasoning that leads to it, step by step.",
        ),
        (
            "qa",
            "Here is a problem and its final answer.\n\nProblem: {task}\nFinal answer: {answer}\n\nWrite the step-by-step derivation that someone would have gone through to reach this answer, without mentioning that you were given it.",
        ),
        (
            "qa",
            "{task}\n\nThe expected answer is {answer}. Explain, in detail, the reasoning process that justifies this answer.",
        ),
        (
            "done",
            "Below is a task and a completed response.\n\nTask: {task}\n\nResponse: {response}\n\nImagine and articulate the internal reasoning behind the completed response: what the author considered, in what order, and why.",
        ),
        (
            "done",
            "Task:\n{task}\n\nFinished answer:\n{response}\n\nNow write out the thinking that would have produced this answer, as a first-person internal monologue.",
        ),
        (
            "done",
            "Given the following prompt and the response that was written for it, articulate the step-by-step reasoning that must have happened before the response was written.\n\nPrompt: {task}\nResponse: {response}",
        ),
        (
            "done",
            "Imagine you had to explain the internal reasoning behind this completed response to a student. Articulate each step.\n\n[PROMPT]\n{task}\n\n[RESPONSE]\n{response}",
        ),
        (
            "done",
            "{task}\n\nA model produced this answer: {response}\nImagine and articulate the internal reasoning it followed to reach it, then state whether it is correct.",
        ),
    ),
    "zh": (
        ("pre", "在回答之前，请一步一步地详细写出你的完整推理过程。\n\n{task}"),
        ("pre", "请先把你的思考过程完整地展示出来，包括中间步骤，最后单独一行给出答案。\n\n{task}"),
        ("pre", "我想看到你是怎么思考的，而不仅仅是结论。请先列出完整的思维链。\n\n题目：{task}"),
        ("pre", "请像专家一样，先写出详细的内心独白来分析这个问题，再给出最终回答。\n{task}"),
        ("pre", "仔细推理：先列出假设，再逐步求解，检查结果，然后作答。\n\n{task}"),
        ("post", "{task}\n\n请详细解释你的推理过程，然后再给出答案。"),
        ("post", "{task}\n\n请展示所有步骤，不要跳过任何一步。"),
        ("post", "{task}\n\n先在<思考>标签中写出完整的思考过程，再在<答案>标签中给出答案。"),
        ("post", "{task}\n\n让我们一步一步地慢慢思考，并给每个推理步骤编号。"),
        ("post", "{task}\n\n回答之后，请说明你是如何得出这个答案的，包括你考虑过但放弃的其他思路。"),
        ("qa", "问题：{task}\n答案：{answer}\n\n上面的答案是正确的。请一步一步还原得到这个答案的隐含推理过程。"),
        (
            "qa",
            "下面给出一道题和它的最终答案。\n\n题目：{task}\n最终答案：{answer}\n\n请写出得到这个答案的完整推导过程，不要提到答案是事先给出的。",
        ),
        ("qa", "{task}\n\n标准答案是{answer}。请详细解释支持这个答案的推理过程。"),
        (
            "done",
            "以下是一个任务和一个已完成的回答。\n\n任务：{task}\n\n回答：{response}\n\n请设想并清晰表述这个回答背后的内部推理：作者考虑了什么、按什么顺序、为什么。",
        ),
        (
            "done",
            "任务：\n{task}\n\n完成的回答：\n{response}\n\n请以第一人称内心独白的形式，写出产生这个回答的思考过程。",
        ),
        (
            "done",
            "请想象并阐述下面这个已完成回答背后的思考过程，逐步说明。\n\n【提示】\n{task}\n\n【回答】\n{response}",
        ),
    ),
    "ru": (
        ("pre", "Прежде чем ответить, подробно распиши весь ход своих рассуждений шаг за шагом.\n\n{task}"),
        ("pre", "Думай вслух: покажи каждый промежуточный шаг, а окончательный ответ дай отдельной строкой.\n\n{task}"),
        (
            "pre",
            "Мне важно увидеть, как ты рассуждаешь, а не только вывод. Сначала изложи полную цепочку рассуждений.\n\nЗадача: {task}",
        ),
        (
            "pre",
            "Рассуждай внимательно: перечисли допущения, реши задачу по шагам, проверь результат и только потом ответь.\n{task}",
        ),
        (
            "pre",
            "Напиши подробный внутренний монолог эксперта, который решает эту задачу, а затем дай итоговый ответ.\n\n{task}",
        ),
        ("post", "{task}\n\nОбъясни подробно своё рассуждение, прежде чем дать ответ."),
        ("post", "{task}\n\nПокажи всё решение по шагам, ничего не пропуская."),
        (
            "post",
            "{task}\n\nСначала запиши полный ход мыслей внутри тегов <размышление>, затем ответ внутри тегов <ответ>.",
        ),
        ("post", "{task}\n\nДавай рассуждать медленно и аккуратно. Пронумеруй каждый шаг рассуждения."),
        (
            "post",
            "{task}\n\nПосле ответа опиши, как именно ты к нему пришёл, включая варианты, которые ты рассмотрел и отбросил.",
        ),
        (
            "qa",
            "Вопрос: {task}\nОтвет: {answer}\n\nЭтот ответ верный. Восстанови скрытое рассуждение, которое к нему приводит, шаг за шагом.",
        ),
        (
            "qa",
            "Вот задача и её окончательный ответ.\n\nЗадача: {task}\nОкончательный ответ: {answer}\n\nНапиши пошаговый вывод, который приводит к этому ответу, не упоминая, что ответ был дан заранее.",
        ),
        (
            "qa",
            "{task}\n\nОжидаемый ответ: {answer}. Подробно объясни ход рассуждений, который обосновывает этот ответ.",
        ),
        (
            "done",
            "Ниже приведены задание и готовый ответ.\n\nЗадание: {task}\n\nОтвет: {response}\n\nПредставь и сформулируй внутреннее рассуждение, стоящее за этим готовым ответом: что автор учитывал, в каком порядке и почему.",
        ),
        (
            "done",
            "Задание:\n{task}\n\nГотовый ответ:\n{response}\n\nТеперь запиши мысли, которые привели к этому ответу, в виде внутреннего монолога от первого лица.",
        ),
        (
            "done",
            "Представь, что тебе нужно объяснить студенту внутреннюю логику этого готового ответа. Сформулируй каждый шаг.\n\n[ЗАДАНИЕ]\n{task}\n\n[ОТВЕТ]\n{response}",
        ),
    ),
}

_ANSWER_BANK: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        (
            "Sure.",
            "Certainly!",
            "Here is a concise answer.",
            "Good question.",
            "Here's how I would approach it.",
            "Short answer: it depends, but here is the gist.",
        ),
        (
            "The key idea is to break the problem into smaller parts and handle each one separately.",
            "First, clarify the goal and the constraints.",
            "In most cases the simplest solution is also the most robust.",
            "A common mistake is to overlook edge cases, so it is worth checking them explicitly.",
            "There are several ways to do this, each with trade-offs in cost and complexity.",
            "You can verify the result by substituting it back into the original statement.",
            "The main factors to consider are accuracy, clarity and efficiency.",
            "It helps to start with a concrete example before generalising.",
            "Finally, summarise the result and note any assumptions you made.",
            "Most sources agree on the basic facts, although details vary by context.",
        ),
    ),
    "zh": (
        ("好的。", "当然可以！", "简要回答如下。", "这是个好问题。", "我会这样处理这个问题。"),
        (
            "关键是把问题拆成几个小部分，分别处理。",
            "首先要明确目标和限制条件。",
            "大多数情况下，最简单的方案也是最稳妥的。",
            "常见的错误是忽略边界情况，因此值得专门检查。",
            "有几种做法，各自在成本和复杂度上有所取舍。",
            "可以把结果代回原题进行验证。",
            "最后总结结论，并说明所做的假设。",
        ),
    ),
    "ru": (
        ("Конечно.", "Хороший вопрос.", "Кратко: вот основное.", "Вот как я бы к этому подошёл."),
        (
            "Главное — разбить задачу на части и решить каждую отдельно.",
            "Сначала нужно уточнить цель и ограничения.",
            "Чаще всего самое простое решение оказывается и самым надёжным.",
            "Типичная ошибка — забыть о граничных случаях, поэтому их стоит проверить отдельно.",
            "Есть несколько способов, и у каждого свои плюсы и минусы.",
            "Результат можно проверить, подставив его в исходное условие.",
            "В конце стоит подвести итог и перечислить сделанные допущения.",
        ),
    ),
}


def _fake_answer(rng: random.Random, lang: str, task: str, sentences: int = 3) -> str:
    """A short synthetic assistant answer (corpora hold prompts only): an opener, a nod to the task, fillers."""
    opens, bodies = _ANSWER_BANK[lang]
    head = task.strip().split("\n")[0][:70].rstrip(" ,.;:")
    nod = {"en": f'Regarding "{head}":', "zh": f"关于“{head}”：", "ru": f"Что касается «{head}»:"}[lang]
    body = rng.sample(bodies, min(sentences, len(bodies)))
    sep = "" if lang == "zh" else " "
    return sep.join([rng.choice(opens), nod, *body])


_NAMES = {
    "en": ("Maria", "John", "Aisha", "Tom", "Priya", "Lucas"),
    "zh": ("小明", "小红", "李华", "王芳"),
    "ru": ("Маша", "Иван", "Олег", "Анна"),
}


def _math_problem(rng: random.Random, lang: str) -> tuple[str, str]:
    """A generated arithmetic word problem and its correct answer."""
    kind = rng.randrange(5)
    name = rng.choice(_NAMES[lang])
    if kind == 0:
        b = rng.randint(2, 9)
        a = b * rng.randint(20, 120)
        q = {
            "en": f"A train travels {a} km in {b} hours. What is its average speed in km/h?",
            "zh": f"一列火车{b}小时行驶了{a}公里，它的平均速度是每小时多少公里？",
            "ru": f"Поезд проехал {a} км за {b} ч. Какова его средняя скорость в км/ч?",
        }[lang]
        return q, str(a // b)
    if kind == 1:
        a, b, c = rng.randint(3, 40), rng.randint(2, 9), rng.randint(3, 12)
        q = {
            "en": f"{name} has {a} apples and buys {b} bags with {c} apples each. How many apples does {name} have now?",
            "zh": f"{name}有{a}个苹果，又买了{b}袋，每袋{c}个。{name}现在一共有多少个苹果？",
            "ru": f"У {name} было {a} яблок, и он(а) купил(а) ещё {b} пакетов по {c} яблок. Сколько теперь яблок?",
        }[lang]
        return q, str(a + b * c)
    if kind == 2:
        w, l_ = rng.randint(2, 30), rng.randint(31, 60)
        q = {
            "en": f"A rectangle has a perimeter of {2 * (w + l_)} cm and a width of {w} cm. What is its area?",
            "zh": f"一个长方形的周长是{2 * (w + l_)}厘米，宽是{w}厘米，它的面积是多少？",
            "ru": f"Периметр прямоугольника {2 * (w + l_)} см, ширина {w} см. Найдите его площадь.",
        }[lang]
        return q, f"{w * l_} cm²"
    if kind == 3:
        p, b = rng.choice((5, 10, 15, 20, 25, 30, 40, 60, 75)), rng.randint(2, 90) * 20
        q = {
            "en": f"A jacket costs {b} dollars and is discounted by {p}%. What is the sale price?",
            "zh": f"一件外套原价{b}元，打折{p}%后售价是多少？",
            "ru": f"Куртка стоит {b} рублей, скидка {p}%. Какова цена со скидкой?",
        }[lang]
        return q, str(b - b * p // 100)
    a, b = rng.randint(2, 12), rng.randint(2, 30)
    c = rng.choice([d for d in range(2, 13) if (a * b) % d == 0] or [1])
    q = {
        "en": f"If {a} workers build a wall in {b} days, how many days would {c} workers need at the same rate?",
        "zh": f"如果{a}个工人{b}天能砌好一堵墙，那么{c}个工人以同样的效率需要多少天？",
        "ru": f"Если {a} рабочих строят стену за {b} дней, сколько дней понадобится {c} рабочим при той же скорости?",
    }[lang]
    return q, str(a * b // c)


_RU_TASKS = (
    "Напиши подробное эссе на тему «{topic}».",
    "Объясни простыми словами, что такое {concept}.",
    "Составь план урока по теме «{topic}» для {audience}.",
    "Приведи пять примеров, связанных с темой «{topic}», и кратко объясни каждый.",
    "Напиши функцию на {plang}, которая {code}.",
    "Сравни {concept} и {concept2}: в чём сходства и различия?",
    "Составь десять вопросов для викторины по теме «{topic}» с ответами.",
    "Напиши короткий рассказ о {hero}, действие которого происходит {place}.",
    "Какие основные ошибки совершают новички в теме «{topic}»? Как их избежать?",
    "Сформулируй три аргумента за и три аргумента против утверждения: «{claim}».",
    "Объясни {audience}, как работает {concept}.",
    "Напиши официальное письмо {recipient} с просьбой {request}.",
    "Придумай пять названий для {product} и обоснуй каждое.",
    "Составь пошаговую инструкцию: как {howto}.",
    "Кратко изложи историю {history}.",
    "Напиши SQL-запрос, который {sql}.",
    "Какие существуют способы {goal}? Оцени каждый по эффективности.",
    "Напиши стихотворение о {poem} в стиле {poet}.",
    "Составь резюме для должности «{job}» с опытом работы {years} лет.",
    "Сделай краткий конспект главы учебника по теме «{topic}» для {audience}.",
)
_RU_SLOTS: dict[str, tuple[str, ...]] = {
    "topic": (
        "искусственный интеллект в медицине",
        "изменение климата",
        "история Древнего Рима",
        "квантовые компьютеры",
        "здоровое питание",
        "удалённая работа",
        "экономика замкнутого цикла",
        "освоение Марса",
        "кибербезопасность",
        "финансовая грамотность",
        "роль семьи в обществе",
        "развитие городов",
        "электромобили",
        "социальные сети",
        "теория вероятностей",
        "фотосинтез",
        "Великие географические открытия",
        "машинное обучение",
    ),
    "concept": (
        "инфляция",
        "блокчейн",
        "нейронная сеть",
        "закон спроса и предложения",
        "рекурсия",
        "энтропия",
        "фотосинтез",
        "иммунитет",
        "демократия",
        "градиентный спуск",
        "чёрная дыра",
        "облачные вычисления",
        "теорема Пифагора",
        "ипотека",
        "электрический ток",
    ),
    "concept2": (
        "дефляция",
        "база данных",
        "линейная регрессия",
        "монополия",
        "цикл",
        "температура",
        "дыхание растений",
        "вакцина",
        "монархия",
        "метод Ньютона",
        "нейтронная звезда",
        "локальный сервер",
    ),
    "audience": (
        "школьников 5 класса",
        "студентов первого курса",
        "пенсионеров",
        "начинающих программистов",
        "менеджеров без технического образования",
        "иностранцев, изучающих русский язык",
    ),
    "plang": ("Python", "JavaScript", "C++", "Java", "Go", "Rust", "C#"),
    "code": (
        "проверяет, является ли строка палиндромом",
        "находит все простые числа до N",
        "сортирует список слиянием",
        "считает частоту слов в тексте",
        "переводит число в римскую запись",
        "находит наибольший общий делитель",
        "проверяет корректность скобок в выражении",
        "объединяет два отсортированных массива",
        "парсит CSV-файл и считает среднее по столбцу",
        "реализует бинарный поиск",
    ),
    "hero": (
        "старом смотрителе маяка",
        "девочке-изобретательнице",
        "роботе, который мечтает стать поваром",
        "молодом враче",
        "коте-путешественнике",
        "последнем жителе деревни",
    ),
    "place": (
        "в далёком будущем",
        "в Санкт-Петербурге девятнадцатого века",
        "на космической станции",
        "в маленьком сибирском городке",
        "во время шторма",
        "в параллельном мире",
    ),
    "claim": (
        "домашние задания в школе нужно отменить",
        "удалённая работа эффективнее офисной",
        "искусственный интеллект опасен для человечества",
        "социальные сети делают людей одинокими",
        "высшее образование необходимо для успеха",
    ),
    "recipient": (
        "директору школы",
        "в управляющую компанию",
        "руководителю отдела",
        "в налоговую инспекцию",
        "организаторам конференции",
    ),
    "request": (
        "перенести срок сдачи проекта",
        "предоставить отпуск",
        "устранить протечку крыши",
        "выдать справку о доходах",
        "рассмотреть заявку на участие",
    ),
    "product": (
        "кофейни",
        "мобильного приложения для бега",
        "магазина настольных игр",
        "IT-стартапа",
        "книжного клуба",
        "экологичной бытовой химии",
    ),
    "howto": (
        "подготовиться к собеседованию",
        "настроить домашний Wi-Fi",
        "научиться медитировать",
        "составить семейный бюджет",
        "выучить английский за год",
        "сменить профессию после тридцати",
    ),
    "history": (
        "появления интернета",
        "Русской революции",
        "изобретения книгопечатания",
        "освоения космоса",
        "Олимпийских игр",
        "развития автомобилестроения",
    ),
    "sql": (
        "выводит десять самых дорогих товаров",
        "считает число заказов по месяцам",
        "находит клиентов без заказов",
        "вычисляет среднюю зарплату по отделам",
        "удаляет дубликаты из таблицы",
    ),
    "goal": (
        "снизить стресс на работе",
        "повысить продажи в интернет-магазине",
        "экономить электроэнергию",
        "улучшить память",
        "увеличить производительность команды",
    ),
    "poem": ("осени", "море", "первой любви", "родном городе", "зимней ночи", "дружбе"),
    "poet": ("Пушкина", "Есенина", "Маяковского", "Ахматовой", "Бродского"),
    "job": ("аналитик данных", "менеджер проектов", "учитель математики", "frontend-разработчик", "бухгалтер"),
    "years": ("двух", "трёх", "пяти", "семи", "десяти"),
}
_RU_MODS = (
    "",
    "",
    "",
    "Объём — не более 300 слов.",
    "Используй маркированный список.",
    "Приведи примеры из жизни.",
    "Ответ оформи в виде таблицы.",
    "Пиши простым языком.",
    "Добавь в конце краткий вывод.",
    "Ответь развёрнуто, минимум 500 слов.",
    "Используй официально-деловой стиль.",
    "Раздели ответ на разделы с заголовками.",
    "Укажи источники, на которые можно опереться.",
    "Добавь три вопроса для самопроверки.",
    "Объясни, как будто я новичок.",
    "Сначала дай краткий ответ, затем подробный.",
)


def _ru_task(rng: random.Random, seen: set[str]) -> str:
    """One Russian sweep prompt from the template bank, never one already rendered in this log."""
    for _ in range(500):
        text = rng.choice(_RU_TASKS).format_map({k: rng.choice(v) for k, v in _RU_SLOTS.items()})
        mod = rng.choice(_RU_MODS)
        text = f"{text} {mod}" if mod else text
        if text not in seen:
            seen.add(text)
            return text
    raise RuntimeError("Russian sweep template bank exhausted; add templates or slots")


_GRADER: dict[str, tuple[str, ...]] = {
    "en": (
        "You are an impartial judge. Evaluate the response to the user's question below.\n\n[Question]\n{question}\n\n[Response]\n{response}\n\n[Rubric]\n{rubric}\n\n{format}",
        "Please act as a strict grader. Rate the quality of the assistant's answer using the rubric.\nRubric:\n{rubric}\n\nUser prompt: {question}\nAssistant answer: {response}\n\n{format}",
        "### Task\n{question}\n\n### Candidate response\n{response}\n\n### Scoring guide\n{rubric}\n\n### Output\n{format}",
        "Grade the following completion as a reward model would.\nPROMPT: {question}\nCOMPLETION: {response}\nCriteria: {inline}\n{format}",
        "I'm building a dataset of graded answers. For the question and answer below, assess the answer against these criteria:\n{rubric}\nQuestion: {question}\nAnswer: {response}\n{format}",
        "<question>\n{question}\n</question>\n<response>\n{response}\n</response>\nEvaluate the response on {inline}. {format}",
        "Score this answer. Be critical; most answers should not get full marks.\n\nQ: {question}\n\nA: {response}\n\nConsider: {inline}.\n{format}",
        "As an expert reviewer, judge how well the response follows the instruction and how correct it is.\nInstruction:\n{question}\n\nResponse:\n{response}\n\nEvaluation rubric:\n{rubric}\n\n{format}",
        "[System] Compare two AI assistant responses to the user question below and decide which is better.\n\n[User Question]\n{question}\n\n[Assistant A]\n{response}\n\n[Assistant B]\n{response_b}\n\nJudge on {inline}. {pair}",
        "Which of these two answers is better?\nQuestion: {question}\n\nAnswer 1: {response}\n\nAnswer 2: {response_b}\n\nCriteria:\n{rubric}\n{pair}",
    ),
    "zh": (
        "你是一名公正的评审。请根据评分标准评价下面的回答。\n\n【问题】\n{question}\n\n【回答】\n{response}\n\n【评分标准】\n{rubric}\n\n{format}",
        "请作为严格的打分员，为助手的回答打分。\n评分标准：\n{rubric}\n\n用户问题：{question}\n助手回答：{response}\n\n{format}",
        "### 任务\n{question}\n\n### 待评回答\n{response}\n\n### 评分细则\n{rubric}\n\n### 输出要求\n{format}",
        "请像奖励模型一样给下面的回复打分。\n提示：{question}\n回复：{response}\n评价维度：{inline}\n{format}",
        "比较下面两个回答，判断哪个更好。\n问题：{question}\n\n回答A：{response}\n\n回答B：{response_b}\n\n评价维度：{inline}。{pair}",
        "我在构建带评分的数据集。请按以下标准评估答案：\n{rubric}\n问题：{question}\n答案：{response}\n{format}",
    ),
}
_GRADER_CRITERIA = {
    "en": (
        ("Accuracy", "facts and calculations are correct"),
        ("Helpfulness", "the answer addresses the user's need"),
        ("Completeness", "all parts of the question are covered"),
        ("Clarity", "easy to follow and well organised"),
        ("Harmlessness", "no unsafe or inappropriate content"),
        ("Instruction following", "respects every constraint"),
        ("Conciseness", "no unnecessary padding"),
        ("Reasoning", "the argument is logically sound"),
        ("Tone", "polite and appropriate for the audience"),
        ("Depth", "goes beyond the obvious"),
    ),
    "zh": (
        ("准确性", "事实和计算正确"),
        ("有用性", "切实解决用户需求"),
        ("完整性", "覆盖问题的各个部分"),
        ("清晰度", "条理清楚、易于理解"),
        ("无害性", "不含不安全内容"),
        ("指令遵循", "遵守所有约束"),
        ("简洁性", "没有多余内容"),
        ("逻辑性", "推理严密"),
    ),
}
_GRADER_FORMATS = {
    "en": (
        "Respond with a single integer from 1 to 10 and nothing else.",
        'Return JSON only: {"score": <1-10>, "reason": "<one sentence>"}.',
        "First write a short critique, then end with 'Score: X/5'.",
        "Give a score from 0 to 3 for each criterion, then the total in the form 'Total: N'.",
        "Output 'Rating: [[N]]' where N is between 1 and 10, after a brief explanation.",
        "Answer PASS or FAIL on the first line, then justify in one sentence.",
        "Provide a score between 0 and 1 with two decimals.",
    ),
    "zh": (
        "只输出1到10之间的一个整数。",
        '只返回JSON：{"score": 1-10, "reason": "一句话理由"}。',
        "先写简短点评，最后以“得分：X/5”结尾。",
        "对每个维度打0-3分，最后给出“总分：N”。",
        "第一行输出“通过”或“不通过”，再用一句话说明理由。",
    ),
}
_GRADER_PAIR = {
    "en": (
        "Output [[A]] if A is better, [[B]] if B is better, or [[C]] for a tie.",
        "Reply with '1' or '2' only.",
        'Return JSON {"winner": "A"|"B"|"tie", "margin": 1-5}.',
    ),
    "zh": ("如果A更好输出[[A]]，B更好输出[[B]]，平局输出[[C]]。", "只回答“A”或“B”。"),
}


def _rubric(rng: random.Random, lang: str) -> tuple[str, str]:
    crit = rng.sample(_GRADER_CRITERIA[lang], rng.randint(3, 5))
    style = rng.randrange(3)
    if style == 0:
        rubric = "\n".join(f"{i + 1}. {n} ({rng.choice((1, 2, 3, 5))} pts): {d}" for i, (n, d) in enumerate(crit))
    elif style == 1:
        rubric = "\n".join(f"- {n}: {d}" for n, d in crit)
    else:
        w = [rng.randint(1, 4) for _ in crit]
        rubric = "\n".join(f"* {n} (weight {round(100 * x / sum(w))}%) - {d}" for (n, d), x in zip(crit, w))
    inline = ("、" if lang == "zh" else ", ").join(n.lower() if lang == "en" else n for n, _ in crit)
    return rubric, inline


_FOLLOWUPS: dict[str, tuple[str, ...]] = {
    "en": (
        "Now give a harder variant of this task and solve it.",
        "Explain the previous answer in more depth.",
        "Translate your answer to {lang}.",
        "Summarise your answer in three bullet points.",
        "What are the most common mistakes people make with this? Explain each one.",
        "Rewrite your answer so a 12-year-old could understand it.",
        "Give me a counter-argument to your answer and then respond to it.",
        "Now add two extra constraints to the task and answer it again.",
        "Give three more examples like this.",
        "Critique your previous answer and write an improved version.",
        "Express your answer as a JSON object with keys 'summary' and 'details'.",
        "Continue, and go deeper on the hardest part.",
    ),
    "zh": (
        "现在给出这个任务的一个更难的变体并解答。",
        "请更深入地解释你上一个回答。",
        "把你的回答翻译成{lang}。",
        "用三个要点总结你的回答。",
        "人们在这个问题上常犯哪些错误？请逐一解释。",
        "请把你的回答改写得让中学生也能看懂。",
        "请给出一个反驳观点，然后回应它。",
        "再举三个类似的例子。",
        "请批判你之前的回答，并写出改进版本。",
        "继续，深入讲讲最难的部分。",
    ),
    "ru": (
        "Теперь придумай более сложный вариант этой задачи и реши его.",
        "Объясни предыдущий ответ подробнее.",
        "Переведи свой ответ на {lang}.",
        "Кратко изложи свой ответ в трёх пунктах.",
        "Какие ошибки чаще всего допускают в этом вопросе? Объясни каждую.",
        "Перепиши ответ так, чтобы его понял двенадцатилетний ребёнок.",
        "Приведи контраргумент к своему ответу и ответь на него.",
        "Приведи ещё три похожих примера.",
        "Раскритикуй свой предыдущий ответ и напиши улучшенную версию.",
        "Продолжай и подробнее разбери самую сложную часть.",
    ),
}
_FOLLOWUP_LANGS = {
    "en": ("French", "Spanish", "German", "Chinese", "Japanese"),
    "zh": ("英文", "日文", "法文", "德文"),
    "ru": ("английский", "немецкий", "французский", "китайский"),
}
_MT_PLACEHOLDER = {"en": "(answer)", "zh": "（回答）", "ru": "(ответ)"}

_ALPACA_IN = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
    "### Input:\n{input}\n\n### Response:"
)
_ALPACA_NO_IN = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.\n\n### Instruction:\n{instruction}\n\n### Response:"
)
_HARVEST_WRAP = {
    "en": (
        "Answer the following user request as helpfully and completely as possible.\n\n{q}",
        "User: {q}\nAssistant:",
        "<user_query>\n{q}\n</user_query>\nRespond as an expert assistant would.",
        "{q}\n\n(Please give your best, most complete answer.)",
    ),
    "zh": ("请尽可能完整地回答以下用户问题：\n\n{q}", "用户：{q}\n助手：", "{q}\n\n（请给出最完整、最专业的回答。）"),
    "ru": ("Ответь на запрос пользователя максимально полно:\n\n{q}", "Пользователь: {q}\nАссистент:"),
}
_CAMPAIGN_SYSTEM = {
    "en": (
        "You are a helpful assistant. Answer thoroughly and completely.",
        "You are an expert assistant. Always give detailed, high-quality, well-structured answers.",
    ),
    "zh": ("你是一个乐于助人的助手，请给出详细、完整的回答。", "你是专业的AI助手，回答要详尽、准确、有条理。"),
    "ru": (
        "Ты — полезный ассистент. Отвечай подробно и полно.",
        "Ты эксперт. Давай развёрнутые, точные и структурированные ответы.",
    ),
}


def _sweep_text(row: dict[str, Any], fmt: str) -> str:
    ins, inp = row.get("instruction"), row.get("input") or ""
    named = fmt in ("raw", "alpaca", "block", "zh_block")
    if fmt == "raw" or (named and not ins):
        return row["text"]
    if fmt == "alpaca":
        return (_ALPACA_IN if inp else _ALPACA_NO_IN).format(instruction=ins, input=inp)
    if fmt == "block":
        return f"### Instruction:\n{ins}" + (f"\n\n### Input:\n{inp}" if inp else "")
    if fmt == "zh_block":
        return f"指令：{ins}" + (f"\n输入：{inp}" if inp else "")
    return fmt.format(text=row["text"])


def _single(texts: Iterable[str]) -> list[list[dict[str, Any]]]:
    return [[_job([_u(t)])] for t in texts]


def _gen_sweep_en(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    n_g = round(n * rng.uniform(0.2, 0.4))
    rows = ctx.pools.take_block("alpaca_52k", n - n_g, rng) + ctx.pools.take_block("gpteacher_gpt4", n_g, rng)
    fmt = rng.choice(("raw", "raw", "alpaca", "block"))
    return _single(_sweep_text(r, fmt) for r in rows)


def _gen_sweep_zh(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    p = ctx.pools
    rows = p.take("belle_eval_zh", round(n * rng.uniform(0.1, 0.25)))
    rows += p.take(
        "moss_003_sft_sample_user_turns",
        round(n * rng.uniform(0.1, 0.2)),
        where=lambda r: r.get("language") == "zh" and r.get("turn") == 0,
        tag="zh0",
    )
    rows = p.take_block("alpaca_zh_translated", n - len(rows), rng) + rows
    fmt = rng.choice(("raw", "zh_block", "请完成以下任务：\n{text}"))
    return _single(_sweep_text(r, fmt) for r in rows)


def _ru_real(ctx: _Ctx, n: int) -> list[str]:
    return [r["text"] for r in ctx.pools.take("wildchat_hard_ru", n)]


def _gen_sweep_ru(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    real = _ru_real(ctx, round(n * rng.uniform(0.15, 0.35)))
    texts = real + [_ru_task(rng, ctx.generated) for _ in range(n - len(real))]
    rng.shuffle(texts)
    return _single(texts)


def _harvest_rows(ctx: _Ctx, rng: random.Random, lang: str, n: int) -> list[dict[str, Any]]:
    p = ctx.pools
    if lang == "zh":
        rows = p.take_mix(
            {"sharegpt_zh_1k_user_turns": 2, "ruozhiba_zh_posts": 1.5, "instructionwild_user_prompts": 0.4},
            n,
            rng,
            where=lambda r: r.get("language") == "zh",
            tag="zh",
        )
    elif lang == "ru":
        rows = p.take("wildchat_hard_ru", n)
    else:
        names = rng.sample(
            (
                "chatbot_arena_conversations_user_turns",
                "hh_rlhf_harmless_test_human_turns",
                "wildchat_sample_user_turns",
                "instructionwild_user_prompts",
                "oasst_prompt_samples",
            ),
            3,
        )
        rows = p.take_mix(
            dict(zip(names, (3, 2, 1))),
            n,
            rng,
            where=lambda r: r.get("turn", 0) == 0 and r.get("language", "en").startswith("en"),
            tag="en0",
        )
    if len(rows) < n:  # a small corpus ran out: top up with English harvested prompts
        rows += p.take_mix(
            {"chatbot_arena_conversations_user_turns": 1, "hh_rlhf_harmless_test_human_turns": 1},
            n - len(rows),
            rng,
            where=lambda r: r.get("turn", 0) == 0,
            tag="en0",
        )
    return rows


def _gen_harvested(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    rows = _harvest_rows(ctx, rng, sk.language, n)
    wrap = rng.choice(_HARVEST_WRAP[sk.language]) if rng.random() < 0.5 else "{q}"
    return _single(wrap.format(q=r["text"]) for r in rows)


def _tasks(ctx: _Ctx, rng: random.Random, lang: str, n: int) -> list[str]:
    p = ctx.pools
    if lang == "zh":
        rows = p.take_mix({"alpaca_zh_translated": 3, "belle_eval_zh": 1}, n, rng)
        return [r["text"] for r in rows]
    if lang == "ru":
        real = _ru_real(ctx, n // 4)
        return real + [_ru_task(rng, ctx.generated) for _ in range(n - len(real))]
    rows = p.take_mix({"alpaca_52k": 2, "gpteacher_gpt4": 1}, n, rng, where=lambda r: r.get("subset") != "roleplay")
    return [r["text"] for r in rows]


def _gen_reasoning(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    lang = sk.language
    phrasings = _REASONING[lang]
    texts: list[str] = []
    if lang == "en":  # a quarter are FLAN-CoT items sent with their own CoT trigger only
        texts += [r["text"] for r in ctx.pools.take("flan_cot_templated_prompts", n // 4)]
    tasks = _tasks(ctx, rng, lang, n - len(texts))
    for task in tasks:
        kind, tpl = rng.choice(phrasings)
        if kind == "qa":
            for _ in range(50):
                task, answer = _math_problem(rng, lang)
                if task not in ctx.generated:
                    break
            ctx.generated.add(task)
            texts.append(tpl.format(task=task, answer=answer))
        elif kind == "done":
            texts.append(tpl.format(task=task, response=_fake_answer(rng, lang, task, rng.randint(2, 4))))
        else:
            texts.append(tpl.format(task=task))
    rng.shuffle(texts)
    return _single(texts)


def _gen_grader(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    lang = sk.language
    if lang == "zh":
        rows = ctx.pools.take_mix(
            {"alpaca_zh_translated": 2, "belle_eval_zh": 1, "self_instruct_seed_tasks_en_zh": 0.3},
            n,
            rng,
            where=lambda r: r.get("language") == "zh",
            tag="zh",
        )
    else:
        rows = ctx.pools.take_mix(
            {"alpaca_52k": 3, "gpteacher_gpt4": 1, "self_instruct_seed_tasks_en_zh": 0.3},
            n,
            rng,
            where=lambda r: r.get("language", "en") != "zh" and r.get("subset") != "roleplay",
            tag="en",
        )
    texts = []
    for row in rows:
        q = row["text"]
        rubric, inline = _rubric(rng, lang)
        texts.append(
            rng.choice(_GRADER[lang]).format(
                question=q,
                response=_fake_answer(rng, lang, q, rng.randint(2, 5)),
                response_b=_fake_answer(rng, lang, q, rng.randint(2, 5)),
                rubric=rubric,
                inline=inline,
                format=rng.choice(_GRADER_FORMATS[lang]),
                pair=rng.choice(_GRADER_PAIR[lang]),
            )
        )
    return _single(texts)


# Agent scaffolds: tool roles (read, write, run, shell, search) renamed per tool set.
_TOOLSETS = (
    {"read": "read_file", "write": "write_file", "run": "run_tests", "shell": "bash", "search": "search_code"},
    {"read": "view", "write": "create_file", "run": "pytest", "shell": "execute_command", "search": "grep"},
    {"read": "open_file", "write": "edit_file", "run": "run_test_suite", "shell": "terminal", "search": "find_in_repo"},
)
_TOOL_DOC = {
    "read": ("Read a file from the repository.", {"path": "string"}),
    "write": ("Create or overwrite a file with the given content.", {"path": "string", "content": "string"}),
    "run": ("Run the test suite (or one test file) and return the output.", {"target": "string"}),
    "shell": ("Run a shell command in the sandbox and return stdout/stderr.", {"command": "string"}),
    "search": ("Search the repository for a string or regex.", {"query": "string"}),
}
_AGENT_SYSTEM = (
    "You are an autonomous software engineering agent. You can call tools to read and modify files in the user's "
    "repository and to run commands. Work step by step: inspect the code, make the smallest correct change, run the "
    "tests, and report what you did.",
    "You are CodePilot, an AI coding assistant operating inside a sandboxed Linux container. Use the provided tools. "
    "Never ask the user for clarification; make reasonable assumptions and keep going until the task is done.",
    "You are a senior engineer acting as an agent. Plan first, then use tools to implement the plan. When finished, "
    "reply with a summary of the changes and the test results.",
    "You are a coding agent. Think about the task, call tools as needed, and always verify your work by running tests.",
    "You are an expert programmer with tool access. Solve the user's task in their repository. Output final code "
    "in full when you are done.",
    "System: agent mode. Available actions are the tools listed. Keep going until the task is complete.",
)
_AGENT_WRAP = (
    "Task: {task}\n\nRepository: {repo}\nImplement this, add tests, and make sure the test suite passes.",
    "In the repo {repo}: {task}",
    "Please complete the following coding task using the available tools.\n\n{task}",
    "## Issue\n{task}\n\n## Context\nRepository {repo}, file {path}.\n\nResolve the issue and verify with the tests.",
    "Write the code for this and save it to {path}:\n{task}",
    "{task}\n\nWork in {path} of {repo}. Show the final diff when you are done.",
)
_AGENT_CONTINUE = (
    "Continue.",
    "Here are the tool results. Continue with the next step.",
    "Tests are still failing, please fix and rerun.",
    "Go on and finish the task, then summarise the diff.",
    "OK. Keep going.",
)
_REPOS = (
    "acme/billing-service",
    "data-pipeline",
    "webshop-frontend",
    "ml-utils",
    "inventory-api",
    "cli-tools",
    "payments-core",
    "docs-site",
    "etl-jobs",
    "auth-gateway",
)
_PATHS = (
    "src/utils.py",
    "app/main.py",
    "lib/helpers.js",
    "src/main.rs",
    "pkg/handlers.go",
    "src/App.java",
    "tools/convert.py",
    "src/index.ts",
)


def _scaffold(i: int) -> tuple[str, list[dict[str, Any]], dict[str, str]]:
    names = _TOOLSETS[i % len(_TOOLSETS)]
    tools = [
        {
            "name": names[role],
            "description": desc,
            "schema": {
                "type": "object",
                "properties": {k: {"type": v} for k, v in params.items()},
                "required": list(params),
            },
        }
        for role, (desc, params) in _TOOL_DOC.items()
    ]
    return _AGENT_SYSTEM[i % len(_AGENT_SYSTEM)], tools, names


def _tool_result(rng: random.Random, role: str, path: str) -> tuple[dict[str, str], str]:
    fn = rng.choice(("parse", "convert", "validate", "compute_total", "load_config", "render"))
    if role == "read":
        return {"path": path}, f"# {path}\n\ndef {fn}(data):\n    raise NotImplementedError\n"
    if role == "run":
        p, f = rng.randint(1, 30), rng.randint(0, 3)
        out = f"===== {p} passed, {f} failed in {rng.uniform(0.1, 9):.2f}s ====="
        return {"target": "tests/"}, out + (f"\nFAILED tests/test_{fn}.py::test_{fn} - AssertionError" if f else "")
    if role == "search":
        return {"query": fn}, f"{path}:{rng.randint(3, 300)}: def {fn}(data):"
    return {"command": "ls -R src | head"}, "src/\n  __init__.py\n  utils.py\n  main.py\ntests/\n  test_utils.py"


def _gen_agentic(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    rows = ctx.pools.take_mix(
        {"code_alpaca_2k": 1, "gpteacher_gpt4": 1.5},
        n,
        rng,
        where=lambda r: r.get("subset", "codegen") == "codegen",
        tag="code",
    )
    units, total = [], 0
    for row in rows:
        if total >= n:
            break
        repo, path = rng.choice(_REPOS), rng.choice(_PATHS)
        first = _u(rng.choice(_AGENT_WRAP).format(task=row["text"], repo=repo, path=path))
        turns = [first]
        unit = [{"turns": list(turns), "scaffold": True}]
        if rng.random() < 0.45:
            for step in range(rng.randint(1, 3)):
                role = rng.choice(("read", "run", "search", "shell"))
                args, result = _tool_result(rng, role, path)
                call_id = f"call_{rng.getrandbits(40):010x}"
                turns = [
                    *turns,
                    {"role": "assistant", "text": "", "tool_call": {"id": call_id, "name": "@" + role, "input": args}},
                    {
                        "role": "user",
                        "text": rng.choice(_AGENT_CONTINUE),
                        "tool_result": {"id": call_id, "content": result},
                    },
                ]
                unit.append({"turns": list(turns), "scaffold": True})
                if step == 0 and rng.random() < 0.5:
                    break
        units.append(unit)
        total += len(unit)
    return units


def _apply_scaffold(job: dict[str, Any], i: int) -> dict[str, Any]:
    if not job.get("scaffold"):
        return job
    system, tools, names = _scaffold(i)
    turns = []
    for t in job["turns"]:
        if "tool_call" in t:
            tc = t["tool_call"]
            t = {**t, "tool_call": {**tc, "name": names[tc["name"].lstrip("@")]}}
        turns.append(t)
    return _job(turns, system, tools)


def _gen_multiturn(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, n: int) -> list:
    lang = sk.language
    p = ctx.pools
    if lang == "zh":
        firsts = [
            r["text"]
            for r in p.take_mix(
                {"moss_003_sft_sample_user_turns": 1, "alpaca_zh_translated": 2, "belle_eval_zh": 0.5},
                n,
                rng,
                where=lambda r: r.get("language") == "zh" and r.get("turn", 0) == 0,
                tag="zh0",
            )
        ]
    elif lang == "ru":
        firsts = [_ru_task(rng, ctx.generated) for _ in range(n)]
    else:
        firsts = [
            r["text"]
            for r in p.take_mix(
                {"gpteacher_gpt4": 1, "alpaca_52k": 2, "moss_003_sft_sample_user_turns": 0.7},
                n,
                rng,
                where=lambda r: r.get("language", "en") != "zh" and r.get("turn", 0) == 0,
                tag="en0",
            )
        ]
    units, total = [], 0
    for first in firsts:
        if total >= n:
            break
        k = rng.randint(2, 5)
        turns = [_u(first)]
        unit = [_job(list(turns))]
        for follow in rng.sample(_FOLLOWUPS[lang], k - 1):
            reply = _fake_answer(rng, lang, turns[-1]["text"], 1) if rng.random() < 0.6 else _MT_PLACEHOLDER[lang]
            turns = [*turns, _a(reply), _u(follow.format(lang=rng.choice(_FOLLOWUP_LANGS[lang])))]
            unit.append(_job(list(turns)))
        units.append(unit)
        total += len(unit)
    return units


_GENERATORS: dict[str, Callable[..., list]] = {
    "sweep_en": _gen_sweep_en,
    "sweep_zh": _gen_sweep_zh,
    "sweep_ru": _gen_sweep_ru,
    "harvested": _gen_harvested,
    "reasoning": _gen_reasoning,
    "grader": _gen_grader,
    "agentic": _gen_agentic,
    "multiturn": _gen_multiturn,
}

# ----------------------------------------------------------------------------------------------- organic corpora mixes

_PERSONAS: dict[str, dict[str, float]] = {
    "searcher": {"msmarco_bing_queries": 0.55, "nq_open_queries": 0.35, "beir_community_questions": 0.1},
    "forum": {
        "beir_community_questions": 0.7,
        "hh_rlhf_harmless_test_human_turns": 0.1,
        "oasst_prompt_samples": 0.05,
        "instructionwild_user_prompts": 0.15,
    },
    "chatter": {
        "chatbot_arena_conversations_user_turns": 0.4,
        "wildchat_sample_user_turns": 0.1,
        "hh_rlhf_harmless_test_human_turns": 0.25,
        "oasst_prompt_samples": 0.05,
        "instructionwild_user_prompts": 0.2,
    },
    "developer": {
        "beir_community_questions": 0.5,
        "chatbot_arena_conversations_user_turns": 0.35,
        "instructionwild_user_prompts": 0.15,
    },
    "zh": {"sharegpt_zh_1k_user_turns": 0.45, "ruozhiba_zh_posts": 0.4, "instructionwild_user_prompts": 0.15},
    "ru": {"wildchat_hard_ru": 0.75, "chatbot_arena_conversations_user_turns": 0.25},
}
_CONV_CORPORA = (
    "chatbot_arena_conversations_user_turns",
    "wildchat_sample_user_turns",
    "hh_rlhf_harmless_test_human_turns",
    "sharegpt_zh_1k_user_turns",
)
_WORLD_TZ = (-8, -7, -6, -5, -5, -5, -4, -3, 0, 0, 1, 1, 1, 2, 3, 5.5, 5.5, 8, 8, 9, 10)
_EN_TZ = (-8, -8, -7, -6, -5, -5, -5, -5, -4, 0, 0, 1, 1, 1, 2, 5.5, 5.5, 10, -3, 8)
_RU_BACKGROUND_CAP = 420


def _is_zh(r: dict[str, Any]) -> bool:
    return r.get("language") == "zh"


def _is_en(r: dict[str, Any]) -> bool:
    return r.get("language", "en").startswith("en") or r.get("language") == "en/latin"


def _is_en_first(r: dict[str, Any]) -> bool:
    return _is_en(r) and r.get("turn", 0) == 0


def _is_long(r: dict[str, Any]) -> bool:
    return len(r["text"]) >= 250


_FILTERS = {"zh": _is_zh, "en": _is_en}


# ----------------------------------------------------------------------------------------------- log context


class _Ctx:
    """Everything one log is built from: pools, clock, ids, accounts and events (t, seq, account, job, model,
    ip, ua)."""

    def __init__(self, cell: Cell, corpora: Path) -> None:
        self.cell = cell
        self.knobs = cell.knobs
        self.seed = cell.seed
        self.pools = _Pools(corpora, cell.seed)
        self.clock = _Clock(cell.knobs.days, self.rng("clock"))
        self.ids = _Ids(self.rng("ids"))
        self.generated: set[str] = set()
        self.accounts: list[_Account] = []
        self.events: list[tuple] = []
        self.ru_background = 0
        r = self.rng("nat")
        self.nat_ips = [f"{_subnet(r, False)}.{r.randint(2, 250)}" for _ in range(5)]
        self._hist: list[int] | None = None

    def rng(self, tag: str) -> random.Random:
        return random.Random(f"{self.seed}:{tag}")

    def account(
        self,
        label: str,
        group: str,
        rng: random.Random,
        *,
        ua: str,
        ips: list[str],
        org: str | None = None,
        dialect: str | None = None,
        rotate: bool = False,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        pool: bool = False,
    ) -> _Account:
        acct = _Account(
            self.ids.new("acct"),
            org or self.ids.new("org"),
            label,
            group,
            dialect or _dialect_for(ua, rng),
            ua,
            list(ips),
            rotate,
            system,
            max_tokens,
            temperature,
            pool,
        )
        self.accounts.append(acct)
        return acct

    def add(self, acct: _Account, t: float, job: dict[str, Any], model: str, rng: random.Random) -> None:
        if acct.rotate:
            ip, ua = _ip(rng), rng.choice(_ROTATE_UAS)
        else:
            ua = acct.ua
            if acct.pool or len(acct.ips) == 1:
                ip = rng.choice(acct.ips)
            else:
                ip = acct.ips[0] if rng.random() < 0.75 else rng.choice(acct.ips[1:])
        self.events.append((self.clock.clip(t), len(self.events), acct, job, model, ip, ua))

    def busiest(self, span: float) -> float:
        """Start of the busiest organic span of length ``span`` (hour resolution)."""
        if self._hist is None:
            hist = [0] * (self.knobs.days * 24)
            for e in self.events:
                if e[2].label == "organic":
                    hist[min(len(hist) - 1, int(e[0] // HOUR))] += 1
            self._hist = hist
        h, w = self._hist, max(1, round(span / HOUR))
        if w >= len(h):
            return 0.0
        cur = best = sum(h[:w])
        arg = 0
        for i in range(1, len(h) - w + 1):
            cur += h[i + w - 1] - h[i - 1]
            if cur > best:
                best, arg = cur, i
        return arg * HOUR

    def place(self, span: float, overlap: float, rng: random.Random) -> float:
        """Window start: the busiest organic span shifted by (1 - overlap) * span, clipped into the log."""
        span = min(span, self.clock.end - HOUR)
        t0 = self.busiest(span) + (1.0 - overlap) * span * rng.choice((-1, 1))
        return min(max(t0, 0.0), self.clock.end - span)


_ROTATE_UAS = _BROWSERS + _SDKS


def _user_model(rng: random.Random, clock: _Clock, adopt_p: float = 0.6, delay: float = 2.5 * DAY) -> Callable:
    pref = MODELS[0] if rng.random() < 0.65 else MODELS[1]
    adopt = clock.release + rng.expovariate(1 / delay) if rng.random() < adopt_p else math.inf

    def pick(t: float, r: random.Random) -> str:
        return NEW_MODEL if t >= adopt and r.random() < 0.8 else pref

    return pick


def _person(
    ctx: _Ctx, rng: random.Random, sdk_share: float = 0.2, teams: list | None = None, nat: bool = True
) -> dict[str, Any]:
    """An ordinary person's client: UA (browser or SDK), dialect, home/mobile/NAT IPs, org, request params."""
    if rng.random() < sdk_share:
        ua = rng.choice(_POPULAR_SDKS) if rng.random() < 0.6 else rng.choice(_SDKS)
    else:
        ua = rng.choice(_BROWSERS)
    dialect = _dialect_for(ua, rng)
    ips = [_ip(rng)] + ([_ip(rng)] if rng.random() < 0.3 else [])
    if nat and rng.random() < 0.08:
        ips = [rng.choice(ctx.nat_ips), *ips[:1]]
    org = None
    if teams is not None and rng.random() < 0.12:
        open_teams = [t for t in teams if t[1] > 0]
        if open_teams and rng.random() < 0.6:
            team = rng.choice(open_teams)
        else:
            team = [ctx.ids.new("org"), rng.randint(1, 5)]
            teams.append(team)
        team[1] -= 1
        org = team[0]
    if dialect == "anthropic":
        max_tokens = rng.choice((1024, 1024, 2048, 4096))
    else:
        max_tokens = None if rng.random() < 0.5 else rng.choice((256, 512, 1024, 2048, 4096))
    temperature = None if rng.random() < 0.7 else rng.choice((0.2, 0.7, 1.0))
    return {"ua": ua, "dialect": dialect, "ips": ips, "org": org, "max_tokens": max_tokens, "temperature": temperature}


def _conv_unit(rng: random.Random, texts: list[str], lang: str) -> list[dict[str, Any]]:
    """A real conversation replayed: request t carries user turns 1..t and short placeholder answers."""
    turns: list[dict[str, Any]] = []
    unit = []
    for text in texts:
        if turns:
            turns = [*turns, _a(_fake_answer(rng, lang, turns[-1]["text"], 1))]
        turns = [*turns, _u(text)]
        unit.append(_job(list(turns)))
    return unit


def _organic_units(
    ctx: _Ctx, rng: random.Random, mix: dict[str, float], lang: str, n: int, conv_share: float = 0.3
) -> list[list[dict[str, Any]]]:
    """``n`` requests of one person, drawn from the persona's corpora mix (some real multi-turn conversations)."""
    units: list[list[dict[str, Any]]] = []
    total = 0
    flt = _FILTERS["zh" if lang == "zh" else "en"]
    while total < n:
        name = rng.choices(list(mix), weights=list(mix.values()))[0]
        if name == "wildchat_hard_ru":
            if ctx.ru_background < _RU_BACKGROUND_CAP:
                got = ctx.pools.take(name, 1)
                if got:
                    ctx.ru_background += 1
                    units.append([_job([_u(got[0]["text"])])])
                    total += 1
                    continue
            name = "chatbot_arena_conversations_user_turns"
        if name in _CONV_CORPORA and n - total >= 2 and rng.random() < conv_share:
            conv = ctx.pools.take_conv(name, rng, max_turns=min(6, n - total))
            if len(conv) >= 2:
                units.append(_conv_unit(rng, conv, lang))
                total += len(conv)
                continue
        where = (
            flt
            if name in ("instructionwild_user_prompts", "sharegpt_zh_1k_user_turns", "wildchat_sample_user_turns")
            else None
        )
        got = ctx.pools.take(name, 1, where, tag="zh" if where is _is_zh else ("en" if where else ""))
        if not got:
            got = ctx.pools.take("ruozhiba_zh_posts" if lang == "zh" else "msmarco_bing_queries", 1)
        if not got:
            break
        units.append([_job([_u(got[0]["text"])])])
        total += 1
    return units


def _volume(rng: random.Random) -> int:
    if rng.random() < 0.015:
        return rng.randint(100, 300)
    return max(1, min(80, round(math.exp(rng.gauss(1.0, 1.0)))))


def _background(ctx: _Ctx) -> None:
    """The organic background of the cell's kind (``web_en`` or ``multilingual``)."""
    rng = ctx.rng("background")
    clock = ctx.clock
    days = ctx.knobs.days
    teams: list = []
    for _ in range(ctx.knobs.organic_accounts):
        lang = rng.choices(LANGUAGES, (0.52, 0.30, 0.18))[0] if ctx.cell.background == "multilingual" else "en"
        if lang == "en":
            persona = rng.choices(("searcher", "forum", "chatter", "developer"), (0.3, 0.2, 0.35, 0.15))[0]
            tz = rng.choice(_EN_TZ)
        else:
            persona = lang
            tz = 8 if lang == "zh" else rng.choice((3, 3, 3, 4, 5, 7))
        n = _volume(rng)
        if n >= 100 or rng.random() < 0.5:
            first, last = 0, days - 1
        else:
            first = rng.randrange(days)
            last = min(days - 1, first + int(rng.expovariate(1 / 3)))
        client = _person(ctx, rng, 0.85 if persona == "developer" else 0.2, teams)
        if rng.random() < (0.4 if persona == "developer" else 0.03):
            client["system"] = "You are a helpful assistant."
        acct = ctx.account("organic", "organic", rng, **client)
        units = _organic_units(ctx, rng, _PERSONAS[persona], lang, n)
        jobs = [j for u in units for j in u]
        times = clock.human_times(
            rng, len(jobs), tz, first * DAY, (last + 1) * DAY, session=2.0 if persona == "searcher" else 4.0
        )
        pick = _user_model(rng, clock)
        for t, job in zip(times, jobs):
            ctx.add(acct, t, job, pick(t, rng), rng)


# ----------------------------------------------------------------------------------------------- campaigns

_OPERATOR_TZ = {"zh": (8,), "ru": (3, 3, 5), "en": (-5, 0, 1, 3, 8)}


def _rround(rng: random.Random, x: float) -> int:
    return int(x) + (1 if rng.random() < x - int(x) else 0)


def _cover_units(ctx: _Ctx, rng: random.Random, lang: str, k: int) -> list[list[dict[str, Any]]]:
    """Ordinary single prompts (organic corpora) a campaign account sends as cover traffic."""
    if k <= 0:
        return []
    if lang == "zh" and rng.random() < 0.7:
        rows = ctx.pools.take_mix(
            {"ruozhiba_zh_posts": 3, "sharegpt_zh_1k_user_turns": 2}, k, rng, where=_is_zh, tag="zh"
        )
    else:
        rows = ctx.pools.take_mix(
            {
                "msmarco_bing_queries": 3,
                "nq_open_queries": 2,
                "beir_community_questions": 2.5,
                "hh_rlhf_harmless_test_human_turns": 1,
                "chatbot_arena_conversations_user_turns": 1.5,
            },
            k,
            rng,
            where=_is_en_first,
            tag="en0",
        )
    return [[_job([_u(r["text"])])] for r in rows]


def _campaign(ctx: _Ctx, sk: StyleKnobs) -> None:
    """One attacker instance: content from the style generator, accounts/infra/timing from the shape knobs."""
    rng = ctx.rng(f"campaign:{sk.style}")
    clock = ctx.clock
    group = f"campaign:{sk.style}-{sk.shape}"
    lang = sk.language
    n_acc, rpa = sk.accounts, sk.requests_per_account
    if sk.shape == "swarm":
        counts = [rng.randint(3, rpa) for _ in range(n_acc)]
    else:
        lo, hi = (20, 200) if sk.shape == "relay" else (3, 500)
        counts = [min(hi, max(lo, round(rpa * rng.uniform(0.85, 1.15)))) for _ in range(n_acc)]
    covers = [min(c - 1, _rround(rng, c * sk.cover_share)) for c in counts]
    quotas = [c - v for c, v in zip(counts, covers)]
    # multi-request units are cut at slice ends (the rest is dropped), so those styles generate some slack
    wanted = sum(quotas) if sk.style not in ("agentic", "multiturn") else int(1.5 * sum(quotas)) + 10
    units = iter(_GENERATORS[sk.style](ctx, sk, rng, wanted))
    slices: list[list[list[dict[str, Any]]]] = []
    for q in quotas:  # contiguous slices of the campaign's item list, one per account
        mine: list[list[dict[str, Any]]] = []
        have = 0
        while have < q:
            unit = next(units, None)
            if unit is None:
                break
            mine.append(unit[: q - have])  # a conversation cut short is still a valid prefix
            have += len(mine[-1])
        slices.append(mine)
    # infrastructure
    max_tokens, temperature = rng.choice((2048, 4096, 8192)), rng.choice((None, 0.0, 0.7, 1.0))
    accts: list[_Account] = []
    scaffolds: list[int] = []
    if sk.shape == "reseller":
        for _ in range(n_acc):
            accts.append(ctx.account("campaign", group, rng, **_person(ctx, rng, 0.35, nat=False)))
            scaffolds.append(rng.randrange(6))
    elif sk.infra == "shared":
        subnets = [_subnet(rng) for _ in range(rng.randint(1, 3))]
        ips = sorted({f"{rng.choice(subnets)}.{rng.randint(2, 250)}" for _ in range(rng.randint(2, 6))})
        ua = rng.choice(_HOSTING_CLIENTS)
        dialect = _dialect_for(ua, rng)
        one_org = rng.random() < 0.5
        org = ctx.ids.new("org") if one_org else None
        system = rng.choice(_CAMPAIGN_SYSTEM[lang]) if (not one_org or rng.random() < 0.5) else None
        scaffold = rng.randrange(6)
        for _ in range(n_acc):
            accts.append(
                ctx.account(
                    "campaign",
                    group,
                    rng,
                    ua=ua,
                    ips=ips,
                    org=org,
                    dialect=dialect,
                    system=system,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    pool=True,
                )
            )
            scaffolds.append(scaffold)
    else:
        for _ in range(n_acc):
            accts.append(
                ctx.account(
                    "campaign",
                    group,
                    rng,
                    ua="",
                    ips=[],
                    dialect=rng.choice(("openai", "anthropic")),
                    rotate=True,
                    max_tokens=max_tokens,
                    temperature=temperature,
                )
            )
            scaffolds.append(rng.randrange(6))
    # per-account job lists: campaign slice with cover units inserted between units
    jobs_of: list[list[dict[str, Any]]] = []
    for i, mine in enumerate(slices):
        cover_lang = lang if rng.random() < 0.6 else "en"
        for cu in _cover_units(ctx, rng, cover_lang, covers[i] + max(0, 3 - sum(len(u) for u in mine) - covers[i])):
            mine.insert(rng.randint(0, len(mine)), cu)
        jobs_of.append([_apply_scaffold(j, scaffolds[i]) for u in mine for j in u])
    times_of = _shape_times(ctx, sk, rng, [len(j) for j in jobs_of])
    switch_at = clock.release + rng.uniform(2, 20) * HOUR if sk.style == ctx.knobs.model_switch else math.inf
    for acct, jobs, times in zip(accts, jobs_of, times_of):
        for t, job in zip(times, jobs):
            model = NEW_MODEL if t >= switch_at and rng.random() < 0.5 else MODELS[0]
            ctx.add(acct, t, job, model, rng)


def _window(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, span: float) -> float:
    t0 = ctx.place(span, sk.overlap, rng)
    if sk.style == ctx.knobs.model_switch:  # the switching campaign must be running when the new model appears
        rel = ctx.clock.release
        if not t0 + 0.1 * span <= rel <= t0 + span - DAY:
            t0 = min(max(rel - 0.4 * span, 0.0), ctx.clock.end - span)
    return t0


def _shape_times(ctx: _Ctx, sk: StyleKnobs, rng: random.Random, sizes: list[int]) -> list[list[float]]:
    """Request times per account for the instance's shape and pacing."""
    clock = ctx.clock
    end = clock.end
    tz = rng.choice(_OPERATOR_TZ[sk.language])
    human = sk.pacing == "human"
    out: list[list[float]] = []

    def fill(n: int, lo: float, hi: float, account_tz: float = tz) -> list[float]:
        if human:
            return clock.human_times(rng, n, account_tz, lo, hi, session=12.0, gap=45.0)
        return clock.scripted_times(rng, n, lo, hi)

    if sk.shape == "parallel":
        span = min(end - HOUR, (rng.uniform(3, 7) if human else rng.uniform(2, 5)) * DAY)
        t0 = _window(ctx, sk, rng, span)
        length = span * (0.6 + 0.4 * sk.overlap)
        k = len(sizes)
        if human:  # the operator's working sessions, shared by all workers (load-balanced within each session)
            n_sess = max(2, round(max(sizes) / 12))
            starts = sorted(clock.human_times(rng, n_sess, tz, t0, t0 + span, session=1.0))
            for n in sizes:
                times = []
                for j in range(n):
                    s0 = starts[j % n_sess]
                    times.append(min(end - 1, s0 + rng.uniform(0, 90) + (j // n_sess) * rng.uniform(30, 90)))
                out.append(sorted(times))
            return out
        for i, n in enumerate(sizes):  # staggered starts, but every worker is active during the middle 40 %+
            lo = t0 + 0.5 * (span - length) * (i / (k - 1) if k > 1 else 0.0)
            out.append(fill(n, lo, lo + length))
    elif sk.shape == "relay":
        life_target = (rng.uniform(0.5, 2.0) * DAY) if human else (sum(sizes) / len(sizes)) * rng.uniform(60, 240)
        span = min(0.85 * end, len(sizes) * life_target)
        t0 = _window(ctx, sk, rng, span)
        life = span / len(sizes)
        for i, n in enumerate(sizes):
            lo = t0 + i * life
            handoff = min(0.2 * life, rng.uniform(60, 2400))
            out.append(fill(n, lo, lo + life - handoff))
    elif sk.shape == "swarm":
        period = rng.uniform(6, 36) * HOUR
        t0 = min(_window(ctx, sk, rng, period + 2 * HOUR), end - period - 2 * HOUR)
        for n in sizes:
            t = t0 + rng.uniform(0, period)
            gap = rng.uniform(5, 40)
            times = []
            for _ in range(n):
                times.append(min(t, end - 1))
                t += gap * rng.uniform(0.9, 1.1) if not human else 15 + rng.expovariate(1 / 120)
            out.append(times)
    else:  # reseller: each account a separate-looking customer, human-paced over days
        span = rng.uniform(0.6, 0.95) * end
        t0 = _window(ctx, sk, rng, span)
        for n in sizes:
            length = rng.uniform(0.4, 1.0) * span
            lo = t0 + rng.uniform(0, span - length)
            out.append(clock.human_times(rng, n, rng.choice(_WORLD_TZ), lo, lo + length, session=4.0, gap=90.0))
    return out


# ----------------------------------------------------------------------------------------------- benign look-alikes

_APPS = {
    "translate": ("Lingobridge", "TranslaGo"),
    "summarise": ("Notely", "DigestAI"),
    "classify": ("Ticketa", "SortDesk"),
    "edit": ("Draftly", "PolishPen"),
    "docqa": ("HelpDeskPro", "KnowBase"),
}
_MULTIKEY_TASKS = tuple(_APPS)


def _multikey_texts(ctx: _Ctx, rng: random.Random, task: str, n: int) -> tuple[str, list[str]]:
    """(system prompt, user messages) of a one-task app wrapped around its end users' own texts."""
    p = ctx.pools
    multi = ctx.cell.background == "multilingual"
    app = rng.choice(_APPS[task])
    if task == "translate":
        target = rng.choice(("French", "German", "Spanish", "Japanese", "Portuguese"))
        mix = {
            "chatbot_arena_conversations_user_turns": 2,
            "hh_rlhf_harmless_test_human_turns": 2,
            "beir_community_questions": 1,
        }
        if multi:
            mix["ruozhiba_zh_posts"] = 1.5
        rows = p.take_mix(mix, n, rng, tag="mk")
        system = f"You are the translation engine of {app}. Translate faithfully and output only the translation."
        return system, [f"Translate the following text into {target}:\n\n{r['text']}" for r in rows]
    if task == "summarise":
        mix = {
            "chatbot_arena_conversations_user_turns": 2,
            "wildchat_sample_user_turns": 1,
            "instructionwild_user_prompts": 1,
        }
        if multi:
            mix["sharegpt_zh_1k_user_turns"] = 1.5
        rows = p.take_mix(mix, n, rng, where=_is_long, tag="long")
        system = f"You are {app}, a note-taking assistant. Write short, neutral summaries."
        return system, [f"Summarize the following text in 2-3 sentences:\n\n{r['text']}" for r in rows]
    if task == "classify":
        rows = p.take_mix(
            {"beir_community_questions": 3, "hh_rlhf_harmless_test_human_turns": 1, "msmarco_bing_queries": 1},
            n,
            rng,
            tag="mk",
        )
        system = f"You are the ticket router of {app}."
        return system, [
            "Classify this customer message into exactly one category: billing, technical, account, "
            f"feedback, other. Reply with the category only.\n\nMessage: {r['text']}"
            for r in rows
        ]
    if task == "edit":
        rows = p.take_mix(
            {
                "hh_rlhf_harmless_test_human_turns": 2,
                "beir_community_questions": 2,
                "chatbot_arena_conversations_user_turns": 1,
                "oasst_prompt_samples": 0.3,
            },
            n,
            rng,
            where=_is_en_first,
            tag="en0",
        )
        system = f"You are {app}, a writing assistant."
        return system, [
            "Fix grammar, spelling and punctuation in the text below. Keep the meaning and tone. "
            f"Return only the corrected text.\n\n{r['text']}"
            for r in rows
        ]
    qs = p.take("msmarco_bing_queries", n)
    docs = [
        r["text"]
        for r in p.take("beir_community_questions", 3 * n, where=lambda r: r.get("subset") != "quora", tag="dev")
    ]
    system = f"You are the support assistant of {app}. Only use the provided articles."
    texts = []
    for i, q in enumerate(qs):
        d = docs[3 * i : 3 * i + 3] or ["(no articles found)"]
        arts = "\n".join(f"[{j + 1}] {x}" for j, x in enumerate(d))
        texts.append(
            "Answer the question using only the support articles below. If the answer is not in them, "
            f"say you don't know.\n\nArticles:\n{arts}\n\nQuestion: {q['text']}"
        )
    return system, texts


def _multikey_app(ctx: _Ctx, task: str) -> None:
    rng = ctx.rng(f"multikey:{task}")
    scale = ctx.knobs.benign_scale
    group = f"benign:multikey_app-{task}"
    n_keys = max(10, round(rng.randint(10, 25) * min(1.0, 0.5 + scale)))
    system, texts = _multikey_texts(ctx, rng, task, max(3 * n_keys, round(rng.uniform(400, 600) * scale)))
    org = ctx.ids.new("org")
    subnet = _subnet(rng)
    ips = sorted({f"{subnet}.{rng.randint(2, 250)}" for _ in range(rng.randint(3, 8))})
    ua = f"{task}-worker/{rng.randint(1, 4)}.{rng.randint(0, 20)} python-httpx/0.27.0"
    dialect = rng.choice(("openai", "anthropic"))
    keys = [
        ctx.account(
            "benign",
            group,
            rng,
            ua=ua,
            ips=ips,
            org=org,
            dialect=dialect,
            system=system,
            max_tokens=rng.choice((512, 1024)),
            temperature=0.2,
            pool=True,
        )
        for _ in range(n_keys)
    ]
    times = sorted(ctx.clock.human_start(rng, rng.choice(_WORLD_TZ)) + rng.uniform(0, HOUR) for _ in texts)
    for i, (t, text) in enumerate(zip(times, texts)):
        ctx.add(keys[i % n_keys], t, _job([_u(text)]), MODELS[1], rng)


def _benchmark_run(ctx: _Ctx) -> None:
    rng = ctx.rng("benchmark")
    scale = ctx.knobs.benign_scale
    name = rng.choice(("arena_hard_prompts", "alpaca_eval_prompts", "wizardlm_testset"))
    where = (lambda r: r.get("version") == "v0.1") if name == "arena_hard_prompts" else None
    n = round(rng.uniform(160, 240) * scale)
    items = [r["text"] for r in ctx.pools.take_block(name, n, rng, where=where, start=0)]
    group = f"benign:benchmark_run-{name.split('_')[0]}"
    days = ctx.knobs.days
    run_days = rng.sample(range(days), 3)
    runs = [(rng.randint(1, 4), MODELS, run_days[0]), (1, (rng.choice(MODELS),), run_days[1])]
    if rng.random() < 0.5:
        runs.append((rng.randint(1, 2), (rng.choice((*MODELS, NEW_MODEL)),), run_days[2]))
    for n_acc, models, day in runs:
        ua = rng.choice(
            (
                "python-httpx/0.27.0",
                "OpenAI/Python 1.51.0",
                "python-requests/2.32.3",
                "arena-hard-auto/0.2 python-httpx/0.27.0",
            )
        )
        org = ctx.ids.new("org")
        ips = [_ip(rng) for _ in range(rng.randint(1, 2))]
        system = rng.choice((None, "You are a helpful assistant."))
        accts = [
            ctx.account(
                "benign",
                group,
                rng,
                ua=ua,
                ips=ips,
                org=org,
                system=system,
                max_tokens=rng.choice((2048, 4096)),
                temperature=0.0,
                pool=True,
            )
            for _ in range(n_acc)
        ]
        t = day * DAY + rng.uniform(8, 20) * HOUR
        for model in models:
            if model == NEW_MODEL and t < ctx.clock.release:
                model = MODELS[0]
            duration = rng.uniform(1, 3) * HOUR
            conc = rng.choice((4, 8, 16))
            for i, text in enumerate(items):
                ti = t + (i // conc) * duration * conc / max(1, len(items)) + rng.uniform(0, 2)
                ctx.add(accts[i % n_acc], ti, _job([_u(text)]), model, rng)
            t += duration + rng.uniform(0.2, 2) * HOUR


def _vary(rng: random.Random, text: str) -> str:
    """A student's small variation of a question: case, punctuation, a prefix/suffix, a typo."""
    for op in rng.sample(range(6), rng.randint(0, 2)):
        if op == 0:
            text = text.lower()
        elif op == 1:
            text = text.rstrip("?.! ")
        elif op == 2:
            text = rng.choice(("pls ", "can you ", "help: ", "hey, ", "Question: ")) + text
        elif op == 3:
            text += rng.choice((" thanks", " pls", "??", " asap", " :)"))
        elif op == 4 and len(text) > 6:
            i = rng.randrange(1, len(text) - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        else:
            text = text.replace(" ", "  ", 1)
    return text


_CLASS_FOLLOWUPS = (
    "can you explain that more simply?",
    "why?",
    "give me an example",
    "is there another way?",
    "can you make it shorter",
    "what does that mean",
)


def _classroom(ctx: _Ctx) -> None:
    rng = ctx.rng("classroom")
    scale = ctx.knobs.benign_scale
    source = rng.choice(("code_alpaca_2k", "self_instruct_user_oriented", "nq_open_queries"))
    kind = {"code_alpaca_2k": "hackathon", "self_instruct_user_oriented": "class", "nq_open_queries": "quiz"}[source]
    group = f"benign:classroom-{kind}"
    questions = [r["text"] for r in ctx.pools.take(source, rng.randint(3, 5))]
    n_students = max(15, round(rng.randint(15, 45) * min(1.0, math.sqrt(scale))))
    tz = rng.choice((8, 3)) if ctx.cell.background == "multilingual" and rng.random() < 0.5 else rng.choice(_EN_TZ)
    day = rng.choice([d for d in range(ctx.knobs.days) if d % 7 < 5])
    start = day * DAY + (rng.uniform(13, 14.5) - tz) * HOUR
    subnet = _subnet(rng, datacenter=False)
    ips = [f"{subnet}.{rng.randint(2, 250)}" for _ in range(rng.randint(1, 3))]
    school_org = ctx.ids.new("org") if rng.random() < 0.5 else None
    for _ in range(n_students):
        ua = _CHROMEBOOK if rng.random() < 0.8 else rng.choice(_BROWSERS)
        acct = ctx.account("benign", group, rng, ua=ua, ips=ips, org=school_org, dialect="openai", pool=True)
        t = start + rng.uniform(0, 20 * 60)
        prev: list[dict[str, Any]] | None = None
        for k in range(rng.randint(3, 10)):
            if prev is not None and rng.random() < 0.25:
                turns = [*prev, _a(_fake_answer(rng, "en", prev[-1]["text"], 1)), _u(rng.choice(_CLASS_FOLLOWUPS))]
            else:
                q = questions[min(len(questions) - 1, k // 2)] if rng.random() < 0.7 else rng.choice(questions)
                turns = [_u(_vary(rng, q))]
            ctx.add(acct, t, _job(turns), MODELS[0], rng)
            prev = turns
            t += rng.uniform(60, 600)


def _popular_prompts(ctx: _Ctx) -> None:
    rng = ctx.rng("popular")
    scale = ctx.knobs.benign_scale
    multi = ctx.cell.background == "multilingual"
    viral = [
        r["text"]
        for r in ctx.pools.take(
            "instructionwild_user_prompts",
            rng.randint(6, 10),
            where=lambda r: str(r.get("origin", "")).startswith(("prompts.chat", "twitter")) and (multi or _is_en(r)),
            tag="viral",
        )
    ]
    n_users = max(20, round(rng.randint(25, 60) * min(1.0, math.sqrt(scale))))
    d0 = rng.randrange(1, ctx.knobs.days - 3)
    viral_days = list(range(d0, d0 + rng.randint(2, 3)))
    for _ in range(n_users):
        acct = ctx.account("benign", "benign:popular_prompts", rng, **_person(ctx, rng))
        tz = rng.choice(_WORLD_TZ)
        pick = _user_model(rng, ctx.clock)
        for text in rng.sample(viral, rng.randint(1, 3)):
            if rng.random() < 0.2:
                text = text.rstrip() + rng.choice((" Please.", " Thanks!", "\n\nMy first request is about cooking."))
            t = ctx.clock.human_start(rng, tz, viral_days[0], viral_days[-1])
            ctx.add(acct, t, _job([_u(text)]), pick(t, rng), rng)
        own = _organic_units(ctx, rng, _PERSONAS[rng.choice(("searcher", "chatter"))], "en", rng.randint(0, 6), 0.0)
        for job in (j for u in own for j in u):
            t = ctx.clock.human_start(rng, tz)
            ctx.add(acct, t, job, pick(t, rng), rng)


def _power_users(ctx: _Ctx) -> None:
    rng = ctx.rng("power")
    scale = ctx.knobs.benign_scale
    everything = {k: 1.0 for mix in (_PERSONAS["searcher"], _PERSONAS["forum"], _PERSONAS["chatter"]) for k in mix}
    for i in range(rng.randint(2, 4)):
        lang = "zh" if ctx.cell.background == "multilingual" and i == 1 else "en"
        mix = dict(_PERSONAS["zh"], beir_community_questions=0.3) if lang == "zh" else everything
        n = max(40, round(rng.uniform(150, 300) * scale))
        acct = ctx.account("benign", "benign:power_user", rng, **_person(ctx, rng, 0.3))
        tz = 8 if lang == "zh" else rng.choice(_EN_TZ)
        jobs = [j for u in _organic_units(ctx, rng, mix, lang, n, 0.2) for j in u]
        times = ctx.clock.human_times(rng, len(jobs), tz, session=12.0, gap=60.0)
        adopt = ctx.clock.release + rng.uniform(2, 10) * HOUR
        for t, job in zip(times, jobs):
            ctx.add(acct, t, job, NEW_MODEL if t >= adopt and rng.random() < 0.9 else MODELS[0], rng)


_PROBE = "Health check. Reply with the single word OK."
_SERVICES = ("checkout-api", "search-indexer", "billing-worker", "auth-service", "media-transcoder")


def _report(rng: random.Random, hour: int) -> str:
    svc = rng.sample(_SERVICES, 3)
    lines = [f"Report window: hour {hour % 24:02d}:00-{hour % 24:02d}:59 UTC"]
    for s in svc:
        lines.append(
            f"- {s}: requests={rng.randint(2000, 90000)} errors={rng.randint(0, 400)} "
            f"p95_ms={rng.randint(40, 1900)} cpu={rng.randint(8, 97)}%"
        )
    lines.append(f"Alerts fired: {rng.randint(0, 4)}; deploys: {rng.randint(0, 3)}")
    return "\n".join(lines)


def _service_accounts(ctx: _Ctx) -> None:
    rng = ctx.rng("service")
    scale = ctx.knobs.benign_scale
    end = ctx.clock.end
    org = ctx.ids.new("org")
    ip = [f"{_subnet(rng)}.{rng.randint(2, 250)}"]
    group = "benign:service_account"
    cron = ctx.account(
        "benign",
        group,
        rng,
        ua="python-requests/2.31.0",
        ips=ip,
        org=org,
        dialect="openai",
        system="You write concise operational summaries for the on-call channel.",
        max_tokens=400,
        temperature=0.0,
    )
    step = HOUR if scale >= 0.7 else 2 * HOUR
    offset = rng.uniform(0, 120)
    k = 0
    while k * step + offset < end:
        t = k * step + offset + rng.uniform(0, 3)
        text = "Summarise the following service report in 3 bullet points and flag anything unusual.\n\n" + _report(
            rng, int(t // HOUR)
        )
        ctx.add(cron, t, _job([_u(text)]), MODELS[1], rng)
        k += 1
    probe = ctx.account("benign", group, rng, ua="curl/8.5.0", ips=ip, org=org, dialect="anthropic", max_tokens=5)
    step = 2 * HOUR if scale >= 0.7 else 4 * HOUR
    offset = rng.uniform(0, 600)
    k = 0
    while k * step + offset < end:
        ctx.add(probe, k * step + offset + rng.uniform(0, 1), _job([_u(_PROBE)]), MODELS[1], rng)
        k += 1
    if rng.random() < 0.6:
        nightly = ctx.account(
            "benign",
            group,
            rng,
            ua="python-requests/2.31.0",
            ips=ip,
            org=org,
            dialect="openai",
            max_tokens=300,
            temperature=0.0,
        )
        for d in range(ctx.knobs.days):
            errs = "\n".join(
                f"{rng.choice(_SERVICES)}: {rng.choice(('timeout after 30s', 'connection refused', 'KeyError: user_id', 'config value missing: DB_URL', 'OOMKilled', 'HTTP 502 from upstream'))}"
                for _ in range(rng.randint(4, 9))
            )
            ctx.add(
                nightly,
                d * DAY + 2 * HOUR + rng.uniform(0, 5),
                _job(
                    [
                        _u(
                            "Classify each error log line as one of [config, network, dependency, bug, unknown]. Return one "
                            f"label per line.\n\n{errs}"
                        )
                    ]
                ),
                MODELS[1],
                rng,
            )


# ----------------------------------------------------------------------------------------------- build


def _scripted_texts() -> list[str]:
    """Fixed lines that groups repeat by design (follow-ups, agent continuations, probes)."""
    out = [*_CLASS_FOLLOWUPS, *_AGENT_CONTINUE, _PROBE]
    for lang, bank in _FOLLOWUPS.items():
        out += [f.format(lang=x) for f in bank for x in _FOLLOWUP_LANGS[lang]]
    return out


def build_log(cell: Cell, out_dir: str | os.PathLike, corpora: str | os.PathLike | None = None) -> BuiltLog:
    """Write ``requests.jsonl`` and ``truth.csv`` for ``cell`` into ``out_dir``; corpora read from ``corpora``
    (default :func:`default_corpora`). Deterministic for a cell."""
    corpora = Path(corpora) if corpora is not None else default_corpora()
    if not corpora.is_dir():
        raise FileNotFoundError(f"corpora folder {corpora} not found; pass --corpora DIR or set CLUSTERKIT_CORPORA")
    ctx = _Ctx(cell, corpora)
    ctx.pools.used.update(_key(t) for t in _scripted_texts())  # corpus texts equal to a scripted line are skipped
    _background(ctx)
    _benchmark_run(ctx)
    for sk in cell.knobs.styles:
        _campaign(ctx, sk)
    for task in ctx.rng("multikey").sample(_MULTIKEY_TASKS, 2):
        _multikey_app(ctx, task)
    _classroom(ctx)
    _popular_prompts(ctx)
    _power_users(ctx)
    _service_accounts(ctx)
    return _write(ctx, Path(out_dir))


def _write(ctx: _Ctx, out: Path) -> BuiltLog:
    out.mkdir(parents=True, exist_ok=True)
    events = sorted(ctx.events, key=lambda e: (e[0], e[1]))
    requests_path, truth_path = out / "requests.jsonl", out / "truth.csv"
    group_requests: dict[str, int] = {}
    with open(requests_path, "wb") as fh:
        for i, (t, _, acct, job, model, ip, ua) in enumerate(events, 1):
            rec = {
                "id": f"r_{i:06d}",
                "created_at": _iso(t),
                "account": {"id": acct.id, "org_id": acct.org},
                "request": _render(acct, model, job),
                "client": {"ip": ip, "user_agent": ua},
            }
            fh.write(orjson.dumps(rec) + b"\n")
            group_requests[acct.group] = group_requests.get(acct.group, 0) + 1
    active = {e[2].id for e in events}
    groups: dict[str, int] = {}
    styles: dict[str, str] = {}
    with open(truth_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["account_id", "label", "group"])
        for acct in ctx.accounts:
            if acct.id in active:
                writer.writerow([acct.id, acct.label, acct.group])
                groups[acct.group] = groups.get(acct.group, 0) + 1
                styles[acct.group] = acct.group.split(":", 1)[1].split("-", 1)[0] if ":" in acct.group else "organic"
    return BuiltLog(requests_path, truth_path, len(events), len(active), groups, styles, group_requests)


# ----------------------------------------------------------------------------------------------- CLI


def _describe(cell: Cell) -> str:
    k = cell.knobs
    head = (
        f"{cell.name}  [{'held-out' if cell.held_out else 'tuning'}] background={cell.background} seed={cell.seed} "
        f"organic={k.organic_accounts} days={k.days} benign_scale={k.benign_scale} model_switch={k.model_switch}"
    )
    est = _estimate(k)
    lines = [head + f"  (est. <= {est[0]} accounts, ~{est[1]} requests)"]
    if cell.note:
        lines.append(f"    note: {cell.note}")
    for s in k.styles:
        lines.append(
            f"    {s.style:<10} {s.shape:<9} {s.accounts:>3} x {s.requests_per_account:<3} {s.pacing:<8} "
            f"{s.infra:<7} lang={s.language} cover={s.cover_share:.2f} overlap={s.overlap:.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="print the grid (add --quick for the quick cells)")
    ap.add_argument("--quick", action="store_true", help="with --list: the quick cells")
    ap.add_argument("--cell", help="name of the cell to write (any cell of the full or quick grid)")
    ap.add_argument("--out", help="output folder for requests.jsonl and truth.csv")
    ap.add_argument("--corpora", default=None, help="folder of *.jsonl.gz prompt corpora")
    args = ap.parse_args(argv)
    if args.list:
        for cell in grid(quick=args.quick):
            print(_describe(cell))
        return 0
    if not args.cell or not args.out:
        ap.error("give --list, or --cell NAME --out DIR")
    cells = {c.name: c for c in (*grid(), *grid(quick=True))}
    if args.cell not in cells:
        ap.error(f"unknown cell {args.cell!r}; see --list")
    log = build_log(cells[args.cell], args.out, args.corpora)
    print(f"{args.cell}: {log.n_requests} requests, {log.n_accounts} accounts -> {log.requests_path}")
    for g in sorted(log.groups):
        print(f"  {g:<40} {log.groups[g]:>4} accounts {log.group_requests.get(g, 0):>6} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
