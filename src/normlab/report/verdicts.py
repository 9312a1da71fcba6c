"""Verdicts on the paper's three claims, dataset by dataset, from paired per-seed contrasts of the
default-option runs (normlab.report.stats; docs/statistics.md, "How to read a verdict").

Every contrast is oriented so that positive is the paper's direction, and tested as the paper words it:
- Claim 1 (gain and bias don't help): metric LN-simple - LN, twice: non-inferiority (the paper's "does
  not decrease the performance", 6 of 8: the interval's lower bound above -margin) and superiority (its
  "outperforms", 4 of 8: above 0); and the over-fitting signature: final train loss LN-simple - LN (the
  paper: higher), best valid loss LN - LN-simple (the paper: lower).
- Claim 2 (the gradients of mu and sigma matter more than forward normalization):
  (LN-simple - DetachNorm) - (DetachNorm - w/o Norm) on the metric.
- Claim 3 (AdaNorm improves on LayerNorm): metric AdaNorm - LN (superiority, "better on seven of
  eight"), and the same signature as claim 1.
Counts across datasets are kept per kind of data (paper, offline_sample, generated, user), never mixed;
each claim and kind also gets one aggregate, the probability of improvement with a stratified bootstrap
interval (rliable; normlab.report.aggregate).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

from normlab.norms.registry import SPECS
from normlab.report.collect import KINDS, PAPER_DATASETS
from normlab.report.stats import (FAILED_SCORE, LEVEL, MARGINS, WORST_STAND_IN, DatasetCells, equivalent_of, margin_of,
                                  orientation, paired_contrast, seeds_needed, sign_test, verdict_of)
from normlab.report.tables import METRIC_NAMES, PAPER_METRICS, fmt_number

SHORT = {spec.name: spec.short for spec in SPECS}  # the registry's short labels
VERDICTS = ("supported", "contradicted", "inconclusive")
COMPARISONS = ("metric", "train_loss", "valid_loss")


SUPERIORITY, NON_INFERIORITY = "superiority", "non-inferiority"


@dataclass(frozen=True)
class Test:
    """How a claim's metric contrast is judged: superiority (the interval above 0) or non-inferiority (its
    lower bound above -margin), with what the paper says and the rule by which it counts its own table."""

    name: str
    paper_says: str
    paper_rule: str = ">"  # the paper's own (single-run) numbers: contrast '>' or '>=' 0


@dataclass(frozen=True)
class Claim:
    number: int
    title: str
    weights: tuple[tuple[str, float], ...]
    contrast: str
    tests: tuple[Test, ...]
    signature: bool  # also test the over-fitting signature (train and valid loss)
    # the aggregate's two sides: probability that (weights x) beats (weights y) in one run
    improvement: tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]] = ((), ())
    improvement_text: str = ""

    @property
    def key(self) -> str:
        return f"claim{self.number}"

    @property
    def variant(self) -> str:
        return self.weights[0][0]

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.weights)

    @property
    def paper_says(self) -> str:
        return "; ".join(t.paper_says for t in self.tests)


CLAIMS = (
    Claim(1, "Gain and bias don't help: LayerNorm-simple is at least as good as LayerNorm",
          (("layernorm_simple", 1.0), ("layernorm", -1.0)), "LN-simple − LN",
          (Test(NON_INFERIORITY, "LN-simple does not decrease the performance on 6 of 8 datasets", ">="),
           Test(SUPERIORITY, "LN-simple outperforms LN on 4 of 8 datasets", ">")), True,
          ((("layernorm_simple", 1.0),), (("layernorm", 1.0),)), "a LN-simple run beats a LN run"),
    Claim(2, "The gradients of μ and σ matter more than forward normalization",
          (("layernorm_simple", 1.0), ("detachnorm", -2.0), ("none", 1.0)),
          "(LN-simple − DetachNorm) − (DetachNorm − w/o Norm)",
          (Test(SUPERIORITY, "the gain from the gradients of μ and σ exceeds the gain from forward "
                             "normalization"),), False,
          ((("layernorm_simple", 1.0), ("detachnorm", -1.0)), (("detachnorm", 1.0), ("none", -1.0))),
          "a seed's backward gain (LN-simple − DetachNorm) exceeds a seed's forward gain (DetachNorm − w/o Norm)"),
    Claim(3, "AdaNorm improves on LayerNorm", (("adanorm", 1.0), ("layernorm", -1.0)), "AdaNorm − LN",
          (Test(SUPERIORITY, "AdaNorm is better than LN on 7 of 8 datasets"),), True,
          ((("adanorm", 1.0),), (("layernorm", 1.0),)), "an AdaNorm run beats a LN run"),
)
COMPARISON_TEXT = {
    "metric": "test metric",
    "train_loss": "final train loss (paper: {v} higher)",
    "valid_loss": "best valid loss (paper: {v} lower)",
}


@dataclass
class Row:
    claim: int
    dataset: str
    kind: str
    comparison: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n_seeds: int
    verdict: str
    equivalent: bool
    paper_estimate: float | None
    seeds_needed: int | None
    metric: str = ""
    method: str = ""
    margin: float | None = None
    comparable: str = ""
    notes: list[str] = field(default_factory=list)
    test: str = SUPERIORITY

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Verdict:
    claim: Claim
    rows: list[Row] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    paper: dict[str, float | None] = field(default_factory=dict)  # dataset -> the paper's own estimate
    aggregates: list = field(default_factory=list)  # normlab.report.aggregate.Aggregate, one per kind

    @property
    def key(self) -> str:
        return self.claim.key

    def paper_count(self, test: Test) -> tuple[int, int]:
        """Datasets where the paper's own numbers point its way (by its own rule), of those it reports."""
        known = [e for e in self.paper.values() if e is not None]
        ok = [e for e in known if (e >= 0 if test.paper_rule == ">=" else e > 0)]
        return len(ok), len(known)

    def summaries(self) -> list[dict]:
        out = []
        for kind in KINDS:
            for comparison in COMPARISONS:
                for test in (t.name for t in self.claim.tests) if comparison == "metric" else (SUPERIORITY,):
                    rows = [r for r in self.rows if r.kind == kind and r.comparison == comparison and r.test == test]
                    if rows:
                        out.append(summarize_rows(self.claim.number, kind, comparison, rows, test))
        return out


