"""`python -m podium.server` runs the `podium` command line."""

import sys

from podium.server.cli import main

sys.exit(main())
