"""What the results say, in words, generated from them: `findings.md` (per claim: the counts, every row,
the over-fitting signature, the probe, the caveats) and `summary.md` (the short version the README shows
between its findings markers). Nothing here is typed by hand but the sentences' frames; every number comes
from the verdicts and cells the report built. No timestamps and no absolute paths: rebuilding from the same
results gives the same bytes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from normlab.norms.registry import SPECS
from normlab.report.stats import DatasetCells
from normlab.report.tables import METRIC_NAMES, fmt_number, paper_value
from normlab.report.verdicts import (NON_INFERIORITY, SHORT, SUPERIORITY, VERDICTS, Row, Verdict, aggregate_text,
                                     interval_text, signed)

FINDINGS = "findings.md"
SUMMARY = "summary.md"
BEGIN, END = "<!-- findings:begin -->", "<!-- findings:end -->"
KIND_TEXT = {"paper": "paper data", "offline_sample": "offline samples", "generated": "generated stand-ins",
             "user": "your own data"}
VARIANT_NAMES = {spec.name: spec.label for spec in SPECS}  # the registry's labels, in its order
# Our LayerNorm score against the paper's: past this factor the models are far from the paper's regime.
FAR = 2.0
# A probe's gradient leaving the norm has "zero mean" when its mean |row mean| is this small a fraction
# of the gradient arriving (float32 rounding of a sum of D terms is about 1e-7 relative).
ZERO_MEAN = 1e-4


def _names(datasets: Sequence[str]) -> str:
    return ", ".join(datasets)


def _verdict_counts(rows: list[Row]) -> str:
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    return ", ".join(f"{v} on {counts[v]}" for v in VERDICTS if counts[v]) or "no dataset"


def _row_brief(r: Row) -> str:
    metric = r.metric if r.comparison == "metric" else "loss"
    est = signed(r.estimate, metric)
    if r.ci_low is None:
        return f"{r.dataset} {est} (1 seed)"
    return f"{r.dataset} {est} [{signed(r.ci_low, metric)}, {signed(r.ci_high, metric)}]"


def _kinds(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(r.kind for r in rows))


def _test_sentence(v: Verdict, test, rows: list[Row]) -> str:
    """'paper data (2): supported on 1, inconclusive on 1 (supported: rt +0.26 [...])'."""
    parts = []
    for kind in _kinds(rows):
        mine = [r for r in rows if r.kind == kind]
        detail = "; ".join(f"{verdict}: " + ", ".join(_row_brief(r) for r in mine if r.verdict == verdict)
                           for verdict in VERDICTS[:2] if any(r.verdict == verdict for r in mine))
        parts.append(f"{KIND_TEXT.get(kind, kind)} ({len(mine)}): {_verdict_counts(mine)}"
                     + (f" ({detail})" if detail else ""))
    k, n = v.paper_count(test)
    what = "non-inferiority" if test.name == NON_INFERIORITY else "superiority"
    return f"{what.capitalize()} (the paper: {test.paper_says}; its own table gives {k} of {n}): " + "; ".join(parts)


def _signature(v: Verdict) -> tuple[list[str], list[str], list[str]]:
    """(datasets where both halves hold, where one holds, where a half is contradicted)."""
    both, one, against = [], [], []
    by_dataset: dict[str, dict[str, Row]] = {}
    for r in v.rows:
        if r.comparison != "metric":
            by_dataset.setdefault(r.dataset, {})[r.comparison] = r
    for dataset, rows in by_dataset.items():
        verdicts = [rows[c].verdict for c in ("train_loss", "valid_loss") if c in rows]
        if verdicts.count("supported") == 2:
            both.append(dataset)
        elif "supported" in verdicts:
            one.append(dataset)
        if "contradicted" in verdicts:
            against.append(dataset)
    return both, one, against


def _aggregate_sentence(v: Verdict) -> str:
    if not any(a.estimate is not None for a in v.aggregates):
        return ""
    parts = [f"{KIND_TEXT.get(a.kind, a.kind)} {aggregate_text(a)} ({a.verdict})" for a in v.aggregates
             if a.estimate is not None]
    return f"Aggregate, P({v.claim.improvement_text}; 0.5 is no difference): " + "; ".join(parts) + "."


def claim_bullet(v: Verdict) -> str:
    c = v.claim
    metric_rows = [r for r in v.rows if r.comparison == "metric"]
    if not metric_rows:
        return f"- **Claim {c.number}** ({c.title}): not enough data."
    sentences = [_test_sentence(v, t, [r for r in metric_rows if r.test == t.name]) + "." for t in c.tests]
    agg = _aggregate_sentence(v)
    if agg:
        sentences.append(agg)
    if c.signature:
        both, one, against = _signature(v)
        n = len({r.dataset for r in v.rows if r.comparison != "metric"})
        text = (f"Over-fitting signature ({SHORT[c.variant]}: higher final train loss and lower best valid loss "
                f"than LN): both halves hold on {len(both)} of {n}" + (f" ({_names(both)})" if both else ""))
        if one:
            text += f", one half on {len(one)} ({_names(one)})"
        if against:
            text += f", a half is contradicted on {len(against)} ({_names(against)})"
        sentences.append(text + ".")
    return f"- **Claim {c.number}** ({c.title}). " + " ".join(sentences)


def _variant_labels(data: dict[str, DatasetCells]) -> list[str]:
    labels: list[str] = []
    for ds in data.values():
        labels += [label for label in ds.cells if label not in labels and " " not in label]
    order = list(VARIANT_NAMES)
    return sorted(labels, key=lambda lab: (order.index(lab) if lab in order else len(order), lab))


def metric_table(data: dict[str, DatasetCells], paper: dict) -> list[str]:
    labels = _variant_labels(data)
    lines = ["| test metric: mean ± 95% t half-width over seeds [the paper's] | "
             + " | ".join(VARIANT_NAMES.get(lab, lab) for lab in labels) + " |",
             "|:---|" + "---:|" * len(labels)]
    for name, ds in data.items():
        seeds = sorted({c.n for c in ds.cells.values() if c.n})
        head = (f"{name} ({METRIC_NAMES.get(ds.metric, ds.metric)} {'↑' if ds.higher_is_better else '↓'}, "
                f"{'/'.join(map(str, seeds)) or 0} seed{'s' * (seeds != [1])})")
        cells = []
        for label in labels:
            cell = ds.cells.get(label)
            if cell is None or not cell.has_data:
                text = "–"
            elif cell.diverged:
                text = "Diverge"
            else:
                text = fmt_number(cell.mean, ds.metric)
                if cell.ci is not None:
                    text += f" ± {fmt_number((cell.ci[1] - cell.ci[0]) / 2, ds.metric)}"
                if cell.n_diverged:
                    text += f" (†{cell.n_diverged} diverged)"
            theirs = paper_value(paper, label, name)
            cells.append(text + (f" [{theirs}]" if theirs is not None else ""))
        lines.append(f"| {head} | " + " | ".join(cells) + " |")
    return lines


def comparability(data: dict[str, DatasetCells]) -> str:
    comparable = [n for n, ds in data.items() if ds.comparable == "comparable"]
    others = [n for n in data if n not in comparable]
    if not others:
        return "Every dataset ran the paper's data with no declared deviation: the numbers are comparable."
    by_kind: dict[str, list[str]] = {}
    for n in others:
        by_kind.setdefault(data[n].kind, []).append(f"{n} ({len(data[n].deviations)} deviations)")
    text = ("**Comparable to the paper's numbers: " + (_names(comparable) if comparable else "none") + ".** "
            + "Not comparable: " + "; ".join(f"{KIND_TEXT.get(k, k)}: {_names(v)}" for k, v in by_kind.items())
            + ". Every deviation is listed in findings.md and under the report's tables.")
    return text


def far_from_paper(data: dict[str, DatasetCells], paper: dict) -> list[str]:
    """Datasets whose LayerNorm score is FAR from the paper's: their verdicts describe another regime."""
    out = []
    for name, ds in data.items():
        cell, theirs = ds.cells.get("layernorm"), paper_value(paper, "layernorm", name)
        if cell is None or cell.mean is None or theirs in (None, "Diverge"):
            continue
        ours, ref = cell.mean, float(theirs)
        ratio = ref / ours if ds.higher_is_better else ours / ref
        if ours <= 0 or ratio > FAR:
            out.append(f"{name}: LayerNorm scores {fmt_number(ours, ds.metric)} {METRIC_NAMES.get(ds.metric, ds.metric)} "
                       f"where the paper has {theirs}")
    return out


