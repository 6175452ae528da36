"""``clusterkit`` command line. Each command is a thin call into the public library function of
the same name and parameters; heavy libraries load only inside the command that needs them."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import ClusterkitError
from .output import _bar as _bar  # re-exported: tests import it from here
from .output import _plain as _plain  # re-exported: tests import it from here
from .parser import build_parser

__all__ = ["build_parser", "main"]


_INTERRUPTED = {
    "ingest": "nothing of this ingest was stored (it is one transaction); run it again",
    "embed": "every finished chunk of vectors is stored; run it again to resume",
    "cluster": "finished embeddings are stored; the unfinished run is marked failed; run it again to resume",
    "demo": "finished steps are stored; run it again to resume",
    "run": "finished steps are stored (ingest is all or nothing); run it again to resume",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ClusterkitError as exc:
        print(f"clusterkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the environment: a file that cannot be written, a full disk, a permission
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"clusterkit {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = _INTERRUPTED.get(args.command, "work committed before the interruption is kept")
        print(f"clusterkit {args.command}: interrupted; {kept}", file=sys.stderr)
        return 130
