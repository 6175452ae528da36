"""Pass 1's links in time: pairs of accounts working the same semantic regions in the same time
windows (co-activity), and relays of accounts that take over from one another."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .graph import epoch_seconds, pair_cosine, profiles, spans

__all__ = [
    "RELAY_CANDIDATES",
    "RELAY_GAP_HOURS",
    "cell_groups",
    "coordination",
    "successions",
]


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
