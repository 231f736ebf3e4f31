"""`python -m engine.cli`: the same as the `carmask` command."""

import sys

from engine.cli import main

sys.exit(main())
