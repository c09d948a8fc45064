"""``python -m rlpyt``: see :mod:`rlpyt.cli.main`."""

import sys

from rlpyt.cli.main import main

sys.exit(main())
