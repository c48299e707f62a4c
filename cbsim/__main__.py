"""`python -m cbsim`: the same as the `cbsim` command."""

import sys

from cbsim.cli import main

sys.exit(main())