def probe_summary(data: dict[str, DatasetCells]) -> list[dict]:
    """Per dataset and variant with probe.json files: the mean |row mean| of the gradient arriving at the
    norms (∂ℓ/∂y) and leaving them (∂ℓ/∂x), the median over seeds, positions and steps."""
    from normlab.report.figures import load_probe

    out = []
    for name, ds in data.items():
        for label, jobs in ds.jobs.items():
            vals = {"in": [], "out": []}
            for job in jobs:
                for point in load_probe(job) or []:
                    for pos in point["positions"].values():
                        for side in vals:
                            x = pos.get(f"{side}_abs_mean") if isinstance(pos, dict) else None
                            if x is not None and math.isfinite(float(x)):
                                vals[side].append(float(x))
            if vals["in"] and vals["out"]:
                arrive, leave = float(np.median(vals["in"])), float(np.median(vals["out"]))
                out.append({"dataset": name, "variant": label, "in": arrive, "out": leave,
                            "zero_mean": leave < ZERO_MEAN * arrive})
    return out


def probe_sentence(probes: list[dict]) -> str:
    if not probes:
        return ""
    parts = []
    for dataset in dict.fromkeys(p["dataset"] for p in probes):
        mine = [p for p in probes if p["dataset"] == dataset]
        zero = [p for p in mine if p["zero_mean"]]
        other = [p for p in mine if not p["zero_mean"]]
        text = f"on {dataset}, the gradient leaving the norm has mean zero over the hidden dim (median |row mean| "
        text += ", ".join(f"{VARIANT_NAMES.get(p['variant'], p['variant'])} {p['out']:.1e}" for p in zero) or "none"
        text += ")"
        if other:
            text += "; not under " + ", ".join(f"{VARIANT_NAMES.get(p['variant'], p['variant'])} ({p['out']:.1e}, "
                                              f"arriving {p['in']:.1e})" for p in other)
        parts.append(text)
    return ("- **The mechanism** (the gradient probe: the paper's theorem that normalization's backward pass "
            "centres the gradient): " + "; ".join(parts) + ".")


