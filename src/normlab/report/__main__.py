"""python -m normlab.report: the same as normlab-report."""

import sys

from normlab.report.cli import main

sys.exit(main())
