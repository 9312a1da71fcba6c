"""Copy a grid's finished datasets into the repository: every job's result.json, outcomes.npz and probe.json
(numbers only: no checkpoint, no data), then rebuild the report over what was copied.

    python scripts/collect_grid.py $NORMLAB_OUTPUT/offline_grid results/offline_grid

A dataset is copied only once every job the sweep planned for it has a result (done or diverged), so a
committed dataset is always whole; the others are listed with how many jobs are still missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

KEEP = ("result.json", "outcomes.npz", "probe.json")


def main(source: str, target: str) -> int:
    source_dir, target_dir = Path(source), Path(target)
    jobs = defaultdict(list)
    for result in sorted(source_dir.glob("*/*/*/result.json")):
        try:
            data = json.loads(result.read_text())
        except ValueError:
            continue
        jobs[data["dataset"]].append((result.parent, data))
    # jobs per dataset in experiment=offline_grid (5 variants x 5 seeds) and offline_grid_seq (x 3 seeds)
    expected = {"rt": 25, "sst5": 25, "mnist_sample": 25, "ptb_sample": 25,
                "iwslt14_de_en_sample": 15, "iwslt15_en_vi_sample": 15, "enwik8_sample": 15}
    copied = []
    for dataset, found in sorted(jobs.items()):
        finished = [(folder, d) for folder, d in found if d.get("status") in ("done", "diverged")]
        need = expected.get(dataset, len(found))
        runs = defaultdict(list)
        for folder, d in finished:
            runs[(d.get("norm"), json.dumps(d.get("norm_options"), sort_keys=True), d.get("seed"))].append(folder)
        stale = [folders for folders in runs.values() if len(folders) > 1]
        if stale:
            # two configs of one (variant, seed): a pilot or an edited recipe left behind; the report would
            # average them as if they were seeds of one cell
            print(f"{dataset}: not copied: one variant and seed ran with different configs, move the stale "
                  f"one(s) out of {source_dir}: " + "; ".join(" vs ".join(map(str, f)) for f in stale))
            continue
        if len(finished) < need:
            print(f"{dataset}: {len(finished)} of {need} jobs finished; not copied yet")
            continue
        for folder, _ in finished:
            dest = target_dir / "jobs" / folder.relative_to(source_dir)
            dest.mkdir(parents=True, exist_ok=True)
            for name in KEEP:
                if (folder / name).exists():
                    shutil.copy2(folder / name, dest / name)
        copied.append(dataset)
        print(f"{dataset}: {len(finished)} jobs copied to {target_dir / 'jobs' / dataset}")
    if copied:
        report = Path(sys.executable).with_name("normlab-report")
        return subprocess.call([str(report), str(target_dir / "jobs"), "--out", str(target_dir)])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
