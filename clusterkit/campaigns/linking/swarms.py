"""Pass 2's swarms: bursts of first appearances of small, brief accounts sharing an infrastructure
value or a semantic region, tested against that value's own arrival rate over the log.

Time runs on the clock of the log's daily arrival profile (:func:`arrival_clock`): ordinary
newcomers arrive by day, and a popular region's daytime arrivals are no burst."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .graph import communities, epoch_seconds, peel

__all__ = [
    "BURST_EXCESS",
    "BURST_P",
    "BURST_REFINE_MAX",
    "SWARM_BRIEF_HOURS",
    "SWARM_MAX_REQUESTS",
    "SWARM_MIN_ACCOUNTS",
    "SWARM_ONE_VALUE",
    "SWARM_OPENING_HOURS",
    "SWARM_PAIR_CAP",
    "arrival_burst",
    "arrival_clock",
    "burst_significance",
    "bursts",
]


#: first appearances in the log's opening hours are not arrivals (the account was already active)
SWARM_OPENING_HOURS = 12.0
#: a swarm account is active at most this many hours ...
SWARM_BRIEF_HOURS = 36.0
#: ... and sends at most this many requests
SWARM_MAX_REQUESTS = 10
#: a burst needs at least this many new accounts sharing one value ...
SWARM_MIN_ACCOUNTS = 10
#: ... so many more than the value's own arrival rate gives that chance gives p <= this ...
BURST_P = 1e-6
#: ... and at least this share of its accounts in excess of the value's arrival rate over the log
#: (a popular client's ordinary users arriving that day do not make a burst)
BURST_EXCESS = 0.5
#: a burst of more accounts than this links each to a random tenth as many others, not to all
SWARM_PAIR_CAP = 400
#: a burst of more arrivals than this keeps its interval of largest excess (no finer search, O(n^2))
BURST_REFINE_MAX = 1500
#: a swarm is mostly one value's burst: at least this share of it is in a burst, and of that burst in it
SWARM_ONE_VALUE = 0.5


def arrival_clock(arrivals: np.ndarray, start: float) -> Callable[[np.ndarray], np.ndarray]:
    """The clock of the log's daily arrival profile: a function mapping epoch seconds to
    "expected-arrival seconds", in which the ``arrivals`` (epoch seconds) of every hour of the day
    (UTC, pooled over the log's days, one added to each hour) tick at one steady rate. An ordinary
    newcomer arrives by day like everyone else; on this clock a day's busy hours are no burst, and
    a swarm arriving in them still is (one afternoon is a small part of each hour's pool). The
    clock reads 0 at the start of the hour of ``start`` (the log's start), and times before it are
    not measured."""
    hours = np.floor(np.asarray(arrivals, dtype=float) / 3600).astype(np.int64)
    profile = np.bincount(hours % 24, minlength=24).astype(float) + 1.0
    weight = profile / profile.mean()
    origin = int(np.floor(start / 3600))

    def clock(times: np.ndarray) -> np.ndarray:
        t = np.asarray(times, dtype=float)
        hour = np.floor(t / 3600).astype(np.int64)
        ahead = hour - origin  # whole hours since the start
        top = int(max(ahead.max(initial=0), 0)) + 1
        ticks = np.concatenate([[0.0], np.cumsum(weight[(origin + np.arange(top)) % 24] * 3600.0)])
        return ticks[np.clip(ahead, 0, top)] + (t - hour * 3600.0) * weight[hour % 24]

    return clock


def _rate(sorted_times: np.ndarray, span: float) -> float:
    """Arrivals per second over a log ``span`` seconds long (at least the times' own spread)."""
    return len(sorted_times) / max(span, float(sorted_times[-1] - sorted_times[0]), 1.0)


def arrival_burst(sorted_times: np.ndarray, span: float, min_length: float = 3600.0) -> tuple[int, int]:
    """The burst among the arrival times ``sorted_times`` of a log ``span`` seconds long, as
    ``(start, count)``: ``sorted_times[start:start + count]``. First the interval holding the most
    arrivals in excess of the times' own rate over the log (a scan over every interval, O(n));
    then, inside it, the interval (at least ``min_length`` long) whose count is least likely at
    that rate (the Poisson likelihood ratio of the scan statistic): a tight spike with steady
    arrivals on either side is the spike, the steady arrivals it happened to sit among are not.
    How unusual it is: :func:`burst_significance`."""
    m = len(sorted_times)
    if m < 2:
        return 0, m
    rate = _rate(sorted_times, span)
    # excess of [i, j] = (j - i + 1) - rate (t_j - t_i) = (a_j - a_i) + 1 with a = index - rate t
    a = np.arange(m) - rate * (sorted_times - sorted_times[0])
    stop = int(np.argmax(a - np.minimum.accumulate(a)))
    start = int(np.argmin(a[: stop + 1]))
    if stop - start + 1 > BURST_REFINE_MAX:
        return start, stop - start + 1
    t = sorted_times[start : stop + 1]
    i, j = np.triu_indices(len(t))
    count = (j - i + 1).astype(float)
    expected = np.minimum(rate * np.maximum(t[j] - t[i], min_length), m - 1e-9)
    rest = m - count
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = count * np.log(count / expected) + np.where(rest > 0, rest * np.log(rest / (m - expected)), 0.0)
    llr[count <= expected] = -np.inf
    if not np.isfinite(llr).any():
        return start, stop - start + 1
    best = int(np.argmax(llr))
    return start + int(i[best]), int(count[best])


def burst_significance(
    sorted_times: np.ndarray, span: float, start: int, count: int, min_length: float = 3600.0
) -> tuple[float, float]:
    """``(p, excess)`` of the burst ``sorted_times[start:start + count]``: how many more arrivals it
    holds than the times' rate over the log gives (arrivals at a steady rate have an excess of the
    order of their count's square root), and its Poisson tail probability, times the number of
    such intervals (at least ``min_length`` long) the log holds."""
    from scipy.stats import poisson

    if len(sorted_times) < 2:
        return 1.0, 0.0
    rate = _rate(sorted_times, span)
    span = max(span, float(sorted_times[-1] - sorted_times[0]), 1.0)
    length = max(float(sorted_times[start + count - 1] - sorted_times[start]), min_length)
    p = float(poisson.sf(count - 1, rate * length)) * max(span / length, 1.0)
    return min(1.0, p), float(count - rate * length)


def bursts(signals: pd.DataFrame, infra: pd.DataFrame, idx: dict[str, int], seed: int = 0) -> np.ndarray:
    """Swarms: many small, brief accounts that first appear together sharing an infrastructure
    value (client, IP prefix, organisation, system prompt, request shape; detection adds the
    semantic clusters each account works, kind "region"). For every value, the
    burst of first appearances among the small accounts using it (:func:`arrival_burst`, on the
    clock of the small accounts' daily arrival profile: :func:`arrival_clock`) is tested against
    that value's own rate over the whole log (Poisson). The accounts of a burst are linked (by the share of it in excess of the value's
    rate) and the swarms are the Louvain communities of these links. Returns a group label per
    account (-1: none).

    A popular client's users arrive all through the log; a swarm's many accounts, each sending a
    handful of requests, appear at once - and so does a classroom, whose accounts then fail the
    evidence (they send the same few questions)."""
    n = len(signals)
    labels = np.full(n, -1, dtype=np.int64)
    if infra.empty or n < SWARM_MIN_ACCOUNTS:
        return labels
    first, last = epoch_seconds(signals["first_ts"]), epoch_seconds(signals["last_ts"])
    span = float(first.max() - first.min())
    # only small, brief accounts make a swarm (an established user sharing the value does not)
    small = (signals["n_req"].to_numpy() <= SWARM_MAX_REQUESTS) & (last - first <= SWARM_BRIEF_HOURS * 3600)
    # accounts that were already active when the log begins all "first appear" in its opening
    # hours: those first appearances are not arrivals and never make a burst
    arrived = first >= first.min() + SWARM_OPENING_HOURS * 3600
    # arrivals are timed on the clock of the day's arrival profile (busy hours are no burst)
    clock = arrival_clock(first[arrived & small], float(first.min()))
    first = clock(first)
    span = float(first.max() - first.min())
    used = infra[["account_id", "kind", "value"]].drop_duplicates()
    used = used.assign(a=used["account_id"].map(idx).to_numpy())
    used = used[(arrived & small)[used["a"].to_numpy()]]
    counts = used.groupby(["kind", "value"])["a"].transform("size").to_numpy()
    used = used[counts >= SWARM_MIN_ACCOUNTS]
    found: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    rng = np.random.default_rng(seed)
    for _, g in used.groupby(["kind", "value"], sort=False):
        members = g["a"].to_numpy()
        order = members[np.argsort(first[members], kind="stable")]
        # the value must mark the burst, not be a popular one (a common client) that a burst's
        # accounts happen to share with everyone else: see arrival_burst
        start, count = arrival_burst(first[order], span)
        if count < SWARM_MIN_ACCOUNTS:
            continue
        p, excess = burst_significance(first[order], span, start, count)
        if p > BURST_P or excess < BURST_EXCESS * count:
            continue
        burst = order[start : start + count]
        if count <= SWARM_PAIR_CAP:
            i, j = np.triu_indices(count, 1)
        else:  # a huge burst: each member linked to SWARM_PAIR_CAP // 10 random others of it
            i = np.repeat(np.arange(count), SWARM_PAIR_CAP // 10)
            j = rng.integers(0, count, len(i))
            i, j = i[i != j], j[i != j]
        found.append(burst)
        rows.append(burst[i])
        cols.append(burst[j])
        weights.append(np.full(len(i), excess / count))
    if not rows:
        return labels
    # accounts sharing several bursting values link more strongly than those sharing one: a rotated
    # swarm shares its request shape, a scripted one its client, IPs and organisation as well, and a
    # common client's burst that day, shared by two swarms, does not merge them
    a, b = np.concatenate(rows), np.concatenate(cols)
    a, b = np.minimum(a, b), np.maximum(a, b)
    key, pair = np.unique(a * n + b, return_inverse=True)
    total = np.bincount(pair, weights=np.concatenate(weights))
    a, b = key // n, key % n
    # a swarm member shares bursting values with its swarm as much as its members typically do: an
    # ordinary account that arrived that day with one of the swarm's clients links to a few of them
    # (or to all, by that one value, where the swarm's members share several), and is peeled off
    labels = peel(communities(n, a, b, total, seed), a, b, total, SWARM_MIN_ACCOUNTS)
    # ... and a swarm is (mostly) one value's burst: most of it is in one burst that is mostly in it
    # (not the ordinary accounts left over from a common client's burst once the swarm's are taken)
    sizes = np.bincount(labels[labels >= 0], minlength=1)
    marked = np.zeros(len(sizes), dtype=bool)
    for burst in found:
        inside = labels[burst][labels[burst] >= 0]
        if len(inside):
            top = np.bincount(inside)
            k = int(np.argmax(top))
            marked[k] |= top[k] >= SWARM_ONE_VALUE * len(burst) and top[k] >= SWARM_ONE_VALUE * sizes[k]
    labels[(labels >= 0) & ~marked[np.maximum(labels, 0)]] = -1
    return labels
