"""Beyond the paper: every norm that is not one of the paper's variants (RMSNorm, DyT, ScaleNorm, your own)
against LayerNorm and against LayerNorm-simple, dataset by dataset, with the same paired statistics as the
claims (normlab.report.stats): the test metric (positive: the norm does better), and the over-fitting
signature the paper reads off gain and bias (final train loss: positive = higher; best valid loss:
positive = lower). There is no claim to support here, so a row says better / worse (or higher / lower)
when its interval excludes 0, inconclusive otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from normlab.norms.registry import PAPER_NORMS as _PAPER_NORMS
from normlab.report.stats import DatasetCells, equivalent_of, margin_of, orientation, paired_contrast, verdict_of

# The paper's own variants (Tables 1-4, the registry's `paper`); every other default-option norm is "beyond the paper".
PAPER_NORMS = _PAPER_NORMS
BASELINES = (("layernorm", "LN"), ("layernorm_simple", "LN-simple"))
WORDS = {"metric": ("better", "worse"), "train_loss": ("higher", "lower"), "valid_loss": ("lower", "higher")}
WHAT = {"metric": "test metric, {x} − {b}", "train_loss": "final train loss, {x} − {b}",
        "valid_loss": "best valid loss, {b} − {x}"}


@dataclass
class BeyondRow:
    variant: str
    baseline: str
    dataset: str
    kind: str
    comparison: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n_seeds: int
    verdict: str  # better / worse (metric), higher / lower (losses), or inconclusive
    equivalent: bool
    metric: str = ""
    method: str = ""
    margin: float | None = None
    comparable: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def beyond_variants(data: dict[str, DatasetCells]) -> list[str]:
    """The default-option norms found that are not the paper's, in the order they first appear."""
    found: list[str] = []
    for ds in data.values():
        found += [label for label in ds.cells if " " not in label and label not in PAPER_NORMS and label not in found]
    return found


def beyond_rows(data: dict[str, DatasetCells]) -> list[BeyondRow]:
    rows = []
    for variant in beyond_variants(data):
        for baseline, _ in BASELINES:
            for ds in data.values():
                if not all(ds.cells.get(n) and ds.cells[n].has_data for n in (variant, baseline)):
                    continue
                for comparison in WORDS:
                    c = paired_contrast(ds, {variant: 1.0, baseline: -1.0}, comparison,
                                        orientation(comparison, ds.higher_is_better))
                    if c.estimate is None:
                        continue
                    up, down = WORDS[comparison]
                    verdict = {"supported": up, "contradicted": down}.get(verdict_of(c.ci), "inconclusive")
                    margin = margin_of(comparison, ds.metric)
                    rows.append(BeyondRow(variant, baseline, ds.name, ds.kind, comparison, c.estimate,
                                          c.ci[0] if c.ci else None, c.ci[1] if c.ci else None, c.n_seeds, verdict,
                                          equivalent_of(c.ci, margin), ds.metric, c.method, margin, ds.comparable,
                                          list(c.notes)))
    return rows
