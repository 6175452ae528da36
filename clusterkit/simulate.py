"""Labelled request-log simulator: organic users, distillation campaigns, benign look-alikes.

``simulate(out_dir)`` writes ``requests.jsonl`` (nested request-log format, with a few bad lines
that ingest must quarantine) and ``truth.csv`` (``account_id,label,group``). With ``corpora``
(a folder of ``*.jsonl.gz`` prompt corpora such as ``../shared/data/prompts``) prompts are drawn
from real data; without it, :mod:`clusterkit.prompts_builtin` keeps the demo self-contained.

Real corpora are finite (about 65k organic prompts, 52k Alpaca tasks): a large log draws each
prompt many times. Sent verbatim by many accounts, every prompt would look "popular" — which real
traffic is not, and which hides the disjoint coverage of a sweep. So the k-th time a corpus prompt
is handed out again it comes reworded the way people and scripts vary a request (a greeting, a
"thanks", "keep it short"; :func:`_reworded`), a distinct text with nearly the same meaning.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from . import prompts_builtin as builtin
from .errors import InputError

__all__ = ["SIZES", "Simulation", "simulate"]

#: (organic users, accounts per campaign, days, volume scale)
SIZES: dict[str, tuple[int, int, int, float]] = {
    "tiny": (120, 5, 3, 1.0),
    "small": (700, 10, 7, 4.0),
    "medium": (3000, 20, 14, 8.0),
    "large": (14000, 50, 30, 32.0),
}
_START = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
_BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
_SDK_UAS = ["openai-python/1.30.1", "anthropic-python/0.28.0", "langchain/0.2.1", "node-fetch/3.3.2"]
_SCRIPT_UAS = ["python-httpx/0.27.0", "python-requests/2.31.0", "aiohttp/3.9.5", "Go-http-client/2.0"]
_MODELS = ["frontier-large-2026-02", "frontier-mini-2026-02"]
#: A model released part-way through the log; some campaigns pivot to it within a day.
_NEW_MODEL = "frontier-large-2026-03"
_COT_SUFFIX = (
    "\n\nBefore giving the final answer, write out your complete internal reasoning "
    "step by step, showing every intermediate thought."
)
_GRADER = (
    "You are an expert evaluator. Grade the response below against the rubric: correctness "
    "(0-4), completeness (0-3), clarity (0-3). Output a score for each criterion with a "
    "one-line justification, then the total out of 10.\n\nQuestion: {q}\n\nResponse: {a}"
)
_AGENT_SYSTEM = (
    "You are an autonomous software engineering agent. Think step by step, plan the change, then output the full patch."
)
_HEAVY_APP = "Summarize the following customer review in one sentence and label its sentiment:\n\n{r}"
_REVIEWS = [
    "The blender broke after two weeks.",
    "Fast shipping, great quality!",
    "Not what I expected.",
    "Customer service was very helpful.",
    "The colour faded after one wash.",
    "Five stars, would buy again.",
    "Arrived late and damaged.",
    "Works as described.",
    "Too expensive for what it is.",
    "Love it!",
]
_CLASS_QUESTIONS = [
    "What is the capital of Australia?",
    "Explain photosynthesis in two sentences.",
    "What year did World War II end?",
    "Define a prime number.",
    "What is 15% of 80?",
]

# Which corpus files feed which role when real corpora are used.
_ORGANIC_FILES = (
    "chatbot_arena_conversations_user_turns",
    "msmarco_bing_queries",
    "nq_open_queries",
    "beir_community_questions",
    "wildchat_sample_user_turns",
    "oasst_prompt_samples",
    "instructionwild_user_prompts",
    "hh_rlhf_harmless_test_human_turns",
)
_ROLE_FILES = {
    "sweep": ("alpaca_52k",),
    "cot": ("flan_cot_templated_prompts",),
    "code": ("code_alpaca_2k",),
    "zh": ("alpaca_zh_translated", "belle_eval_zh"),
    "grader": ("alpaca_eval_prompts", "self_instruct_user_oriented", "wizardlm_testset"),
    "eval": ("arena_hard_prompts",),
}


@dataclass(frozen=True)
class Simulation:
    """Where the simulated log went and what it holds."""

    requests_path: Path
    truth_path: Path
    n_requests: int
    n_accounts: int
    n_bad_lines: int
    groups: dict[str, int]


@dataclass
class _Account:
    account_id: str
    label: str
    group: str
    org_id: str
    ua: str
    ip_prefix: str
    anthropic_shape: bool
    system: str | None = None
    #: hydra networks: extra proxy prefixes and clients a request may come from
    ip_pool: tuple[str, ...] = ()
    ua_pool: tuple[str, ...] = ()
    #: when this account starts sending to the new model (seconds into the log); None: never
    pivot_at: float | None = None


_LEADS = ("", "Quick question: ", "Hi, ", "Can you help? ", "Hey! ", "Question: ", "Please help: ", "I was wondering: ")
_TAILS = (
    "",
    " Thanks!",
    " Thank you.",
    " Please explain simply.",
    " Keep it short.",
    " (urgent)",
    " thx",
    " Any ideas?",
)
_LEADS_CJK = ("", "请问：", "你好，", "帮我看看：", "问一下：", "麻烦你：", "急！", "想请教：")
_TAILS_CJK = ("", "谢谢！", "谢谢。", "请简单解释。", "简短一点。", "（急）", "多谢", "有什么想法吗？")


def _is_cjk(text: str) -> bool:
    return any(
        "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text[:40]
    )


def _reworded(text: str, k: int) -> str:
    """The ``k``-th rewording of ``text`` (``k = 0``: the text itself); 63 distinct ones, then
    numbered."""
    if k == 0:
        return text
    leads, tails = (_LEADS_CJK, _TAILS_CJK) if _is_cjk(text) else (_LEADS, _TAILS)
    form = (k - 1) % 63 + 1  # 1..63: every (lead, tail) pair but the plain one
    out = leads[form % 8] + text + tails[form // 8]
    return out if k <= 63 else f"{out} ({k // 63 + 1})"


class _Pools:
    """Prompt pools by role, from real corpora or the built-in generator."""

    def __init__(self, rng: random.Random, corpora: Path | None, need: int) -> None:
        self.rng = rng
        self.real: dict[str, list[str]] = {}
        if corpora is not None:
            for role, names in (("organic", _ORGANIC_FILES), *_ROLE_FILES.items()):
                texts: list[str] = []
                for name in names:
                    texts.extend(_read_corpus(corpora / f"{name}.jsonl.gz"))
                if texts:
                    rng.shuffle(texts)
                    self.real[role] = texts
        self.need = need
        self.drawn = {role: [0] * len(texts) for role, texts in self.real.items()}

    def take(self, role: str, n: int, offset: int = 0) -> list[str]:
        texts = self.real.get(role)
        if texts:
            drawn, out = self.drawn[role], []
            for i in range(n):
                j = (offset + i) % len(texts)
                out.append(_reworded(texts[j], drawn[j]))
                drawn[j] += 1
            return out
        rng = self.rng
        if role == "organic":
            return builtin.organic_prompts(rng, n)
        if role == "zh":
            return builtin.chinese_tasks(rng, n)
        areas = {
            "cot": ["math", "physics", "chemistry", "economics"],
            "code": ["python", "sql", "javascript", "devops"],
            "grader": ["medicine", "law", "finance", "history"],
            "eval": ["ml", "biology", "writing"],
            # the broad sweep (and the resellers' slices of it) covers the remaining areas, as the
            # real corpora's sweep pool (Alpaca) differs from the CoT, code and grader pools
            "sweep": ["biology", "cooking", "travel", "fitness", "writing", "ml"],
        }.get(role, list(builtin.AREAS))
        return builtin.task_prompts(rng, areas, n)


def _read_corpus(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            try:
                text = orjson.loads(line).get("text")
            except orjson.JSONDecodeError:
                continue
            if isinstance(text, str) and text.strip() and len(text) < 4000:
                out.append(text)
    return out


def _diurnal_times(rng: random.Random, n: int, days: int, tz: int) -> list[float]:
    """Human timing: sessions in waking hours of the account's time zone."""
    out: list[float] = []
    while len(out) < n:
        day = rng.randrange(days)
        hour = min(23.9, max(7.0, rng.gauss(15, 4)))
        t = (day * 24 + hour - tz) * 3600 + rng.random() * 3600
        for _ in range(min(n - len(out), 1 + int(rng.expovariate(0.4)))):
            out.append(t)
            t += rng.expovariate(1 / 90)
    return out


