"""``python -m bayesgen``: the ``bayesgen`` command."""

import sys

from .cli import main

sys.exit(main())
