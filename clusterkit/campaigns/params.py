"""Parameters of campaign detection and the recipe version that keys stored score runs."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ClusterkitError

__all__ = ["FALLBACK_THRESHOLD", "MIN_CAMPAIGN_SCORE", "RECIPE", "DetectParams"]

#: bumped when signals or scoring change, so stored score runs of an older recipe are not reused
RECIPE = "v29-frames"
#: the score threshold used where a log is too small to calibrate on (see ``calibrate.MIN_POOL``)
FALLBACK_THRESHOLD = 0.5
#: calibration decides whether a group is unusual *for this log*; a calibrated flag also needs at
#: least this score, so a group whose evidence barely opens the gates (volume, persistence, machine
#: evidence) is not flagged merely because the log's ordinary accounts show none of it at all
MIN_CAMPAIGN_SCORE = 0.3


@dataclass(frozen=True)
class DetectParams:
    """Tunable thresholds; defaults are set on simulated logs and documented in the README."""

    edge_threshold: float = 0.35
    min_campaign_accounts: int = 3
    #: a fixed score at which a group is flagged; None (the default): decided by calibration
    flag_threshold: float | None = None
    #: calibrated decision: a group is flagged when its q-value (expected share of false groups
    #: among those flagged, against matched random groups of the log's ordinary accounts) is at most this
    fdr: float = 0.05
    #: matched random groups drawn per candidate size class for the null distribution
    null_groups: int = 1000  # = calibrate.NULL_GROUPS
    min_span_hours: float = 12.0
    #: binomial p-value below which an account's traffic counts as enriched next to flagged campaigns
    enrich_p: float = 1e-6
    #: accounts in one (cluster, time window) cell beyond which the cell's accounts are paired in
    #: groups of this size (by MinHash of the regions they work) rather than all with all
    cell_cap: int = 20
    seed: int = 42

    def __post_init__(self) -> None:
        if not 0 < self.fdr < 1:
            raise ClusterkitError(f"DetectParams.fdr must be between 0 and 1, got {self.fdr}")
        if self.null_groups < 100:
            raise ClusterkitError(f"DetectParams.null_groups must be at least 100, got {self.null_groups}")
        if self.cell_cap < 2:
            raise ClusterkitError(f"DetectParams.cell_cap must be at least 2 accounts, got {self.cell_cap}")