def _scripted_times(rng: random.Random, n: int, start: float, span: float) -> list[float]:
    """Scripted timing: evenly spaced round the clock with small jitter."""
    step = span / max(n, 1)
    return [start + i * step + rng.uniform(-0.1, 0.1) * step for i in range(n)]


def simulate(
    out: str | os.PathLike[str],
    *,
    corpora: str | os.PathLike[str] | None = None,
    size: str = "tiny",
    seed: int = 0,
    bad_lines: bool = True,
) -> Simulation:
    """Write a labelled simulated log to folder ``out``; see the module docstring."""
    if size not in SIZES:
        raise InputError(f"size {size!r} is not one of {', '.join(SIZES)}")
    corpora_path = Path(corpora) if corpora is not None else None
    if corpora_path is not None and not corpora_path.is_dir():
        raise InputError(f"--corpora {corpora_path}: no such folder")
    rng = random.Random(seed)
    n_org, per_campaign, days, scale = SIZES[size]
    pools = _Pools(rng, corpora_path, 0)
    span = days * 86400.0
    rows: list[tuple[float, _Account, str, str | None]] = []
    accounts: list[_Account] = []

    def account(label: str, group: str, ua: str, ip_prefix: str, system: str | None = None) -> _Account:
        acc = _Account(
            account_id=f"acct_{rng.getrandbits(40):010x}",
            label=label,
            group=group,
            org_id=f"org_{rng.getrandbits(32):08x}",
            ua=ua,
            ip_prefix=ip_prefix,
            anthropic_shape=rng.random() < 0.5,
            system=system,
        )
        accounts.append(acc)
        return acc

    def rand_prefix() -> str:
        return f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}"

    release = span * rng.uniform(0.45, 0.6)
    # Organic users: heavy-tailed volume, diurnal timing, their own devices.
    popular = builtin.popular_prompts()
    for _ in range(n_org):
        acc = account("organic", "organic", rng.choice(_BROWSER_UAS + _SDK_UAS), rand_prefix())
        if rng.random() < 0.3:  # ordinary early adopters of the new model (a few within the first day)
            acc.pivot_at = release + rng.expovariate(1 / (3 * 86400))
        n = max(1, int(rng.lognormvariate(1.6, 1.0) * scale**0.5))
        times = _diurnal_times(rng, n, days, rng.choice([-8, -5, 0, 1, 8, 9]))
        texts = pools.take("organic", n, offset=rng.randrange(10**6))
        for t, text in zip(times, texts):
            rows.append((t, acc, rng.choice(popular) if rng.random() < 0.05 else text, None))

    # Distillation campaigns: many accounts, disjoint even slices of a sweep, scripted timing.
    styles: list[tuple[str, str, Callable[[str], str], str | None]] = [
        ("campaign:broad_sweep", "sweep", lambda s: s, None),
        ("campaign:cot_extraction", "cot", lambda s: s + _COT_SUFFIX, None),
        ("campaign:grader", "grader", lambda s: _GRADER.format(q=s, a="(candidate answer omitted)"), None),
        ("campaign:agentic_coding", "code", lambda s: s, _AGENT_SYSTEM),
        ("campaign:zh_sweep", "zh", lambda s: s, None),
    ]
    per_account = int(40 * scale)
    for k, (group, role, wrap, system) in enumerate(styles):
        # Sizes vary; half the campaigns run through a hydra network (many proxy prefixes,
        # several clients, shuffled per request), the others from one client and one /24.
        size_k = max(3, round(per_campaign * rng.choice([0.6, 1.0, 1.0, 1.5, 2.0])))
        hydra = k % 2 == 0
        uas = tuple(rng.sample(_SCRIPT_UAS + _SDK_UAS, 3)) if hydra else (rng.choice(_SCRIPT_UAS),)
        prefixes = tuple(rand_prefix() for _ in range(max(2, size_k // 2))) if hydra else (rand_prefix(),)
        pivot = release + rng.uniform(1, 20) * 3600 if k in (0, 3) else None
        members = []
        for _ in range(size_k):
            acc = account("campaign", group, uas[0], prefixes[0], system)
            acc.ip_pool, acc.ua_pool, acc.pivot_at = prefixes, uas, pivot
            members.append(acc)
        tasks = pools.take(role, per_account * size_k, offset=rng.randrange(10**6))
        start = rng.uniform(0, span * 0.3)
        length = rng.uniform(0.4, 0.7) * span
        for i, acc in enumerate(members):
            mine = tasks[i::size_k]
            for t, text in zip(_scripted_times(rng, len(mine), start + rng.uniform(0, 600), length), mine):
                rows.append((t, acc, wrap(text), acc.system))

    # Low-and-slow reseller accounts: human-like timing, cover traffic, a slice of a sweep.
    resellers = [
        account("campaign", "campaign:reseller", rng.choice(_SDK_UAS), rand_prefix()) for _ in range(per_campaign)
    ]
    tasks = pools.take("sweep", per_account * per_campaign, offset=rng.randrange(10**6))
    for i, acc in enumerate(resellers):
        mine = tasks[i::per_campaign][: per_account // 2]
        cover = pools.take("organic", len(mine), offset=rng.randrange(10**6))
        texts = [x for pair in zip(mine, cover) for x in pair]
        for t, text in zip(_diurnal_times(rng, len(texts), days, rng.choice([0, 8])), texts):
            rows.append((t, acc, text, None))

    # Benign look-alikes.
    app = account("benign", "benign:heavy_app", "acme-reviews-bot/2.1", rand_prefix())
    for t in _scripted_times(rng, int(120 * scale), 0, span):
        rows.append((t, app, _HEAVY_APP.format(r=rng.choice(_REVIEWS) + f" (order {rng.randrange(10**6)})"), None))
    eval_prompts = pools.take("eval", int(60 * scale), offset=rng.randrange(10**6))
    t0 = rng.uniform(0, span - 7200)
    eval_accounts = [account("benign", "benign:eval_team", "evalharness/0.4", rand_prefix()) for _ in range(2)]
    for i, text in enumerate(eval_prompts):
        rows.append((t0 + i * 3600 / len(eval_prompts), eval_accounts[i % 2], text, None))
    t0 = rng.uniform(0, span - 3600)
    school = rand_prefix()
    for _ in range(max(10, per_campaign * 3)):
        acc = account("benign", "benign:classroom", rng.choice(_BROWSER_UAS), school)
        for q in rng.sample(_CLASS_QUESTIONS, 3):
            rows.append((t0 + rng.uniform(0, 3000), acc, q, None))

    rows.sort(key=lambda r: r[0])
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    requests_path = out_dir / "requests.jsonl"
    truth_path = out_dir / "truth.csv"
    base = _START.timestamp()
    n_bad = 0
    with open(requests_path, "wb") as fh:
        lines = [
            _record(f"req_{seed}_{i:08d}", base, t, acc, text, system, rng)
            for i, (t, acc, text, system) in enumerate(rows)
        ]
        if bad_lines:
            n_bad = _add_bad_lines(lines, rng)
        fh.write(b"\n".join(lines) + b"\n")
    with open(truth_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["account_id", "label", "group"])
        for acc in accounts:
            writer.writerow([acc.account_id, acc.label, acc.group])
    groups: dict[str, int] = {}
    for acc in accounts:
        groups[acc.group] = groups.get(acc.group, 0) + 1
    return Simulation(requests_path, truth_path, len(rows), len(accounts), n_bad, groups)


def _record(rid: str, base: float, t: float, acc: _Account, text: str, system: str | None, rng: random.Random) -> bytes:
    when = (
        dt.datetime.fromtimestamp(base + t, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    if acc.anthropic_shape:
        request: dict[str, object] = {
            "model": _MODELS[0],
            "max_tokens": 2048,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        }
        if system:
            request["system"] = system
    else:
        msgs = [{"role": "system", "content": system}] if system else []
        msgs.append({"role": "user", "content": text})
        request = {"model": _MODELS[1] if rng.random() < 0.3 else _MODELS[0], "messages": msgs}
    if acc.pivot_at is not None and t >= acc.pivot_at and rng.random() < 0.9:
        request["model"] = _NEW_MODEL
    prefix = rng.choice(acc.ip_pool) if acc.ip_pool else acc.ip_prefix
    ua = rng.choice(acc.ua_pool) if acc.ua_pool else acc.ua
    return orjson.dumps(
        {
            "id": rid,
            "created_at": when,
            "account": {"id": acc.account_id, "org_id": acc.org_id},
            "request": request,
            "client": {"ip": f"{prefix}.{rng.randrange(1, 255)}", "user_agent": ua},
        }
    )


def _add_bad_lines(lines: list[bytes], rng: random.Random) -> int:
    """Insert one of each kind of bad line ingest must quarantine (and an exact duplicate)."""

    def pick() -> dict:
        return orjson.loads(lines[rng.randrange(len(lines))])

    bad: list[bytes] = []
    bad.append(lines[rng.randrange(len(lines))][:-25])  # truncated: malformed JSON
    rec = pick()
    del rec["account"]
    rec["id"] += "_noacct"
    bad.append(orjson.dumps(rec))
    rec = pick()
    rec["created_at"] = "last tuesday"
    rec["id"] += "_badtime"
    bad.append(orjson.dumps(rec))
    rec = pick()
    rec["id"] += "_empty"
    rec["request"]["messages"] = [{"role": "user", "content": "   "}]
    bad.append(orjson.dumps(rec))
    rec = pick()
    rec["id"] += "_latin1"
    bad.append(orjson.dumps(rec).replace(b'"created_at"', b'"note":"caf\xe9","created_at"'))  # not UTF-8
    rec = pick()
    rec["request"]["messages"] = [{"role": "user", "content": "a different prompt, same id"}]
    bad.append(orjson.dumps(rec))  # duplicate id, different content
    bad.append(lines[rng.randrange(len(lines))])  # exact duplicate: skipped, not quarantined
    for line in bad:
        lines.insert(rng.randrange(len(lines) + 1), line)
    return len(bad)
