"""Field mapping: where, in each input record, the prompt, account, time and id live.

Paths are dotted (``account.id``, ``request.messages.0.content``); a key that itself contains
dots (a CSV column named ``user.id``) is matched literally first. Fields not given are
auto-detected from the first records of each file, from the common names listed below, matched
whatever their case and separators (``SourceIP`` is ``source_ip``, ``Model`` is ``model``) and
looked for in nested objects (``body.user``), with the common batch and gateway shapes among them:
OpenAI Batch (``custom_id``/``body``), Anthropic message batches (``custom_id``/``params``), Amazon
Bedrock model invocation logs (``input.inputBodyJson``, the caller ``identity.arn`` as the account:
``accountId`` is the log owner's AWS account, the same on every row; ``modelId``, ``requestId``),
Vertex AI request-response logs of Gemini (``full_request`` with ``contents``/``parts``,
``logging_time``, ``request_id``) and LiteLLM spend logs / standard logging payloads (``messages``,
``startTime``, the key's user or hash in ``metadata``, ``end_user``, ``requester_ip_address``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import MappingError

__all__ = [
    "COLUMN_FIELDS",
    "FieldMap",
    "detect_fields",
    "get_path",
    "missing_meta",
    "parse_meta_options",
    "resolve_path",
    "unmapped_keys",
    "used_roots",
]

#: Request columns that ``--meta NAME=PATH`` fills directly instead of ``extra``.
COLUMN_FIELDS = ("model", "org_id", "ip", "user_agent")

_CANDIDATES: dict[str, tuple[str, ...]] = {
    "text": (
        "input.inputBodyJson",
        "full_request",
        "prompt",
        "text",
        "request",
        "body",
        "messages",
        "input",
        "query",
        "content",
        "question",
        "instruction",
        "params",
    ),
    "account": (
        "identity.arn",
        "account_id",
        "user_id",
        "account.id",
        "user.id",
        "customer_id",
        "api_key_id",
        "account",
        "user",
        "uid",
        "body.user",
        "params.metadata.user_id",
        "metadata.user_id",
        "request.user",
        "end_user",
        "metadata.user_api_key_user_id",
        "metadata.user_api_key_hash",
        "api_key",
    ),
    "time": (
        "timestamp",
        "created_at",
        "time",
        "ts",
        "created",
        "datetime",
        "date",
        "request_time",
        "event_time",
        "start_time",
        "logging_time",
    ),
    "id": ("request_id", "custom_id", "id", "uuid", "event_id", "message_id"),
    "model": ("model", "request.model", "body.model", "params.model", "model_name", "model_id"),
    "org_id": (
        "org_id",
        "organization_id",
        "organization",
        "org",
        "account.org_id",
        "org.id",
        "account.organization_id",
        "metadata.user_api_key_org_id",
        "metadata.user_api_key_team_id",
    ),
    "ip": (
        "ip",
        "client.ip",
        "client_ip",
        "source_ip",
        "remote_addr",
        "ip_address",
        "requester_ip_address",
        "metadata.requester_ip_address",
        "source_ip_address",
    ),
    "user_agent": (
        "user_agent",
        "client.user_agent",
        "headers.user-agent",
        "headers.User-Agent",
        "client.ua",
        "ua",
        "useragent",
    ),
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def get_path(obj: Any, path: str) -> Any:
    """Value at dotted ``path`` in nested dicts/lists, or ``None`` when any step is missing."""
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    cur = obj
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.lstrip("-").isdigit():
            i = int(part)
            cur = cur[i] if -len(cur) <= i < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def _absent(obj: Any) -> None:
    return None


def compile_path(path: str | None) -> Callable[[Any], Any]:
    """A fast getter equivalent to ``lambda obj: get_path(obj, path)`` (``None`` if no path)."""
    if not path:
        return _absent
    parts = path.split(".")
    if len(parts) == 1:

        def get_one(obj: Any) -> Any:
            return obj.get(path) if type(obj) is dict else None

        return get_one
    if len(parts) == 2 and not any(p.lstrip("-").isdigit() for p in parts):
        first, second = parts

        def get_two(obj: Any) -> Any:
            if type(obj) is not dict:
                return None
            if path in obj:
                return obj[path]
            inner = obj.get(first)
            return inner.get(second) if type(inner) is dict else None

        return get_two
    return lambda obj: get_path(obj, path)


@dataclass(frozen=True)
class FieldMap:
    """Where each field lives. ``None`` means auto-detect; ``""`` means "this log has none"."""

    text: str | None = None
    account: str | None = None
    time: str | None = None
    id: str | None = None
    model: str | None = None
    org_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    #: a ``strptime`` format for the time field, for logs whose times are neither ISO-8601 nor epoch
    time_format: str | None = None

    @classmethod
    def from_options(
        cls,
        text: str | None = None,
        account: str | None = None,
        time: str | None = None,
        id: str | None = None,
        meta: Mapping[str, str] | Iterable[str] | None = None,
        time_format: str | None = None,
    ) -> FieldMap:
        """Build a map from CLI-style options; ``meta`` NAMEs in :data:`COLUMN_FIELDS` fill
        those request columns, every other NAME lands in ``extra``."""
        pairs = parse_meta_options(meta)
        columns = {k: pairs.pop(k) for k in COLUMN_FIELDS if k in pairs}
        return cls(text=text, account=account, time=time, id=id, meta=pairs, time_format=time_format, **columns)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in ("text", "account", "time", "id", *COLUMN_FIELDS)}
        out["meta"] = dict(self.meta)
        if self.time_format:
            out["time_format"] = self.time_format
        return out


def parse_meta_options(meta: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    """``["name=path", ...]`` (or a mapping) to a dict, checking every name."""
    if meta is None:
        return {}
    if isinstance(meta, Mapping):
        items = list(meta.items())
    else:
        items = []
        for opt in meta:
            name, sep, path = opt.partition("=")
            if not sep or not path:
                raise MappingError(f"--meta {opt!r}: expected NAME=PATH, e.g. --meta tier=account.tier")
            items.append((name.strip(), path.strip()))
    out = {}
    for name, path in items:
        if not _NAME.fullmatch(name):
            raise MappingError(
                f"--meta name {name!r} is not a valid name: use letters, digits and _ (not starting with a digit)"
            )
        out[name] = path
    return out


def _norm(key: str) -> str:
    """A key as compared with the candidate names: lower case, no ``_``, ``-`` or spaces."""
    return re.sub(r"[\s_\-]+", "", key).lower()


def resolve_path(obj: Any, path: str) -> str | None:
    """The path as spelled in ``obj`` whose keys match ``path``'s whatever their case and
    separators (exact keys first), where it leads to a value; else ``None``."""
    if isinstance(obj, dict) and path in obj:
        return path if obj[path] is not None else None
    cur, spelled = obj, []
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        if part in cur:
            key = part
        else:
            key = next((k for k in cur if isinstance(k, str) and _norm(k) == _norm(part)), None)
            if key is None:
                return None
        spelled.append(key)
        cur = cur[key]
        if cur is None:
            return None
    return ".".join(spelled)


def detect_fields(fields: FieldMap, samples: list[dict[str, Any]]) -> FieldMap:
    """Fill the fields left as ``None`` with the first candidate path present and not empty in
    ``samples`` (matched as :func:`resolve_path` does, and returned as the data spells it).

    Fields that cannot be found stay ``None``; the caller decides which are required.
    """
    updates: dict[str, str | None] = {}
    for name, candidates in _CANDIDATES.items():
        if getattr(fields, name) is not None:
            continue
        found = None
        for cand in candidates:
            # a field that is there but empty on every sample (LiteLLM's "user": "") is not the one
            found = next(
                (p for s in samples if (p := resolve_path(s, cand)) is not None and get_path(s, p) != ""), None
            )
            if found is not None:
                break
        updates[name] = found
    return replace(fields, **updates)


def used_roots(fields: FieldMap) -> frozenset[str]:
    """The top-level keys a map reads (a path's first part, and the whole path for a flat column
    whose name holds dots)."""
    paths = [getattr(fields, name) for name in _CANDIDATES] + list(fields.meta.values())
    return frozenset(x for p in paths if p for x in (p, p.split(".")[0]))


def unmapped_keys(fields: FieldMap, samples: list[dict[str, Any]]) -> list[str]:
    """Top-level keys of ``samples`` that no field of ``fields`` reads, in first-seen order."""
    roots = used_roots(fields)
    seen: dict[str, None] = {}
    for sample in samples:
        for key in sample:
            if key not in roots:
                seen.setdefault(key, None)
    return list(seen)


def missing_meta(fields: FieldMap, samples: list[dict[str, Any]]) -> list[str]:
    """``--meta`` names whose path leads to a value in none of ``samples``."""
    return [name for name, path in fields.meta.items() if all(get_path(s, path) is None for s in samples)]
