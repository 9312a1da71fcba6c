"""Verdicts on the paper's three claims, dataset by dataset, from the default-option runs of each norm.

Claim 1 (gain and bias don't help): LN-simple >= LN on the metric (in its direction), as the paper
counts it (6 of 8); and, reported beside it, the overfitting signature: LN-simple ends with a higher
final train loss but reaches a lower best valid loss.
Claim 2 (backward normalization matters more than forward): LN-simple > DetachNorm on the metric
and DetachNorm ≈ w/o Norm (≈ as defined in normlab.report.stats).
Claim 3 (AdaNorm improves on LayerNorm): AdaNorm > LN on the metric (the paper: 7 of 8).
Comparisons use seed means; a diverged cell loses to one that finished, and two diverged cells are
equal (≈) but not comparable by > or >=. A dataset counts as "with data" once every norm a claim
needs has a finished or diverged run there.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from normlab.report.collect import PAPER_DATASETS
from normlab.report.stats import REL_TOL, Cell, DatasetCells, about_equal, better, mean_or_none
from normlab.report.tables import METRIC_NAMES, PAPER_METRICS, cell_text, fmt_number, is_sample_of_paper

SHORT = {"none": "w/o Norm", "layernorm": "LN", "layernorm_simple": "LN-simple", "detachnorm": "DetachNorm",
         "adanorm": "AdaNorm"}


@dataclass
class Evidence:
    dataset: str
    supported: bool | None  # None: a needed norm has no run here
    text: str
    signature: bool | None = None  # claim 1's overfitting signature
    halves: tuple = ()  # claim 2: (LN-simple > DetachNorm, DetachNorm ≈ w/o Norm)


@dataclass
class Verdict:
    key: str
    claim: str
    rule: str
    needs: tuple[str, ...]
    paper_says: str
    evidence: list[Evidence] = field(default_factory=list)
    paper_count: tuple[int, int] = (0, 0)
    extra: list[str] = field(default_factory=list)

    @property
    def counted(self) -> list[Evidence]:
        return [e for e in self.evidence if e.supported is not None]

    @property
    def k(self) -> int:
        return sum(bool(e.supported) for e in self.counted)

    @property
    def n(self) -> int:
        return len(self.counted)

    @property
    def summary(self) -> str:
        if not self.n:
            return (f"not enough data: needs default-option runs of {', '.join(self.needs)} "
                    "on at least one common dataset")
        return f"supported on {self.k} of {self.n} datasets with data"


def _cells(ds: DatasetCells, norms) -> list[Cell]:
    return [ds.cells.get(n, Cell()) for n in norms]


def _missing(ds: DatasetCells, norms) -> str:
    absent = [n for n, c in zip(norms, _cells(ds, norms)) if not c.has_data]
    return f"not enough data (no finished or diverged run of {', '.join(absent)})"


def _show(cell: Cell, metric: str) -> str:
    return cell_text(cell, metric)


def _where(ds: DatasetCells) -> str:
    arrow = "↑" if ds.higher_is_better else "↓"
    tag = (" (generated stand-in)" if ds.name.startswith("quick_") else " (sample)") if is_sample_of_paper(ds.name) \
        else "" if ds.name in PAPER_DATASETS else " (not a paper data set)"
    return f"{ds.name}{tag}, {METRIC_NAMES.get(ds.metric, ds.metric)} {arrow}"


def _mark(ok: bool | None) -> str:
    return "✓" if ok else "✗"


def claim1(ds: DatasetCells) -> Evidence:
    needs = ("layernorm_simple", "layernorm")
    lns, ln = _cells(ds, needs)
    ok = better(lns, ln, ds.higher_is_better, or_equal=True)
    if ok is None:
        return Evidence(ds.name, None, f"{_where(ds)}: " + (_missing(ds, needs) if not (lns.has_data and ln.has_data)
                                                            else "both diverged, no comparison"))
    noise = " (difference within noise, ≈)" if about_equal(lns, ln) and not (lns.diverged or ln.diverged) else ""
    text = (f"{_where(ds)}: LN-simple {_show(lns, ds.metric)} vs LN {_show(ln, ds.metric)}: "
            f"LN-simple ≥ LN {_mark(ok)}{noise}")
    signature = None
    tr = [mean_or_none(c.train_losses) for c in (lns, ln)]
    va = [mean_or_none(c.valid_losses) for c in (lns, ln)]
    if None not in tr and None not in va:
        signature = tr[0] > tr[1] and va[0] < va[1]
        text += (f"; final train loss {tr[0]:.3f} vs {tr[1]:.3f} (higher {_mark(tr[0] > tr[1])}), "
                 f"best valid loss {va[0]:.3f} vs {va[1]:.3f} (lower {_mark(va[0] < va[1])}): "
                 f"overfitting signature {_mark(signature)}")
    return Evidence(ds.name, ok, text, signature)


def claim2(ds: DatasetCells, rel_tol: float = REL_TOL) -> Evidence:
    needs = ("layernorm_simple", "detachnorm", "none")
    lns, dn, none = _cells(ds, needs)
    backward = better(lns, dn, ds.higher_is_better)
    forward = about_equal(dn, none, rel_tol)
    if not all(c.has_data for c in (lns, dn, none)):
        return Evidence(ds.name, None, f"{_where(ds)}: {_missing(ds, needs)}")
    if backward is None:
        return Evidence(ds.name, None, f"{_where(ds)}: LN-simple and DetachNorm both diverged, no comparison")
    if dn.has_value and none.has_value:
        gap = f" (|Δ| = {fmt_number(abs(dn.mean - none.mean), ds.metric)}, tolerance " \
              f"{fmt_number(rel_tol * max(abs(dn.mean), abs(none.mean)), ds.metric)})"
    else:
        gap = ""
    ok = bool(backward and forward)
    text = (f"{_where(ds)}: LN-simple {_show(lns, ds.metric)} > DetachNorm {_show(dn, ds.metric)} {_mark(backward)}; "
            f"DetachNorm ≈ w/o Norm {_show(none, ds.metric)} {_mark(forward)}{gap}")
    return Evidence(ds.name, ok, text, halves=(backward, forward))


def claim3(ds: DatasetCells) -> Evidence:
    needs = ("adanorm", "layernorm")
    ada, ln = _cells(ds, needs)
    ok = better(ada, ln, ds.higher_is_better)
    if ok is None:
        return Evidence(ds.name, None, f"{_where(ds)}: " + (_missing(ds, needs) if not (ada.has_data and ln.has_data)
                                                            else "both diverged, no comparison"))
    return Evidence(ds.name, ok, f"{_where(ds)}: AdaNorm {_show(ada, ds.metric)} vs LN {_show(ln, ds.metric)}: "
                                 f"AdaNorm > LN {_mark(ok)}")


CLAIMS = (
    ("claim1", "Gain and bias don't help: LayerNorm-simple is at least as good as LayerNorm",
     "LN-simple ≥ LN on the metric (seed means, in the metric's direction)", ("layernorm", "layernorm_simple"),
     "6 of 8", claim1),
    ("claim2", "Backward normalization matters more than forward: LN-simple > DetachNorm, DetachNorm ≈ w/o Norm",
     "LN-simple > DetachNorm on the metric, and DetachNorm ≈ w/o Norm: both diverged, or 95% CIs overlap "
     "(≥ 2 seeds each), or |Δ| ≤ {tol:g}% of the score", ("layernorm_simple", "detachnorm", "none"),
     "LN-simple beats DetachNorm, and DetachNorm is no better than w/o Norm", claim2),
    ("claim3", "AdaNorm improves on LayerNorm", "AdaNorm > LN on the metric (seed means)", ("adanorm", "layernorm"),
     "7 of 8", claim3),
)


def paper_cells(paper: dict) -> dict[str, DatasetCells]:
    """The paper's own numbers as single-seed cells, to count its claims with our rules."""
    out = {}
    for dataset in PAPER_DATASETS:
        metric, higher = PAPER_METRICS[dataset]
        cells = {}
        for (norm, d), value in paper.items():
            if d != dataset:
                continue
            if value.lower().startswith("diverge"):
                cells[norm] = Cell(n_diverged=1)
            else:
                cells[norm] = Cell(values=[float(value)], mean=float(value))
        out[dataset] = DatasetCells(dataset, metric, higher, cells, {})
    return out


