import sys

from ipmix.cli import main

sys.exit(main())