def _status(jobs, data: dict[str, DatasetCells], dirs: Sequence[Path]) -> str:
    counts = {s: sum(j.status == s for j in jobs) for s in ("done", "diverged", "failed")}
    per = []
    for name, ds in data.items():
        seeds = sorted({c.n_runs for c in ds.cells.values() if c.n_runs})
        per.append(f"{name} ({KIND_TEXT.get(ds.kind, ds.kind)}, {'/'.join(map(str, seeds))} "
                   f"seed{'s' * (seeds != [1])})")
    return (f"**{len(jobs)} jobs** ({counts['done']} done, {counts['diverged']} diverged, {counts['failed']} failed) "
            f"over {len(data)} datasets: {_names(per)}. Generated by `normlab-report` from "
            + ", ".join(f"`{shown_path(d)}`" for d in dirs) + ".")


def shown_path(path) -> str:
    """A folder as the reader can follow it: relative to the current folder when inside it (so a committed
    report names no machine's absolute path), else as given."""
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix() if p.is_absolute() else p.as_posix()
    except ValueError:
        return p.as_posix()


def power_caveat(verdicts: list[Verdict]) -> str:
    rows = [r for v in verdicts for r in v.rows if r.comparison == "metric" and r.test == SUPERIORITY]
    known = [r for r in rows if r.paper_estimate not in (None, 0)]
    more = [r for r in known if r.seeds_needed is not None and r.seeds_needed > r.n_seeds]
    unreachable = [r for r in known if r.seeds_needed is None]
    hundreds = [r for r in more if r.seeds_needed >= 100]
    if not known:
        return ""
    return (f"Power: of the {len(known)} metric rows where the paper has a difference, {len(more)} would need more "
            f"seeds than we ran to detect a difference of the paper's size at the spread we see "
            f"({len(hundreds)} of them 100 or more), and {len(unreachable)} more than 10,000 (`seeds_needed` in "
            "verdicts.json).")


