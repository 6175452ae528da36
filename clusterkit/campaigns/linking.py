"""Linking accounts: which pairs work the same semantic regions at the same times, which share
rare infrastructure, and the communities the resulting account graph falls into."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BURST_EXCESS",
    "BURST_P",
    "COACT_WEIGHT",
    "CONTENT_ALPHA",
    "CONTENT_CORE",
    "INFRA_WEIGHT",
    "RELAY_CANDIDATES",
    "RELAY_GAP_HOURS",
    "SWARM_BRIEF_HOURS",
    "SWARM_LINKED_SHARE",
    "SWARM_MAX_REQUESTS",
    "SWARM_MIN_ACCOUNTS",
    "SWARM_ONE_VALUE",
    "SWARM_OPENING_HOURS",
    "SWARM_PAIR_CAP",
    "ContentLinks",
    "InfraIndex",
    "arrival_burst",
    "burst_significance",
    "bursts",
    "cell_groups",
    "communities",
    "components",
    "coordination",
    "cores",
    "epoch_seconds",
    "index",
    "pair_cosine",
    "profiles",
    "spans",
    "successions",
]


def index(signals: pd.DataFrame) -> dict[str, int]:
    return {a: i for i, a in enumerate(signals["account_id"])}


def profiles(keys: pd.Series, accounts: pd.Series, weights: np.ndarray, idx: dict[str, int]) -> Any:
    """Row-normalised account x key matrix (idf-weighted: keys few accounts share weigh more)."""
    from scipy.sparse import csr_matrix, diags

    codes, uniq = pd.factorize(keys)
    m = csr_matrix((weights, (accounts.map(idx).to_numpy(), codes)), shape=(len(idx), len(uniq)))
    per_key = np.asarray((m > 0).sum(axis=0)).ravel()
    m = (m @ diags(np.log1p(len(idx) / np.maximum(per_key, 1)))).tocsr()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return (diags(1 / np.maximum(norms, 1e-12)) @ m).tocsr()


def pair_cosine(m: Any, rows: np.ndarray, cols: np.ndarray, chunk: int = 500_000) -> np.ndarray:
    """Cosine of rows of a row-normalised sparse matrix, for the given pairs only."""
    out = np.empty(len(rows))
    for i in range(0, len(rows), chunk):
        r, c = rows[i : i + chunk], cols[i : i + chunk]
        out[i : i + chunk] = np.asarray(m[r].multiply(m[c]).sum(axis=1)).ravel()
    return out


def spans(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The positions ``starts[i]..ends[i]-1`` of every span, concatenated in order (the entries of
    chosen rows of a CSR matrix), without a Python loop over the spans."""
    lengths = np.asarray(ends, dtype=np.int64) - np.asarray(starts, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64) - np.cumsum(lengths) + lengths, lengths) + np.arange(total)


def epoch_seconds(times: pd.Series) -> np.ndarray:
    """Timestamps as float seconds since the epoch."""
    return times.to_numpy("datetime64[s]").astype(np.int64).astype(float)


def cell_groups(cells: pd.DataFrame, cap: int, seeds: int = 8) -> pd.Series:
    """A key per (account, cluster, window) row naming its cell, where a cell with more than ``cap``
    accounts is split into groups of at most ``cap``: pairs are then looked for within groups, so
    their number grows with the rows times ``cap``, not with the square of a busy cell's accounts.

    Accounts are put in groups by MinHash of the clusters they work (one of ``seeds`` hash functions,
    chosen by the cell), so accounts sweeping the same regions tend to share a group; ties are broken
    by a hash of account and cell. Deterministic."""
    cell = cells["cluster"].astype(np.int64) * 10_000_000 + cells["window"].astype(np.int64)
    size = cell.groupby(cell).transform("size").to_numpy()
    busy = size > cap
    if not busy.any():
        return cell
    account, _ = pd.factorize(cells["account_id"])
    cluster = cells["cluster"].to_numpy(np.uint64)
    minhash = np.column_stack(
        [
            pd.Series(pd.util.hash_array(cluster * np.uint64(2 * s + 1) + np.uint64(s))).groupby(account).min()
            for s in range(seeds)
        ]
    )
    key = cell.to_numpy()
    cell_hash = pd.util.hash_array(key)
    rows = np.flatnonzero(busy)
    signature = minhash[account[rows], (cell_hash[rows] % np.uint64(seeds)).astype(np.int64)]
    tie = pd.util.hash_array(
        pd.util.hash_pandas_object(cells["account_id"], index=False).to_numpy()[rows] ^ cell_hash[rows]
    )
    order = rows[np.lexsort((tie, signature, key[rows]))]
    ordered = key[order]
    first = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    m = size[order]
    group = np.zeros(len(key), dtype=np.int64)
    group[order] = rank * np.ceil(m / cap).astype(np.int64) // m  # balanced groups, each <= cap
    return cell * (int(group.max()) + 1) + group


