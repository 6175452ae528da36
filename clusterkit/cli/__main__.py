"""``python -m clusterkit.cli``: the ``clusterkit`` command."""

import sys

from . import main

sys.exit(main())
