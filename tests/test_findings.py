"""The generated findings (normlab.report.findings): the committed report is what its committed jobs
generate, byte for byte; README's findings block is that summary verbatim; no result number is typed
into the README outside it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from normlab.report.cli import main, write_report
from normlab.report.findings import BEGIN, END, FINDINGS, SUMMARY, readme_block, splice_readme

from test_stats import pair

REPO = Path(__file__).resolve().parents[1]
# Each committed report and the committed job folders it is built from, as `make findings` builds it; the
# README shows the summary of README_REPORT.
REPORTS = {"offline_grid": ["results/offline_grid/jobs"]}
if (REPO / "results" / "offline_modern_norms" / "jobs").is_dir():
    REPORTS["offline_modern_norms"] = ["results/offline_grid/jobs", "results/offline_modern_norms/jobs"]
README_REPORT = "offline_modern_norms" if "offline_modern_norms" in REPORTS else "offline_grid"
TEXT = (".md", ".json", ".csv", ".tex")


def _texts(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in TEXT and "jobs" not in p.relative_to(root).parts}


@pytest.mark.parametrize("name", REPORTS)
def test_the_committed_report_is_what_its_jobs_generate_byte_for_byte(name, tmp_path):
    """The committed report rebuilt from the committed jobs, run as `make findings` runs it."""
    subprocess.run([sys.executable, "-m", "normlab.report", *REPORTS[name], "--out", str(tmp_path)],
                   cwd=REPO, check=True, capture_output=True, text=True)
    committed, fresh = _texts(REPO / "results" / name), _texts(tmp_path)
    assert {FINDINGS, SUMMARY, "report.md", "verdicts.json"} <= set(committed)
    assert sorted(committed) == sorted(fresh)
    stale = [name for name in committed if committed[name] != fresh[name]]
    assert not stale, f"stale committed report files (run `make findings`): {stale}"


def test_the_readme_block_is_the_committed_summary():
    block = readme_block(REPO / "README.md")
    assert block is not None, "README has no findings block"
    summary = REPO / "results" / README_REPORT / SUMMARY
    assert block == summary.read_text(encoding="utf-8"), "README's findings are stale: `make findings`"


def test_no_result_number_is_typed_into_the_readme_outside_the_block():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    outside = text.split(BEGIN)[0] + text.split(END, 1)[1]
    cell = re.compile(r"\d+(\.\d+)? ± \d+(\.\d+)?")  # a table cell: mean ± half-width
    assert not cell.search(outside), cell.search(outside).group(0)
    interval = re.compile(r"\[[−+-]?\d+(\.\d+)?, [−+-]?\d+(\.\d+)?\]")
    assert not interval.search(outside), interval.search(outside).group(0)
    for word in ("supported on", "contradicted on", "inconclusive on"):
        assert word not in outside


def test_splice_replaces_only_the_block_and_refuses_a_readme_without_one(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{BEGIN}\nold\n{END}\nafter\n", encoding="utf-8")
    assert splice_readme(readme, "new text\n")
    assert readme.read_text(encoding="utf-8") == f"# x\n\nbefore\n{BEGIN}\nnew text\n{END}\nafter\n"
    assert not splice_readme(readme, "new text\n")
    assert readme_block(readme) == "new text\n"
    (tmp_path / "plain.md").write_text("no block\n", encoding="utf-8")
    with pytest.raises(ValueError, match="findings:begin"):
        splice_readme(tmp_path / "plain.md", "x\n")


def test_findings_on_a_small_fixture_name_counts_rows_and_caveats(tmp_path, capsys):
    pair(tmp_path / "jobs", [76.0, 77.0, 75.0], [77.0, 78.1, 76.0], dataset="rt", metric="accuracy")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\n{END}\n", encoding="utf-8")
    assert main([str(tmp_path / "jobs"), "--out", str(tmp_path / "out"), "--no-figures",
                 "--readme", str(readme)]) == 0
    summary = (tmp_path / "out" / SUMMARY).read_text(encoding="utf-8")
    findings = (tmp_path / "out" / FINDINGS).read_text(encoding="utf-8")
    assert readme_block(readme) == summary
    assert "**6 jobs**" in summary and "rt (paper data, 3 seeds)" in summary
    assert "Non-inferiority (the paper: LN-simple does not decrease the performance on 6 of 8 datasets" in summary
    assert "supported: rt +1.03" in summary  # LN-simple - LN = +1.0, +1.1, +1.0
    assert "## Claim 1" in findings and "| rt | paper | superiority (> 0) | +1.03" in findings
    assert "Claim 2" in findings and "not enough data" in findings.lower()
    assert f"{readme}: findings block updated" in capsys.readouterr().out
    # the same results give the same bytes
    write_report([tmp_path / "jobs"], tmp_path / "again", figures=False)
    for name in (SUMMARY, FINDINGS):
        assert (tmp_path / "again" / name).read_text(encoding="utf-8").replace(str(tmp_path / "jobs"), "") == \
            (tmp_path / "out" / name).read_text(encoding="utf-8").replace(str(tmp_path / "jobs"), "")