def coordination(
    cells: pd.DataFrame,
    idx: dict[str, int],
    floor: float = 0.0,
    block: int = 2_000,
    cell_cap: int = 10**9,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of accounts active in the same semantic cluster in the same time window, and how
    coordinated they are: (same regions: cosine of cluster profiles) x (same times: cosine of
    activity over windows) x (confidence: accounts with few requests match by chance).

    Only pairs coordinated at least ``floor`` are returned. Pairs sharing a cell grow with the
    square of the accounts active in a busy cluster (10M pairs at 14.5k accounts), so a cell with
    more than ``cell_cap`` accounts is split into groups (``_cell_groups``), and pairs are found
    ``block`` accounts at a time and pruned at once, first on region match alone (an upper bound),
    then on times: memory follows the pairs kept, not the pairs that share a cell."""
    empty = np.array([], dtype=np.int64)
    if cells.empty:
        return empty, empty, np.array([])
    cell = profiles(cell_groups(cells, cell_cap), cells["account_id"], np.ones(len(cells)), idx)
    by_cluster = cells.groupby(["account_id", "cluster"], sort=False)["n"].sum().reset_index()
    by_window = cells.groupby(["account_id", "window"], sort=False)["n"].sum().reset_index()
    regions = profiles(by_cluster["cluster"], by_cluster["account_id"], np.sqrt(by_cluster["n"].to_numpy(float)), idx)
    times = profiles(by_window["window"], by_window["account_id"], np.sqrt(by_window["n"].to_numpy(float)), idx)
    volume = np.zeros(len(idx))
    np.add.at(volume, cells["account_id"].map(idx).to_numpy(), cells["n"].to_numpy(float))
    cell_t = cell.T.tocsc()
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(idx), block):
        gram = (cell[start : start + block] @ cell_t).tocoo()
        rows, cols = gram.row.astype(np.int64) + start, gram.col.astype(np.int64)
        keep = rows < cols
        rows, cols = rows[keep], cols[keep]
        fewer = np.minimum(volume[rows], volume[cols])
        weight = pair_cosine(regions, rows, cols) * fewer / (fewer + 5)  # an upper bound: times cosine <= 1
        can = weight >= floor
        rows, cols, weight = rows[can], cols[can], weight[can] * pair_cosine(times, rows[can], cols[can])
        keep = weight >= floor
        found.append((rows[keep], cols[keep], weight[keep]))
    rows, cols, weight = (np.concatenate(parts) for parts in zip(*found))
    return rows, cols, weight


#: a relay account takes over at most this long after the one before it stopped
RELAY_GAP_HOURS = 12.0
#: the accounts that stopped last before an account started are its candidate predecessors
RELAY_CANDIDATES = 8


def successions(
    signals: pd.DataFrame,
    cells: pd.DataFrame,
    idx: dict[str, int],
    floor: float = 0.0,
    max_gap_hours: float = RELAY_GAP_HOURS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (earlier, later) where the later account starts within ``max_gap_hours`` after the
    earlier one's last request - relays of short-lived accounts that succeed one another as they
    are closed, never active together - and how alike they are: (same regions: cosine of cluster
    profiles) x (closeness: 1 at a seamless hand-over, 0 at the largest gap) x (confidence: accounts
    with few requests match by chance). Only pairs linked at least ``floor`` are returned."""
    empty = np.array([], dtype=np.int64)
    if cells.empty or len(signals) < 2:
        return empty, empty, np.array([])
    by_cluster = cells.groupby(["account_id", "cluster"], sort=False)["n"].sum().reset_index()
    regions = profiles(by_cluster["cluster"], by_cluster["account_id"], np.sqrt(by_cluster["n"].to_numpy(float)), idx)
    first, last = epoch_seconds(signals["first_ts"]), epoch_seconds(signals["last_ts"])
    volume = signals["n_req"].to_numpy(float)
    gap = max_gap_hours * 3600
    order = np.argsort(last, kind="stable")
    ends = last[order]
    lo = np.searchsorted(ends, first - gap, side="left")
    hi = np.searchsorted(ends, first, side="right")
    # only the closest hand-overs of each account: pairs grow with the accounts, not with the
    # square of the accounts that end within a gap of each other (a short, busy log)
    lo = np.maximum(lo, hi - RELAY_CANDIDATES)
    counts = hi - lo
    later = np.repeat(np.arange(len(first)), counts)
    earlier = order[spans(lo, hi)]
    keep = earlier != later
    earlier, later = earlier[keep].astype(np.int64), later[keep].astype(np.int64)
    fewer = np.minimum(volume[earlier], volume[later])
    closeness = 1 - (first[later] - last[earlier]) / gap
    weight = pair_cosine(regions, earlier, later) * np.clip(closeness, 0, 1) * fewer / (fewer + 5)
    keep = weight >= floor
    return earlier[keep], later[keep], weight[keep]


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
#: a swarm member's links to its swarm (bursting values shared with other members, summed) are at
#: least this share of its median member's
SWARM_LINKED_SHARE = 0.5
#: a swarm is mostly one value's burst: at least this share of it is in a burst, and of that burst in it
SWARM_ONE_VALUE = 0.5


def _rate(sorted_times: np.ndarray, span: float) -> float:
    """Arrivals per second over a log ``span`` seconds long (at least the times' own spread)."""
    return len(sorted_times) / max(span, float(sorted_times[-1] - sorted_times[0]), 1.0)


def arrival_burst(sorted_times: np.ndarray, span: float) -> tuple[int, int]:
    """The burst among the arrival times ``sorted_times`` of a log ``span`` seconds long: the
    interval holding the most arrivals in excess of the times' own rate over the log (a scan over
    every interval, O(n)), as ``(start, count)``: ``sorted_times[start:start + count]``. How unusual
    it is: :func:`burst_significance`."""
    m = len(sorted_times)
    if m < 2:
        return 0, m
    # excess of [i, j] = (j - i + 1) - rate (t_j - t_i) = (a_j - a_i) + 1 with a = index - rate t
    a = np.arange(m) - _rate(sorted_times, span) * (sorted_times - sorted_times[0])
    stop = int(np.argmax(a - np.minimum.accumulate(a)))
    start = int(np.argmin(a[: stop + 1]))
    return start, stop - start + 1


def burst_significance(sorted_times: np.ndarray, span: float, start: int, count: int) -> tuple[float, float]:
    """``(p, excess)`` of the burst ``sorted_times[start:start + count]``: how many more arrivals it
    holds than the times' rate over the log gives (arrivals at a steady rate have an excess of the
    order of their count's square root), and its Poisson tail probability, times the number of
    such intervals the log holds."""
    from scipy.stats import poisson

    if len(sorted_times) < 2:
        return 1.0, 0.0
    rate = _rate(sorted_times, span)
    span = max(span, float(sorted_times[-1] - sorted_times[0]), 1.0)
    length = max(float(sorted_times[start + count - 1] - sorted_times[start]), 3600.0)
    p = float(poisson.sf(count - 1, rate * length)) * max(span / length, 1.0)
    return min(1.0, p), float(count - rate * length)


def bursts(signals: pd.DataFrame, infra: pd.DataFrame, idx: dict[str, int], seed: int = 0) -> np.ndarray:
    """Swarms: many small, brief accounts that first appear together sharing an infrastructure
    value (client, IP prefix, organisation, system prompt, request shape). For every value, the
    burst of first appearances among the small accounts using it (:func:`arrival_burst`) is tested
    against that value's own arrival rate over the whole log (Poisson). The accounts of a burst are linked (by the share of it in excess of the value's
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
    labels = communities(n, a, b, total, seed)
    # a swarm member shares bursting values with its swarm as much as its members typically do: an
    # ordinary account that arrived that day with one of the swarm's clients links to a few of them
    # (or to all, by that one value, where the swarm's members share several), and is peeled off
    while True:
        inside = (labels[a] >= 0) & (labels[a] == labels[b])
        strength = np.bincount(a[inside], total[inside], n) + np.bincount(b[inside], total[inside], n)
        grouped = labels >= 0
        typical = pd.Series(strength[grouped]).groupby(labels[grouped]).median()
        bar = np.zeros(n)
        bar[grouped] = SWARM_LINKED_SHARE * typical.reindex(labels[grouped]).to_numpy()
        sizes = np.bincount(labels[grouped], minlength=1)
        drop = grouped & ((strength < bar) | (sizes[np.maximum(labels, 0)] < SWARM_MIN_ACCOUNTS))
        if not drop.any():
            break
        labels[drop] = -1
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


#: content links: expected number of false links in the whole log (over every account pair) under
#: the null that nearest neighbours fall on prompts at random (a Bonferroni bound on the pairs)
CONTENT_ALPHA = 0.05
#: a content group's members are each content-linked to at least this many other members (an
#: ordinary account asking about the sweep's region links to one or two of them, not to more)
CONTENT_CORE = 3


class ContentLinks:
    """Accounts linked by what they send, whenever they send it: how often the nearest neighbours
    (in the map's reduced space) of one account's prompts are another account's prompts.

    Each prompt has ``k`` neighbour slots (those in its own near-duplicate family do not count); a slot that falls on a prompt several accounts sent is
    shared among them. Under the null that slots fall on the log's prompts at random, the hits of
    accounts a and b on each other are Poisson with mean ``(slots_a mass_b + slots_b mass_a) / N``
    (``mass``: an account's share of the prompts it sent). A pair whose hits are so many that
    fewer than ``CONTENT_ALPHA`` such pairs are expected in the whole log is linked: slices of one
    semantic sweep sent by accounts never active together (relays), or mixed into ordinary
    traffic (resellers). People who ask about the same niche link as well - which groups then
    count as campaigns is the evidence's and the calibration's decision, not the link's.

    The neighbour slots are kept for the groups' cohesion (:meth:`own_regions`): how much of the
    neighbourhoods where members meet is their own."""

    def __init__(self, prompts: pd.DataFrame, neighbours: tuple[np.ndarray, np.ndarray], idx: dict[str, int]):
        from scipy.sparse import csr_matrix, diags

        hashes, ind = neighbours
        n = len(idx)
        self.n_prompts, k = ind.shape if ind.ndim == 2 else (len(hashes), 0)
        pos = pd.Index(hashes).get_indexer(prompts["prompt_hash"])
        known = pos >= 0
        acc = prompts["account_id"].map(idx).to_numpy()[known]
        pos = pos[known]
        sent = csr_matrix((np.ones(len(pos)), (acc, pos)), shape=(n, self.n_prompts))
        owners = np.asarray(sent.sum(axis=0)).ravel()
        share = 1 / np.maximum(owners, 1)
        self.slots = np.asarray(sent.sum(axis=1)).ravel() * k
        self.mass = sent @ share
        self.k = k
        self.knn = None
        if k == 0 or not len(pos):
            self.hits = csr_matrix((n, n))
            return
        src, dst = np.repeat(np.arange(self.n_prompts), k), ind.ravel()
        if "family" in prompts:
            # a neighbour in the prompt's own near-duplicate family is the same question asked
            # again (a classroom, a popular prompt), not the next item of a sweep
            family = np.full(self.n_prompts, -1, dtype=np.int64)
            family[pos] = prompts["family"].fillna(-1).to_numpy(np.int64)[known]
            other = (family[src] < 0) | (family[src] != family[dst])
            src, dst = src[other], dst[other]
        knn = csr_matrix((np.ones(len(src)), (src, dst)), shape=(self.n_prompts, self.n_prompts))
        knn.sort_indices()
        self.knn, self.sent, self.share = knn, sent.tocsr(), share
        self.sent.sort_indices()
        # how the map's neighbours cross scripts: under an English-only model a language's prompts
        # are one another's neighbours whatever they ask; under a multilingual one they are not
        script = np.full(self.n_prompts, -1, dtype=np.int64)
        if "language" in prompts:
            codes, _ = pd.factorize(prompts["language"].fillna("").to_numpy()[known])
            script[pos] = codes
        self.script = script + 1
        n_scripts = int(self.script.max()) + 1
        flow = np.bincount(self.script[src] * n_scripts + self.script[dst], minlength=n_scripts**2)
        flow = flow.reshape(n_scripts, n_scripts).astype(float)
        self.script_flow = flow / np.maximum(flow.sum(axis=1, keepdims=True), 1)
        self.script_mass = np.bincount(self.script, weights=(owners > 0).astype(float), minlength=n_scripts)
        hits = ((sent @ knn) @ (diags(share) @ sent.T)).tocsr()
        hits.setdiag(0)
        hits.eliminate_zeros()
        self.hits = hits  # hits[a, b]: a's slots on b's prompts

    def links(self, alpha: float = CONTENT_ALPHA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linked pairs (a < b) and their strength: 0.5 at the threshold, 1 at its square."""
        from scipy.special import gammainc

        n = len(self.slots)
        both = (self.hits + self.hits.T).tocoo()
        keep = both.row < both.col
        rows, cols, h = both.row[keep].astype(np.int64), both.col[keep].astype(np.int64), both.data[keep]
        expected = (self.slots[rows] * self.mass[cols] + self.slots[cols] * self.mass[rows]) / max(self.n_prompts, 1)
        # P(X >= h) for X ~ Poisson(expected), continuous in h (slots on shared prompts are fractions)
        log_p = np.log(np.maximum(gammainc(np.maximum(h, 1e-9), np.maximum(expected, 1e-12)), 1e-300))
        log_max = np.log(alpha / max(n * (n - 1) / 2, 1))
        keep = (log_p <= log_max) & (h > expected)
        strength = 0.5 + 0.5 * np.clip(log_p[keep] / log_max - 1, 0, 1)
        return rows[keep], cols[keep], strength

    def own_regions(self, members: np.ndarray) -> float:
        """0..1: where the members' prompts are one another's neighbours, how much of those prompts'
        neighbourhoods is the members' own, beyond what their scripts explain. Over each member
        prompt with at least one neighbour slot on another member's prompt: the share of its slots
        that are, against the share expected if slots crossed scripts as the log's do and fell, within
        a script, on the members' prompts as often as they make up that script. Slices of one sweep
        fill regions ordinary users rarely visit; people who share a niche meet in regions others
        visit too; and the speakers of one language under an English-only model, who are all of
        their script's region, are explained by it (under a multilingual model scripts explain little)."""
        if len(members) < 2 or self.knn is None:
            return 0.0
        sent, knn = self.sent, self.knn
        pos = spans(sent.indptr[members], sent.indptr[members + 1])
        if not len(pos):
            return 0.0
        member_of = np.repeat(np.arange(len(members)), np.diff(sent.indptr)[members])
        owner = members[member_of]
        prompt = sent.indices[pos]
        # the members' mass on each of their prompts (sorted, looked up: no log-sized array per call)
        unique, first = np.unique(prompt, return_inverse=True)
        held = np.bincount(first, weights=self.share[prompt])
        lengths = np.diff(knn.indptr)[prompt]
        slots = spans(knn.indptr[prompt], knn.indptr[prompt + 1])
        target = knn.indices[slots]
        pair = np.repeat(np.arange(len(prompt)), lengths)
        where = np.minimum(np.searchsorted(unique, target), len(unique) - 1)
        on_member = unique[where] == target
        # a slot on the member's own prompt (its own related questions) does not count
        own_keys = np.sort(owner.astype(np.int64) * self.n_prompts + prompt)
        key = owner[pair].astype(np.int64) * self.n_prompts + target
        at = np.minimum(np.searchsorted(own_keys, key), len(own_keys) - 1)
        weight = np.where(on_member, held[where], 0.0) - np.where(own_keys[at] == key, self.share[target], 0.0)
        inside = np.bincount(pair, weights=np.maximum(weight, 0.0), minlength=len(prompt))
        linked = inside > 0
        if not linked.any():
            return 0.0
        observed = float(np.mean(inside[linked] / np.maximum(lengths[linked], 1)))
        # expected: the members' (other than the prompt's own account's) share of each script
        n_scripts = len(self.script_mass)
        script = self.script[prompt]
        group = np.bincount(script, weights=self.share[prompt], minlength=n_scripts)
        own = np.zeros((len(members), n_scripts))
        np.add.at(own, (member_of, script), self.share[prompt])
        others = (group[None, :] - own) / np.maximum(self.script_mass, 1)[None, :]
        expected = (self.script_flow[script] * others[member_of]).sum(axis=1)
        base = float(np.mean(expected[linked]))
        return float(np.clip((observed - base) / max(1 - base, 1e-9), 0, 1))


# an account pair's edge weight: co-activity and shared rare infrastructure
COACT_WEIGHT, INFRA_WEIGHT = 0.7, 0.3

# (kind, strength of a shared value, largest share of accounts for a value to count as rare)
_INFRA = (
    ("ip_prefix", 0.6, 0.05),
    ("user_agent", 0.4, 0.10),
    ("org_id", 0.8, 0.05),
    ("system_hash", 0.6, 0.20),
    ("request_shape", 0.3, 0.05),
)


class InfraIndex:
    """Each account's use of *rare* infrastructure values per kind (IP prefixes, clients,
    organisation, system prompt), built once; values many accounts share (a popular browser) do
    not count."""

    def __init__(self, infra: pd.DataFrame, idx: dict[str, int]) -> None:
        self.kinds: list[tuple[float, Any]] = []
        for kind, strength, rare in _INFRA:
            used = infra[infra["kind"] == kind]
            if used.empty:
                continue
            peers = used.groupby("value")["account_id"].transform("nunique")
            used = used[peers <= max(10, rare * len(idx))]
            if used.empty:
                continue
            m = profiles(used["value"], used["account_id"], np.sqrt(used["n"].to_numpy(float)), idx)
            self.kinds.append((strength, m))

    def mean_match_within(self, members: np.ndarray) -> float:
        """Mean :meth:`match` over every pair of ``members`` (one small Gram matrix per kind)."""
        m = len(members)
        if m < 2 or not self.kinds:
            return 0.0
        miss = np.ones((m, m))
        for strength, profile in self.kinds:
            # the members' rows as a small dense matrix over the values they use (numpy only:
            # scipy's per-call overhead dominated thousands of calls for the null groups)
            starts, ends = profile.indptr[members], profile.indptr[members + 1]
            lengths = ends - starts
            if lengths.sum() == 0:
                continue
            pos = spans(starts, ends)
            owner = np.repeat(np.arange(m), lengths)
            values, column = np.unique(profile.indices[pos], return_inverse=True)
            dense = np.zeros((m, len(values)))
            np.add.at(dense, (owner, column), profile.data[pos])
            miss *= 1 - strength * np.clip(dense @ dense.T, 0, 1)
        i, j = np.triu_indices(m, 1)
        return float((1 - miss[i, j]).mean())

    def match(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """0..1 per pair: 1 - prod(1 - strength x overlap) over kinds, where overlap is the cosine
        of the two accounts' use of rare values of that kind."""
        miss = np.ones(len(rows))
        for strength, m in self.kinds:
            miss *= 1 - strength * np.clip(pair_cosine(m, rows, cols), 0, 1)
        return 1 - miss


def communities(n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, seed: int) -> np.ndarray:
    """Louvain communities of the thresholded account graph; -1 for accounts with no edge."""
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(zip(rows.tolist(), cols.tolist(), weights.tolist()))
    labels = np.full(n, -1, dtype=np.int64)
    if g.number_of_edges() == 0:
        return labels
    parts = nx.community.louvain_communities(g, weight="weight", seed=seed)
    for k, members in enumerate(sorted(parts, key=lambda m: (-len(m), min(m)))):
        labels[list(members)] = k
    return labels


def cores(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray, k: int) -> np.ndarray:
    """Each group of ``labels`` cut to its ``k``-core: members linked (by the edges ``rows``,
    ``cols``) to fewer than ``k`` others of their group are peeled off, repeatedly (-1)."""
    import networkx as nx

    out = np.full(len(labels), -1, dtype=np.int64)
    inside = (labels[rows] >= 0) & (labels[rows] == labels[cols])
    g = nx.Graph()
    g.add_edges_from(zip(rows[inside].tolist(), cols[inside].tolist()))
    core = nx.k_core(g, k) if g.number_of_edges() else g
    members = np.fromiter(core.nodes, dtype=np.int64, count=core.number_of_nodes())
    out[members] = labels[members]
    return out


def components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Connected components of a graph's edges; -1 for nodes without an edge."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _, comp = connected_components(coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)), directed=False)
    linked = np.zeros(n, dtype=bool)
    linked[rows] = linked[cols] = True
    return np.where(linked, comp, -1)
