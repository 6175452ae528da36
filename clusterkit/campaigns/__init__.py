"""Campaign detection: link accounts that work the same semantic regions at the same times from
shared infrastructure, group them into communities, and score each community for the hallmarks
of a distillation campaign (a coverage sweep: many accounts, disjoint prompts, even load,
persistent scripted timing, templated / reasoning-elicitation / grading prompts).

Modules: :mod:`.signals` (the SQL: per-account signals, cells, prompts, infrastructure, mined
templates), :mod:`.linking` (the account graph and its communities), :mod:`.evidence` (named
evidence and the score), :mod:`.detect` (the two passes), :mod:`.scoring` (the store-backed
``score`` run), :mod:`.params` (parameters and the recipe version).
"""

from .detect import Detection, detect
from .params import RECIPE, DetectParams
from .scoring import ScoreResult, score

__all__ = ["RECIPE", "DetectParams", "Detection", "ScoreResult", "detect", "score"]
