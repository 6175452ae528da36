"""Parameters of campaign detection and the recipe version that keys stored score runs."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ClusterkitError

__all__ = ["RECIPE", "DetectParams"]

#: bumped when signals or scoring change, so stored score runs of an older recipe are not reused
RECIPE = "two-pass-v5"


@dataclass(frozen=True)
class DetectParams:
    """Tunable thresholds; defaults are set on simulated logs and documented in the README."""

    edge_threshold: float = 0.35
    min_campaign_accounts: int = 3
    flag_threshold: float = 0.5
    min_span_hours: float = 12.0
    #: binomial p-value below which an account's traffic counts as enriched next to flagged campaigns
    enrich_p: float = 1e-6
    #: accounts in one (cluster, time window) cell beyond which the cell's accounts are paired in
    #: groups of this size (by MinHash of the regions they work) rather than all with all
    cell_cap: int = 20
    seed: int = 42

    def __post_init__(self) -> None:
        if self.cell_cap < 2:
            raise ClusterkitError(f"DetectParams.cell_cap must be at least 2 accounts, got {self.cell_cap}")
