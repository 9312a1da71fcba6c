"""normlab-report --wandb: the report as one W&B run of job type `report`, in the project and group of
the jobs it read: every table as a wandb.Table, every figure as an image, verdicts.json as tables.
Offline by default (upload later with `wandb sync`), like the jobs' runs."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping


def _most_common(values: Iterable[Any], default: str) -> str:
    counts = Counter(v for v in values if v)
    return str(counts.most_common(1)[0][0]) if counts else default


def target(configs: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """(project, group) of the jobs: the ones most of them were logged to."""
    configs = list(configs)
    project = _most_common(((c.get("logger") or {}).get("project") for c in configs), "normlab")
    group = _most_common((c.get("group") for c in configs), "default")
    return project, group


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return json.dumps(value, sort_keys=True)


def rows_table(rows: list[Mapping[str, Any]]):
    import wandb

    columns = list(dict.fromkeys(k for r in rows for k in r))
    return wandb.Table(columns=columns, data=[[_cell(r.get(c)) for c in columns] for r in rows])


def csv_table(path: Path):
    import wandb

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return wandb.Table(columns=rows[0], data=rows[1:]) if rows else wandb.Table(columns=["empty"], data=[])


def log_report(out: Path, configs: Iterable[Mapping[str, Any]], mode: str = "offline",
               project: str | None = None, group: str | None = None) -> dict[str, Any]:
    """Log the report written in `out` (tables/*.csv, figures/*.png, verdicts.json) to one run; returns
    {"id", "project", "group", "dir"}."""
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    found_project, found_group = target(configs)
    project, group = project or found_project, group or found_group
    run_id = hashlib.sha1(f"report/{project}/{group}".encode()).hexdigest()[:16]
    run = wandb.init(project=project, group=group, job_type="report", name=f"report/{group}", id=run_id,
                     resume="allow", mode=mode, dir=str(out), tags=[group, "report"],
                     config={"report_dir": str(out)})
    try:
        data: dict[str, Any] = {}
        for path in sorted((out / "tables").glob("*.csv")):
            data[f"tables/{path.stem}"] = csv_table(path)
        for path in sorted((out / "figures").glob("*.png")):
            data[f"figures/{path.stem}"] = wandb.Image(str(path))
        verdicts_file = out / "verdicts.json"
        if verdicts_file.exists():
            doc = json.loads(verdicts_file.read_text(encoding="utf-8"))
            for key in ("rows", "summary", "paper", "missing"):
                if doc.get(key):
                    data[f"verdicts/{key}"] = rows_table(doc[key])
        run.log(data)
        run.summary.update({"report": str(out / "report.md"), "tables": sum(k.startswith("tables/") for k in data),
                            "figures": sum(k.startswith("figures/") for k in data)})
        where = {"id": run_id, "project": project, "group": group, "dir": str(Path(run.dir).parent)}
    finally:
        wandb.finish()
    return where
