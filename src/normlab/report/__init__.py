"""normlab-report: the paper's tables, verdicts on its claims and loss figures, from result.json files.

collect (find and label jobs) -> stats (cells over seeds, paired contrasts, normlab.outcomes for per-example
bootstraps) -> tables / verdicts / figures -> cli (report.md, verdicts.json). See docs/statistics.md.
"""

from normlab.report.cli import main, write_report
from normlab.report.collect import CollectError, load_jobs, load_paper

__all__ = ["main", "write_report", "CollectError", "load_jobs", "load_paper"]