def hashed_bleu(data: dict[str, DatasetCells]) -> list[str]:
    """BLEU datasets whose results predate the exact n-gram count: their headline BLEU is fairseq's hashed
    counter's and their outcomes its per-sentence recount, which differ from each other by up to the
    amount given (and from the exact count by as much)."""
    from normlab.outcomes import OutcomesError, load_outcomes, metric_from_stats

    out = []
    for name, ds in data.items():
        jobs = [j for js in ds.jobs.values() for j in js if j.status == "done" and j.value is not None]
        old = [j for j in jobs if ds.metric == "bleu" and "bleu_fairseq" not in j.scores]
        if not old:
            continue
        gaps = []
        for job in old:
            try:
                loaded = load_outcomes(job.job_dir)
            except OutcomesError:
                loaded = None
            if loaded is not None and loaded[0] == "bleu":
                gaps.append(abs(metric_from_stats("bleu", loaded[1]) - job.value))
        gap = f", up to {max(gaps):.4f} BLEU apart" if gaps else ""
        out.append(f"{name} ({len(old)} of {len(jobs)} jobs{gap})")
    return out


def caveats(data, paper, verdicts) -> list[str]:
    out = []
    kinds = list(dict.fromkeys(ds.kind for ds in data.values()))
    if len(kinds) > 1:
        out.append("Counts and aggregates are made within one kind of data, never across: "
                   + "; ".join(f"{KIND_TEXT.get(k, k)}: {_names([n for n, d in data.items() if d.kind == k])}"
                               for k in kinds) + ".")
    if "generated" in kinds:
        out.append("Generated stand-ins check the pipeline: their verdicts say nothing about the paper.")
    far = far_from_paper(data, paper)
    if far:
        out.append(f"Far from the paper's regime (our LayerNorm more than {FAR:g}× from the paper's score, so the "
                   "verdicts there describe early or small-scale training): " + "; ".join(far) + ".")
    hashed = hashed_bleu(data)
    if hashed:
        out.append("BLEU from before the exact n-gram count: the headline is fairseq's hashed counter's and the "
                   "per-example outcomes behind the bootstrap are its per-sentence recount, which disagree where "
                   "hashed n-grams collide: " + "; ".join(hashed) + ". New jobs report the exact count "
                   "(multi-bleu.perl's) and keep fairseq's as `bleu_fairseq`.")
    power = power_caveat(verdicts)
    if power:
        out.append(power)
    out.append("The aggregate resamples seeds only; the per-dataset intervals also count the test examples "
               "where per-example outcomes exist.")
    return out


