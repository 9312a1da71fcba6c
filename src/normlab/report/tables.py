"""The paper's Tables 1, 2 and 4 rebuilt from our runs, plus one table of everything, as markdown,
CSV (one row per cell, with the exact bounds of the t-based 95% interval; empty for n=1) and LaTeX (booktabs)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from normlab.report.collect import PAPER_DATASETS, canonical, dataset_key, variant_key
from normlab.report.stats import Cell, DatasetCells

# The paper's metric for each of its datasets, for the columns we have no run of.
PAPER_METRICS = {"wmt14_en_de": ("bleu", True), "iwslt14_de_en": ("bleu", True), "iwslt15_en_vi": ("bleu", True),
                 "enwik8": ("bpc", False), "rt": ("accuracy", True), "sst5": ("accuracy", True),
                 "mnist": ("accuracy", True), "ptb": ("uas", True)}
METRIC_NAMES = {"bleu": "BLEU", "bpc": "bpc", "accuracy": "acc. %", "uas": "UAS %"}
DECIMALS = {"bleu": 2, "bpc": 3, "accuracy": 2, "uas": 2}
TABLES = (  # (key, title, norms): the paper's tables are cumulative comparisons against LayerNorm
    ("table1", "Table 1: w/o Norm, LayerNorm and LayerNorm-simple (no gain, no bias)",
     ("none", "layernorm", "layernorm_simple")),
    ("table2", "Table 2: + DetachNorm (mean and std constants in backward)",
     ("none", "layernorm", "layernorm_simple", "detachnorm")),
    ("table4", "Table 4: + AdaNorm", ("none", "layernorm", "layernorm_simple", "detachnorm", "adanorm")),
)
MISSING = "–"
LEGEND = ("Each cell: ours, mean ± half-width of the t-based 95% interval of the mean over n seeds (n=1: a "
          "single seed, no interval), with the paper's number in [brackets]; §k after it: our cell departs "
          "from the paper's setup, see deviation k below the table. Diverge: every seed diverged; †k/n "
          "diverged: k of n seeds diverged and the mean is over the rest; ‡k failed: k jobs crashed (not "
          "counted); – : no run.")
SAMPLE_NOTE = ("* {names}: our runs use the offline sample of the data set; the paper's number in [brackets] "
               "is for the full data set, so the two are not directly comparable.")
QUICK_NOTE = ("* {names}: our runs use small generated stand-in data (the quick grid), not the data set; the "
              "paper's number in [brackets] is only there for orientation.")


@dataclass
class Table:
    key: str
    title: str
    rows: list[str]     # variant labels
    columns: list[str]  # datasets
    data: dict[str, DatasetCells]
    paper: dict[tuple[str, str], str]

    def cell(self, label: str, dataset: str) -> Cell:
        ds = self.data.get(dataset)
        return ds.cells.get(label, Cell()) if ds else Cell()

    def metric(self, dataset: str) -> tuple[str, bool]:
        if dataset in self.data:
            return self.data[dataset].metric, self.data[dataset].higher_is_better
        return PAPER_METRICS.get(canonical(dataset), ("metric", True))

    def paper_value(self, label: str, dataset: str) -> str | None:
        return paper_value(self.paper, label.split(" ", 1)[0], dataset)

    def samples(self) -> list[str]:
        return [d for d in self.columns if is_sample_of_paper(d)]


def paper_value(paper: dict, norm: str, dataset: str) -> str | None:
    value = paper.get((norm, canonical(dataset)))
    if value is None:
        return None
    return "Diverge" if value.lower().startswith("diverge") else value


def is_sample_of_paper(dataset: str) -> bool:
    """Data drawn from (a `_sample`) or standing in for (a `quick_` generated one) a paper data set."""
    return canonical(dataset) != dataset and canonical(dataset) in PAPER_DATASETS


def build_tables(data: dict[str, DatasetCells], paper: dict) -> list[Table]:
    """The paper's tables (all its datasets as columns, our samples beside theirs; all its norms as
    rows, with any non-default variants of them below) and one table of every variant and dataset we ran."""
    found = sorted(data, key=dataset_key)
    paper_cols = sorted(set(PAPER_DATASETS) | {d for d in found if is_sample_of_paper(d)}, key=dataset_key)
    labels = {label for ds in data.values() for label in ds.cells}
    tables = []
    for key, title, norms in TABLES:
        rows = sorted(set(norms) | {lab for lab in labels if lab.split(" ", 1)[0] in norms}, key=variant_key)
        tables.append(Table(key, title, rows, paper_cols, data, paper))
    tables.append(Table("all", "All norms and variants found", sorted(labels, key=variant_key), found, data, paper))
    return tables


def fmt_number(value: float, metric: str) -> str:
    return f"{value:.{DECIMALS.get(metric, 3)}f}"


def cell_text(cell: Cell, metric: str) -> str:
    """Our side of a cell, in plain text (markdown and CSV)."""
    if cell.diverged:
        text = "Diverge"
    elif not cell.has_value:
        text = MISSING
    elif cell.ci is None:
        text = f"{fmt_number(cell.mean, metric)} (n={cell.n})"
    else:
        text = f"{fmt_number(cell.mean, metric)} ± {fmt_number((cell.ci[1] - cell.ci[0]) / 2, metric)} (n={cell.n})"
    if cell.n_diverged and not cell.diverged:
        text += f" †{cell.n_diverged}/{cell.n_runs} diverged"
    if cell.n_failed:
        text += f" ‡{cell.n_failed} failed"
    return text


def header(dataset: str, table: Table) -> str:
    metric, higher = table.metric(dataset)
    mark = "*" if is_sample_of_paper(dataset) else ""
    return f"{dataset}{mark} ({METRIC_NAMES.get(metric, metric)} {'↑' if higher else '↓'})"


def deviation_marks(table: Table) -> list[tuple[str, str, str]]:
    """[(mark number, dataset, deviation)]: every distinct deviation of a cell shown with a paper number."""
    out: list[tuple[str, str, str]] = []
    for dataset in table.columns:
        for label in table.rows:
            if table.paper_value(label, dataset) is None:
                continue
            for d in table.cell(label, dataset).deviations:
                if (dataset, d) not in {(o[1], o[2]) for o in out}:
                    out.append((str(len(out) + 1), dataset, d))
    return out


def _full_text(table: Table, label: str, dataset: str, marks=None) -> str:
    cell = table.cell(label, dataset)
    ours = cell_text(cell, table.metric(dataset)[0])
    theirs = table.paper_value(label, dataset)
    if theirs is None:
        return ours
    marks = deviation_marks(table) if marks is None else marks
    refs = [m for m, d, text in marks if d == dataset and text in cell.deviations]
    return f"{ours} [{theirs}]" + ("§" + ",".join(refs) if refs else "")


def _notes(table: Table) -> list[str]:
    samples = table.samples()
    quick = [d for d in samples if d.startswith("quick_")]
    real = [d for d in samples if d not in quick]
    notes = ([SAMPLE_NOTE.format(names=", ".join(real))] if real else []) + \
        ([QUICK_NOTE.format(names=", ".join(quick))] if quick else [])
    notes += [f"§{m} {d}: {text}" for m, d, text in deviation_marks(table)]
    ran = [d for d in table.columns if d in table.data]
    if ran:
        notes.append("Comparable to the paper's numbers (paper data and no deviations): "
                     + "; ".join(f"{d}: {table.data[d].comparable}" for d in ran) + ".")
    return notes


def to_markdown(table: Table) -> str:
    head = ["norm", *(header(d, table) for d in table.columns)]
    lines = [f"### {table.title}", "", LEGEND, "",
             "| " + " | ".join(head) + " |", "|" + "|".join([":---"] + [":---:"] * len(table.columns)) + "|"]
    marks = deviation_marks(table)
    for label in table.rows:
        lines.append("| " + " | ".join([label, *(_full_text(table, label, d, marks) for d in table.columns)]) + " |")
    notes = _notes(table)
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


CSV_FIELDS = ("table", "variant", "norm", "dataset", "metric", "higher_is_better", "n", "mean", "ci_low",
              "ci_high", "n_diverged", "n_failed", "cell", "paper", "paper_dataset", "kind", "deviations")


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for label in table.rows:
        for dataset in table.columns:
            cell, (metric, higher) = table.cell(label, dataset), table.metric(dataset)
            theirs = table.paper_value(label, dataset)
            writer.writerow({
                "table": table.key, "variant": label, "norm": label.split(" ", 1)[0], "dataset": dataset,
                "metric": metric, "higher_is_better": higher, "n": cell.n,
                "mean": _num(cell.mean), "ci_low": _num(cell.ci[0] if cell.ci else None),
                "ci_high": _num(cell.ci[1] if cell.ci else None), "n_diverged": cell.n_diverged,
                "n_failed": cell.n_failed, "cell": cell_text(cell, metric), "paper": theirs or "",
                "paper_dataset": canonical(dataset) if theirs is not None else "",
                "kind": table.data[dataset].kind if dataset in table.data else "",
                "deviations": " | ".join(cell.deviations)})
    return out.getvalue()


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
                  "{": r"\{", "}": r"\}", "[": "{[}", "]": "{]}", "±": r"$\pm$", "†": r"\textsuperscript{\dag}",
                  "‡": r"\textsuperscript{\ddag}", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--",
                  "*": r"$^{*}$", "§": r"\S{}", "−": "-", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    cols = "l" + "c" * len(table.columns)
    lines = [r"% Generated by normlab-report; needs \usepackage{booktabs}.", r"\begin{table}[t]", r"\centering",
             r"\small", rf"\caption{{{latex_escape(table.title)}}}", rf"\label{{tab:normlab-{table.key}}}",
             rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
             " & ".join(["Norm", *(latex_escape(header(d, table)) for d in table.columns)]) + r" \\",
             r"\midrule"]
    marks = deviation_marks(table)
    for label in table.rows:
        cells = [latex_escape(_full_text(table, label, d, marks)) for d in table.columns]
        lines.append(" & ".join([latex_escape(label), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    for note in [LEGEND, *_notes(table)]:
        lines.append(r"\par\smallskip{\footnotesize " + latex_escape(note) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "" if value is None else repr(round(value, 6))
