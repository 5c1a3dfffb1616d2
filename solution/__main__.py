"""`python -m solution`: the same as the `wth-solution` command."""

import sys

from .cli import main

sys.exit(main())
