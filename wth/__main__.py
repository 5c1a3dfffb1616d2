"""`python -m wth`: the same as the `wth` command."""

import sys

from .cli import main

sys.exit(main())
