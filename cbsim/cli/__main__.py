"""`python -m cbsim.cli`."""

import sys

from cbsim.cli import main

sys.exit(main())