def summarize_rows(claim: int, kind: str, comparison: str, rows: list[Row], test: str = SUPERIORITY) -> dict:
    """Counts over datasets of ONE kind and one test, with one-sided sign tests (inconclusive rows are ties)."""
    if len({r.kind for r in rows}) > 1:
        raise ValueError("a summary never mixes kinds of data")
    if len({r.test for r in rows}) > 1:
        raise ValueError("a summary never mixes tests")
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    decided = counts["supported"] + counts["contradicted"]
    return {"claim": claim, "kind": kind, "comparison": comparison, "test": test, "n_datasets": len(rows), **counts,
            "equivalent": sum(r.equivalent for r in rows),
            "p_supported": sign_test(counts["supported"], decided),
            "p_contradicted": sign_test(counts["contradicted"], decided)}



def paper_estimate(claim: Claim, paper: dict, dataset: str) -> float | None:
    """The claim's contrast on the paper's own (single-run) numbers; a 'diverge' takes FAILED_SCORE,
    as our diverged seeds do."""
    from normlab.report.collect import canonical

    base = canonical(dataset)
    if base not in PAPER_METRICS:
        return None
    higher = PAPER_METRICS[base][1]
    raw = {norm: v for (norm, d), v in paper.items() if d == base}
    finished = [float(v) for v in raw.values() if not v.lower().startswith("diverge")]
    if not finished or any(n not in raw for n in claim.needs):
        return None
    worst = FAILED_SCORE.get(PAPER_METRICS[base][0], min(finished) if higher else max(finished))
    value = {n: worst if raw[n].lower().startswith("diverge") else float(raw[n]) for n in claim.needs}
    return (1.0 if higher else -1.0) * sum(w * value[n] for n, w in claim.weights)


