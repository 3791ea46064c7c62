"""``python -m bayesgen.cli``: the ``bayesgen`` command."""

import sys

from . import main

sys.exit(main())
