"""`python -m ipmix ...` (and `torchrun -m ipmix train ...`) run the `ipmix` command."""

import sys

from ipmix.cli import main

sys.exit(main())