def claim_rows(claim: Claim, ds: DatasetCells, paper: dict, outcomes: bool = True) -> tuple[list[Row], str | None]:
    """The claim's rows on one dataset, or a line saying why there are none."""
    absent = [n for n in claim.needs if not ds.cells.get(n) or not ds.cells[n].has_data]
    if absent:
        return [], f"{ds.name}: not enough data (no finished or diverged run of " \
                   f"{', '.join(SHORT.get(n, n) for n in absent)})"
    weights = dict(claim.weights)
    rows = []
    for comparison in COMPARISONS if claim.signature else ("metric",):
        sign = orientation(comparison, ds.higher_is_better)
        c = paired_contrast(ds, weights, comparison, sign, names=SHORT, outcomes=outcomes)
        if c.estimate is None:
            if comparison == "metric":
                return [], f"{ds.name}: no seed run by every variant of {claim.contrast}"
            continue
        theirs = paper_estimate(claim, paper, ds.name) if comparison == "metric" else None
        margin = margin_of(comparison, ds.metric)
        for test in claim.tests if comparison == "metric" else (Test(SUPERIORITY, ""),):
            rows.append(Row(claim.number, ds.name, ds.kind, comparison, c.estimate,
                            c.ci[0] if c.ci else None, c.ci[1] if c.ci else None, c.n_seeds,
                            judge(c.ci, test.name, margin), equivalent_of(c.ci, margin), theirs,
                            seeds_needed(c.sd, theirs), ds.metric, c.method, margin, ds.comparable,
                            list(c.notes), test.name))
    return rows, None


def judge(ci: tuple[float, float] | None, test: str, margin: float | None) -> str:
    """Superiority: the interval against 0. Non-inferiority: against -margin (supported when the lower
    bound lies above it, contradicted when the whole interval lies below it)."""
    if test == NON_INFERIORITY:
        if ci is None or margin is None:
            return "inconclusive"
        return verdict_of((ci[0] + margin, ci[1] + margin))
    return verdict_of(ci)


def build_verdicts(data: dict[str, DatasetCells], paper: dict, outcomes: bool = True) -> list[Verdict]:
    from normlab.report.aggregate import aggregates  # rliable: only once verdicts are built

    verdicts = []
    for claim in CLAIMS:
        v = Verdict(claim, paper={d: paper_estimate(claim, paper, d) for d in PAPER_DATASETS})
        for ds in data.values():
            rows, why = claim_rows(claim, ds, paper, outcomes)
            v.rows += rows
            if why:
                v.missing.append(why)
        decided = {r.dataset for r in v.rows}
        v.aggregates = aggregates(claim, [ds for ds in data.values() if ds.name in decided])
        verdicts.append(v)
    return verdicts


def signed(x: float | None, metric: str) -> str:
    if x is None:
        return "–"
    text = fmt_number(abs(x), metric)
    return ("−" if x < 0 and float(text) != 0 else "+") + text


def interval_text(row: Row) -> str:
    metric = row.metric if row.comparison == "metric" else "loss"
    est = signed(row.estimate, metric)
    if row.ci_low is None:
        return f"{est} (n={row.n_seeds}, no interval)"
    return f"{est} [{signed(row.ci_low, metric)}, {signed(row.ci_high, metric)}] (95% {row.method}, n={row.n_seeds})"


def margins_markdown() -> str:
    lines = ["Equivalence margins (TOST: `equivalent` when the whole 95% interval lies within ± the margin):", "",
             "| metric | margin | why |", "|:---|:---:|:---|"]
    lines += [f"| {METRIC_NAMES.get(k, k)} | ±{m:g} | {why} |" for k, (m, why) in MARGINS.items()]
    return "\n".join(lines) + "\n"


def _p(p: float | None) -> str:
    return "–" if p is None else f"{p:.3g}"


def aggregate_text(a) -> str:
    if a.estimate is None:
        return "–"
    return f"{a.estimate:.2f} [{a.ci_low:.2f}, {a.ci_high:.2f}]"


def test_text(test: str, margin: float | None = None) -> str:
    if test == NON_INFERIORITY:
        return "non-inferiority" + (f" (> −{margin:g})" if margin is not None else "")
    return "superiority (> 0)"


