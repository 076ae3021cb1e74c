"""``python -m coursekit.grading.sandbox --policy JSON -- cmd ...``: :func:`coursekit.grading.sandbox.launcher.main`."""

import sys

from coursekit.grading.sandbox.launcher import main

sys.exit(main())
