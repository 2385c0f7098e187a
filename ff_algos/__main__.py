"""``python -m ff_algos`` runs the ``ff-bench`` command."""

import sys

from ff_algos.cli import main

sys.exit(main())