def beyond_table(rows) -> str:
    """Every beyond-the-paper row: variant against baseline, per dataset and comparison."""
    from normlab.report.beyond import WHAT

    lines = ["Every norm that is not one of the paper's variants, against LN and LN-simple: the same paired "
             "statistics as the claims; positive = the norm scores better, has the higher final train loss, or "
             "the lower best valid loss (the over-fitting signature of gain and bias).", "",
             "| variant | against | dataset | kind | comparison | estimate [95% interval] | verdict | equivalent |",
             "|:---|:---|:---|:---|:---|:---|:---|:---|"]
    for r in rows:
        what = WHAT[r.comparison].format(x=r.variant, b=r.baseline)
        eq = f"{'yes' if r.equivalent else 'no'} (±{r.margin:g})" if r.margin is not None else "–"
        lines.append(f"| {r.variant} | {r.baseline} | {r.dataset} | {r.kind} | {what} | {interval_text(r)} | "
                     f"{r.verdict} | {eq} |")
    return "\n".join(lines) + "\n"


def beyond_bullets(rows) -> list[str]:
    """One line per non-paper norm: its metric verdicts against LN and LN-simple, per kind, and where it shows
    the over-fitting signature against LN."""
    from normlab.report.beyond import BASELINES

    out = []
    for variant in dict.fromkeys(r.variant for r in rows):
        parts = []
        for baseline, short in BASELINES:
            mine = [r for r in rows if r.variant == variant and r.baseline == baseline and r.comparison == "metric"]
            if not mine:
                continue
            per_kind = []
            for kind in _kinds(mine):
                k = [r for r in mine if r.kind == kind]
                counts = {v: sum(r.verdict == v for r in k) for v in ("better", "worse", "inconclusive")}
                detail = "; ".join(f"{v}: " + ", ".join(_row_brief(r) for r in k if r.verdict == v)
                                   for v in ("better", "worse") if counts[v])
                per_kind.append(f"{KIND_TEXT.get(kind, kind)} ({len(k)}): "
                                + ", ".join(f"{v} on {n}" for v, n in counts.items() if n)
                                + (f" ({detail})" if detail else ""))
            parts.append(f"Test metric against {short}: " + "; ".join(per_kind))
        signature = _beyond_signature(rows, variant)
        out.append(f"- **{VARIANT_NAMES.get(variant, variant)}** (beyond the paper). " + ". ".join(parts)
                   + (f". Over-fitting signature against LN (higher train loss and lower valid loss) on "
                      f"{len(signature)}: {_names(signature)}" if signature else "") + ".")
    return out


def _beyond_signature(rows, variant: str) -> list[str]:
    both = {}
    for r in rows:
        if r.variant == variant and r.baseline == "layernorm" and r.comparison != "metric":
            both.setdefault(r.dataset, []).append(r.verdict == ("higher" if r.comparison == "train_loss" else "lower"))
    return [d for d, ok in both.items() if len(ok) == 2 and all(ok)]


def summary_md(jobs, data, paper, verdicts, dirs, beyond=()) -> str:
    lines = [_status(jobs, data, dirs), "", *metric_table(data, paper), "", comparability(data), ""]
    lines += [claim_bullet(v) for v in verdicts]
    lines += beyond_bullets(beyond)
    probe = probe_sentence(probe_summary(data))
    if probe:
        lines.append(probe)
    lines += ["", "Caveats: " + " ".join(caveats(data, paper, verdicts))]
    return "\n".join(lines) + "\n"