def to_markdown(verdicts: list[Verdict]) -> str:
    lines = [f"Each row: the paired per-seed contrast, oriented so that **positive is the paper's direction**, "
             f"its estimate and {LEVEL:.0%} interval, judged as the paper words the claim. Superiority: "
             "supported when the interval lies above 0, contradicted below 0. Non-inferiority (claim 1's \"does "
             "not decrease\"): supported when the lower bound lies above −margin, contradicted when the whole "
             "interval lies below −margin. Otherwise inconclusive. A diverged seed counts as its variant's loss "
             f"(scored as {WORST_STAND_IN}: " + ", ".join(f"{METRIC_NAMES.get(k, k)} {v:g}" for k, v in
                                                          FAILED_SCORE.items()) + "). Counts never mix kinds of data; "
             "p: one-sided sign test against chance (inconclusive datasets are ties). Aggregate: the probability "
             "that one run beats the other on a dataset, averaged over the kind's datasets (0.5: no difference), "
             f"with a {LEVEL:.0%} stratified bootstrap interval over seeds (rliable).", "", margins_markdown()]
    for v in verdicts:
        c = v.claim
        said = "; ".join(f"{t.paper_says} (its own numbers: this contrast {'≥' if t.paper_rule == '>=' else '>'} 0 "
                         f"on {v.paper_count(t)[0]} of {v.paper_count(t)[1]})" for t in c.tests)
        lines += [f"### Claim {c.number}: {c.title}", "",
                  f"Contrast: {c.contrast}. Paper: {said}. Default-option runs only.", ""]
        sums = v.summaries()
        if sums:
            lines += ["| kind | comparison | test | datasets | supported | contradicted | inconclusive | equivalent | "
                      "p (supported) | p (contradicted) |", "|:---|:---|:---|:---:|:---:|:---:|:---:|:---:|:---:|:---:|"]
            lines += [f"| {s['kind']} | {s['comparison']} | {test_text(s['test'])} | {s['n_datasets']} | "
                      f"{s['supported']} | {s['contradicted']} | {s['inconclusive']} | {s['equivalent']} | "
                      f"{_p(s['p_supported'])} | {_p(s['p_contradicted'])} |" for s in sums]
            if v.aggregates:
                lines += ["", f"Aggregate: P({c.improvement_text}), per kind of data:", "",
                          "| kind | datasets (seeds) | probability of improvement [95% interval] | verdict (vs 0.5) |",
                          "|:---|:---|:---|:---|"]
                lines += [f"| {a.kind} | {', '.join(f'{d} ({a.n_seeds[d]})' for d in a.datasets) or '–'} | "
                          f"{aggregate_text(a)} | {a.verdict} |" for a in v.aggregates]
            lines += ["", "| dataset | kind | comparison | test | estimate [95% interval] | verdict | equivalent | "
                          "paper | seeds needed | notes |", "|:---|:---|:---|:---|:---|:---|:---|:---|:---|:---|"]
            for r in v.rows:
                what = COMPARISON_TEXT[r.comparison].format(v=SHORT[c.variant])
                paper = "–" if r.paper_estimate is None else signed(r.paper_estimate, r.metric)
                if r.paper_estimate is not None and r.comparable != "comparable":
                    paper += f" ({r.comparable})"
                eq = f"{'yes' if r.equivalent else 'no'} (±{r.margin:g})" if r.margin is not None else "–"
                lines.append(f"| {r.dataset} | {r.kind} | {what} | {test_text(r.test, r.margin)} | {interval_text(r)} | "
                             f"**{r.verdict}** | {eq} | {paper} | "
                             f"{r.seeds_needed if r.seeds_needed is not None else '–'} | {'; '.join(r.notes) or ''} |")
            lines.append("")
        else:
            lines += [f"Not enough data: needs default-option runs of {', '.join(SHORT[n] for n in c.needs)} "
                      "with the same seeds on one dataset.", ""]
        lines += [f"- {m}" for m in v.missing] + ([""] if v.missing else [])
    return "\n".join(lines)


CSV_FIELDS = ("claim", "dataset", "kind", "comparison", "test", "estimate", "ci_low", "ci_high", "n_seeds", "verdict",
              "equivalent", "paper_estimate", "seeds_needed", "metric", "method", "margin", "comparable", "notes")


def to_csv(verdicts: list[Verdict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for v in verdicts:
        for r in v.rows:
            d = r.to_dict()
            d["notes"] = "; ".join(r.notes)
            writer.writerow({k: "" if d[k] is None else d[k] for k in CSV_FIELDS})
    return out.getvalue()


def to_json(verdicts: list[Verdict], beyond=()) -> str:
    doc = {"level": LEVEL,
           "margins": {k: {"margin": m, "why": why} for k, (m, why) in MARGINS.items()},
           "rows": [r.to_dict() for v in verdicts for r in v.rows],
           "summary": [s for v in verdicts for s in v.summaries()],
           "aggregates": [a.to_dict() for v in verdicts for a in v.aggregates],
           "paper": [{"claim": v.claim.number, "counts": {t.name: list(v.paper_count(t)) for t in v.claim.tests},
                      "estimates": v.paper} for v in verdicts],
           "missing": [{"claim": v.claim.number, "why": m} for v in verdicts for m in v.missing],
           "beyond": [r.to_dict() for r in beyond]}
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"
