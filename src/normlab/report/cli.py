"""normlab-report DIR [DIR ...] [--out results/NAME]: tables, verdicts and figures from result.json files."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from normlab.report import beyond as bey
from normlab.report import findings as fnd
from normlab.report import tables as tab
from normlab.report import verdicts as ver
from normlab.report.collect import STATUSES, CollectError, load_jobs, load_paper
from normlab.report.stats import LEVEL, N_BOOT, SEED, group_cells

REPORT = "report.md"
VERDICTS = "verdicts.json"


@dataclass
class Written:
    report: Path
    counts: Counter
    dirs: list[Path]
    problems: list[str]
    configs: list = field(default_factory=list)  # the jobs' configs (their W&B project and group)

    @property
    def summary(self) -> str:
        n = sum(self.counts.values())
        parts = ", ".join(f"{self.counts[s]} {s}" for s in STATUSES)
        return f"read {n} result{'s' * (n != 1)} ({parts}) from {len(self.dirs)} dir{'s' * (len(self.dirs) != 1)}"

    @property
    def line(self) -> str:
        return f"{self.summary} → {self.report}"


def write_report(dirs: Sequence[Path], out: Path, figures: bool = True) -> Written:
    """Read every result.json below `dirs` and write report.md, verdicts.json, findings.md, summary.md, tables/
    and figures/ into `out`."""
    dirs = [Path(d) for d in dirs]
    jobs, problems = load_jobs(dirs)
    data, paper = group_cells(jobs), load_paper()
    out.mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)

    tables = tab.build_tables(data, paper)
    for t in tables:
        for ext, render in (("md", tab.to_markdown), ("csv", tab.to_csv), ("tex", tab.to_latex)):
            (out / "tables" / f"{t.key}.{ext}").write_text(render(t), encoding="utf-8")
    verdicts = ver.build_verdicts(data, paper)
    beyond = bey.beyond_rows(data)
    (out / "tables" / "verdicts.csv").write_text(ver.to_csv(verdicts), encoding="utf-8")
    (out / VERDICTS).write_text(ver.to_json(verdicts, beyond), encoding="utf-8")
    (out / fnd.FINDINGS).write_text(fnd.findings_md(jobs, data, paper, verdicts, dirs, beyond), encoding="utf-8")
    (out / fnd.SUMMARY).write_text(fnd.summary_md(jobs, data, paper, verdicts, dirs, beyond), encoding="utf-8")
    pngs = {}
    if figures:
        from normlab.report.figures import write_figures  # matplotlib only when figures are wanted

        pngs = write_figures(data, paper, out, verdicts, beyond)

    counts = Counter({s: 0 for s in STATUSES})
    counts.update(j.status for j in jobs)
    written = Written(out / REPORT, counts, dirs, problems, [j.config for j in jobs])
    md = _report_md(written, jobs, tables, verdicts, pngs, out, beyond)
    (out / REPORT).write_text(md, encoding="utf-8")
    return written


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _report_md(w: Written, jobs, tables, verdicts, pngs, out: Path, beyond=()) -> str:
    groups = sorted({str(j.config.get("group")) for j in jobs if j.config.get("group") is not None})
    lines = ["# normlab report: Understanding and Improving Layer Normalization (Xu et al., NeurIPS 2019)", "",
             f"{w.summary.capitalize()}: " + ", ".join(f"`{fnd.shown_path(d)}`" for d in w.dirs) + ".", ""]
    if groups:
        lines += [f"Sweeps (config `group`): {', '.join(groups)}.", ""]
    kinds = {j.kind for j in jobs}
    if "generated" in kinds:
        only = kinds == {"generated"}
        lines += [("> **A pipeline check, not evidence.** " if only else "> ")
                  + ("Every" if only else "Some") + " dataset here is a generated stand-in: tiny data that "
                  "checks the pipeline end to end (training, evaluation, statistics, figures). Verdicts on "
                  "stand-ins say nothing about the paper's claims, and they are never counted with real data.", ""]
    if w.problems:
        lines += [f"{len(w.problems)} file(s) not used:", ""] + [f"- {p}" for p in w.problems] + [""]
    lines += [f"Statistics (docs/statistics.md): a cell is the mean over its n seeds with a t-based {LEVEL:.0%} "
              "interval of the mean; a comparison is the mean of same-seed differences with its t-based "
              f"{LEVEL:.0%} interval, or, where per-example outcomes exist, a crossed paired bootstrap "
              f"({N_BOOT:,} resamples of the test examples, shared by every seed and variant, and of the seeds; "
              f"seed {SEED}) when that is wider. Rows are "
              "variants: the norm name plus any option that differs from its default. Verdicts use the "
              f"default-option runs; machine-readable in [{VERDICTS}]({VERDICTS}); in words, generated, in "
              f"[{fnd.FINDINGS}]({fnd.FINDINGS}) and [{fnd.SUMMARY}]({fnd.SUMMARY}).",
              "", "## Verdicts on the paper's claims", "", ver.to_markdown(verdicts)]
    if beyond:
        lines += ["## Beyond the paper", "", fnd.beyond_table(beyond), ""]
    lines += ["## Tables", ""]
    for t in tables:
        links = ", ".join(f"[{ext.upper() if ext != 'tex' else 'LaTeX'}](tables/{t.key}.{ext})" for ext in ("csv", "tex"))
        lines += [tab.to_markdown(t), f"Files: {links}.", ""]
    lines += ["## Figures", ""]
    if not pngs:
        lines += ["(figures not written)", ""]
    for name, paths in pngs.items():
        lines += [f"### {name}", ""] + [f"![{p.stem}]({_rel(p, out)})" for p in paths] + [""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="normlab-report",
        description="Rebuild the paper's tables, check its claims and plot losses from the result.json "
                    "files below DIR (never from W&B; --wandb logs the report to it).")
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="experiment folder(s) of normlab-train: $NORMLAB_OUTPUT/<group> (e.g. outputs/quick_grid)")
    parser.add_argument("--out", metavar="PATH", help="where to write (e.g. results/NAME, relative to the current "
                                                      "folder); default: the first DIR")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument("--readme", metavar="README", help="also put the generated summary.md between README's "
                        f"{fnd.BEGIN} and {fnd.END} lines (make findings does this for the committed grid)")
    parser.add_argument("--wandb", action="store_true",
                        help="also log the report to one W&B run (job type report) in the jobs' project and group: "
                             "tables as wandb.Table, figures as images, verdicts.json as tables")
    parser.add_argument("--wandb-mode", default="offline", choices=("offline", "online"),
                        help="offline (default: no account; `wandb sync` later) or online")
    parser.add_argument("--wandb-project", help="the W&B project (default: the jobs' logger.project)")
    parser.add_argument("--wandb-group", help="the W&B group (default: the jobs' group)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.dirs[0])
    try:
        written = write_report(args.dirs, out, figures=not args.no_figures)
    except CollectError as err:
        print(f"normlab-report: error: {err}", file=sys.stderr)
        return 2
    for problem in written.problems:
        print(f"normlab-report: warning: {problem}", file=sys.stderr)
    print(written.line)
    if args.readme:
        try:
            changed = fnd.splice_readme(Path(args.readme), (out / fnd.SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            print(f"normlab-report: error: {err}", file=sys.stderr)
            return 2
        print(f"{args.readme}: findings block {'updated' if changed else 'already current'}")
    if args.wandb:
        from normlab.report.wandb_log import log_report

        run = log_report(out, written.configs, mode=args.wandb_mode, project=args.wandb_project,
                         group=args.wandb_group)
        print(f"W&B report run {run['id']} ({args.wandb_mode}) in project {run['project']}, group {run['group']}: "
              f"{run['dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