def findings_md(jobs, data, paper, verdicts, dirs, beyond=()) -> str:
    lines = ["# Findings", "", "Generated by `normlab-report` from the results it read; do not edit by hand "
             "(docs/statistics.md says how each number is made).", "", _status(jobs, data, dirs), "",
             *metric_table(data, paper), "", comparability(data), ""]
    for v in verdicts:
        c = v.claim
        lines += [f"## Claim {c.number}: {c.title}", "", f"Contrast per seed: {c.contrast}, oriented so that "
                  "positive is the paper's direction.", ""]
        metric_rows = [r for r in v.rows if r.comparison == "metric"]
        if not metric_rows:
            lines += ["Not enough data: " + ("; ".join(v.missing) or "no dataset has every variant it needs") + ".",
                      ""]
            continue
        for t in c.tests:
            rows = [r for r in metric_rows if r.test == t.name]
            lines += [f"- {_test_sentence(v, t, rows)}."]
        agg = _aggregate_sentence(v)
        if agg:
            lines += [f"- {agg}"]
        lines += ["", "| dataset | kind | test | estimate [95% interval] | verdict | the paper's own |",
                  "|:---|:---|:---|:---|:---|:---|"]
        for r in metric_rows:
            test = "non-inferiority (> −" + f"{r.margin:g})" if r.test == NON_INFERIORITY else "superiority (> 0)"
            theirs = "–" if r.paper_estimate is None else signed(r.paper_estimate, r.metric)
            lines.append(f"| {r.dataset} | {r.kind} | {test} | {interval_text(r)} | {r.verdict} | {theirs} |")
        if c.signature:
            lines += ["", f"Over-fitting signature ({SHORT[c.variant]} against LN; the paper: higher final train loss, "
                      "lower best valid loss):", "", "| dataset | final train loss, oriented | verdict | "
                      "best valid loss, oriented | verdict |", "|:---|:---|:---|:---|:---|"]
            by = {}
            for r in v.rows:
                if r.comparison != "metric":
                    by.setdefault(r.dataset, {})[r.comparison] = r
            for dataset, rows in by.items():
                cells = [(interval_text(rows[k]), rows[k].verdict) if k in rows else ("–", "–")
                         for k in ("train_loss", "valid_loss")]
                lines.append(f"| {dataset} | {cells[0][0]} | {cells[0][1]} | {cells[1][0]} | {cells[1][1]} |")
            both, one, against = _signature(v)
            lines += ["", f"Both halves hold on {len(both)}" + (f" ({_names(both)})" if both else "")
                      + (f"; one half on {len(one)} ({_names(one)})" if one else "")
                      + (f"; a half is contradicted on {len(against)} ({_names(against)})" if against else "") + "."]
        if v.missing:
            lines += ["", *[f"- {m}" for m in v.missing]]
        lines.append("")
    if beyond:
        lines += ["## Beyond the paper", "", *beyond_bullets(beyond), "", beyond_table(beyond)]
    probes = probe_summary(data)
    if probes:
        lines += ["## The gradient probe", "", "Median over seeds, norm positions and probe steps of the mean "
                  "|row mean| (over the hidden dim) of the gradient arriving at the norm (∂ℓ/∂y) and leaving it "
                  f"(∂ℓ/∂x); 'zero mean': leaving below {ZERO_MEAN:g} of arriving.", "",
                  "| dataset | variant | ∂ℓ/∂y arriving | ∂ℓ/∂x leaving | zero mean |", "|:---|:---|---:|---:|:---|"]
        lines += [f"| {p['dataset']} | {p['variant']} | {p['in']:.2e} | {p['out']:.2e} | "
                  f"{'yes' if p['zero_mean'] else 'no'} |" for p in probes]
        lines.append("")
    lines += ["## Caveats", "", *[f"- {c}" for c in caveats(data, paper, verdicts)], "",
              "### Deviations from the paper's setup, per dataset", ""]
    for name, ds in data.items():
        lines += [f"**{name}** ({KIND_TEXT.get(ds.kind, ds.kind)}):", ""]
        lines += [f"- {d}" for d in ds.deviations] or ["- none declared"]
        lines.append("")
    return "\n".join(lines)


def splice_readme(readme: Path, summary: str) -> bool:
    """Put `summary` between the README's findings markers; True when the file changed. A README without
    both markers is an error: the block is never created or moved silently."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {BEGIN} … {END} block: add the two lines where the findings go")
    new = pattern.sub(lambda _: f"{BEGIN}\n{summary}{END}", text, count=1)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def readme_block(readme: Path) -> str | None:
    """The text between the README's findings markers, or None without them."""
    m = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), readme.read_text(encoding="utf-8"), re.S)
    return m.group(1) if m else None
