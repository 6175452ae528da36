"""Linking accounts: which pairs work the same semantic regions at the same times, which share
rare infrastructure, and the communities the resulting account graph falls into.

By concern, graph helpers at the bottom of the dependency order: :mod:`.graph` (profiles, pair
cosines, communities, cores, components), :mod:`.coactivity` (co-activity and relays),
:mod:`.swarms` (arrival bursts), :mod:`.content` (content links), :mod:`.phrasing` (shared mined
templates), :mod:`.infra` (shared rare infrastructure) and :mod:`.operations` (flagged groups that
are one operation). Every name is re-exported here."""

from .coactivity import RELAY_CANDIDATES, RELAY_GAP_HOURS, cell_groups, coordination, successions
from .content import CONTENT_ALPHA, CONTENT_CORE, ContentLinks
from .graph import (
    LINKED_SHARE,
    communities,
    components,
    cores,
    epoch_seconds,
    index,
    pair_cosine,
    peel,
    profiles,
    spans,
)
from .infra import COACT_WEIGHT, INFRA_WEIGHT, ROTATED_KINDS, InfraIndex
from .operations import OPERATION_LINK, OPERATION_PAIRS, SAME_OPERATION, operations
from .phrasing import PHRASING_MIN_USES, STRANGER_P, SharedTemplates
from .swarms import (
    BURST_EXCESS,
    BURST_P,
    SWARM_BRIEF_HOURS,
    SWARM_MAX_REQUESTS,
    SWARM_MIN_ACCOUNTS,
    SWARM_ONE_VALUE,
    SWARM_OPENING_HOURS,
    SWARM_PAIR_CAP,
    arrival_burst,
    arrival_clock,
    burst_significance,
    bursts,
)

__all__ = [
    "BURST_EXCESS",
    "BURST_P",
    "COACT_WEIGHT",
    "CONTENT_ALPHA",
    "CONTENT_CORE",
    "INFRA_WEIGHT",
    "LINKED_SHARE",
    "OPERATION_LINK",
    "OPERATION_PAIRS",
    "PHRASING_MIN_USES",
    "RELAY_CANDIDATES",
    "RELAY_GAP_HOURS",
    "ROTATED_KINDS",
    "SAME_OPERATION",
    "STRANGER_P",
    "SWARM_BRIEF_HOURS",
    "SWARM_MAX_REQUESTS",
    "SWARM_MIN_ACCOUNTS",
    "SWARM_ONE_VALUE",
    "SWARM_OPENING_HOURS",
    "SWARM_PAIR_CAP",
    "ContentLinks",
    "InfraIndex",
    "SharedTemplates",
    "arrival_burst",
    "arrival_clock",
    "burst_significance",
    "bursts",
    "cell_groups",
    "communities",
    "components",
    "coordination",
    "cores",
    "epoch_seconds",
    "index",
    "operations",
    "pair_cosine",
    "peel",
    "profiles",
    "spans",
    "successions",
]
