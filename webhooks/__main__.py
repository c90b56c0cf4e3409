"""``python -m webhooks`` is ``haat``."""

import sys

from webhooks.cli import main

sys.exit(main())