def build_verdicts(data: dict[str, DatasetCells], paper: dict, rel_tol: float = REL_TOL) -> list[Verdict]:
    theirs = paper_cells(paper)
    verdicts = []
    for key, claim, rule, needs, says, test in CLAIMS:
        run = (lambda ds: test(ds, rel_tol)) if test is claim2 else test
        v = Verdict(key, claim, rule.format(tol=rel_tol * 100), tuple(SHORT[n] for n in needs), says)
        v.evidence = [run(ds) for ds in data.values()]
        on_paper = [e for e in (run(ds) for ds in theirs.values()) if e.supported is not None]
        v.paper_count = (sum(bool(e.supported) for e in on_paper), len(on_paper))
        if key == "claim1":
            sig = [e.signature for e in v.evidence if e.signature is not None]
            v.extra.append(f"Overfitting signature (LN-simple: higher final train loss, lower best valid loss): "
                           f"{sum(sig)} of {len(sig)} datasets with losses of both." if sig else
                           "Overfitting signature: no dataset with finished runs of both LN and LN-simple.")
        if key == "claim2" and v.n:
            halves = [e.halves for e in v.counted]
            v.extra.append(f"LN-simple > DetachNorm on {sum(bool(h[0]) for h in halves)} of {v.n}; "
                           f"DetachNorm ≈ w/o Norm on {sum(bool(h[1]) for h in halves)} of {v.n}.")
        verdicts.append(v)
    return verdicts


def to_markdown(verdicts: list[Verdict]) -> str:
    lines = []
    for i, v in enumerate(verdicts, 1):
        k, n = v.paper_count
        lines += [f"### Claim {i}: {v.claim}", "",
                  f"**Ours: {v.summary}.** Paper: {v.paper_says} (our rule on the paper's numbers: {k} of {n}).", "",
                  f"Test: {v.rule}. Default-option runs only.", ""]
        lines += [f"{x}" for x in v.extra] + ([""] if v.extra else [])
        lines += [f"- {'✓' if e.supported else '✗' if e.supported is False else '·'} {e.text}" for e in v.evidence]
        lines.append("")
    return "\n".join(lines)


def to_csv(verdicts: list[Verdict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["claim", "dataset", "supported", "evidence"])
    for v in verdicts:
        for e in v.evidence:
            writer.writerow([v.key, e.dataset, "" if e.supported is None else e.supported, e.text])
    return out.getvalue()
