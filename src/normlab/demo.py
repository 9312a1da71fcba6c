"""`make demo`: the paper's norms on a tiny translation model and generated data, then a table.

Runs `normlab-train -m experiment=demo norm=...` (no download, no account: W&B stays offline)
and prints each norm's final train loss, best valid loss and BLEU from the jobs' result.json.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from normlab.compose import compose
from normlab.runner.identity import job_dir
from normlab.runner.result import read_result

PAPER_NORMS = ("none", "layernorm", "layernorm_simple", "detachnorm", "adanorm")


def table(rows: list[dict]) -> str:
    def fmt(x, spec=".3f"):
        return "–" if x is None else format(x, spec)

    lines = ["| norm | status | final train loss | best valid loss | BLEU | sacreBLEU |", "|---|---|---|---|---|---|"]
    for r in rows:
        m = r.get("metrics") or {}
        lines.append(f"| {r['norm']} | {r['status']} | {fmt(r.get('train_loss'))} | {fmt(r.get('valid_loss'))} "
                     f"| {fmt(m.get('bleu'), '.2f')} | {fmt(m.get('sacrebleu'), '.2f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    started = time.time()
    cmd = [str(Path(sys.executable).with_name("normlab-train")), "-m", "experiment=demo",
           "norm=" + ",".join(PAPER_NORMS), *extra]
    print("running: normlab-train " + " ".join(cmd[1:]), flush=True)
    code = subprocess.call(cmd)
    rows = []
    for norm in PAPER_NORMS:
        cfg = compose(["experiment=demo", f"norm={norm}", *extra])
        result = read_result(job_dir(cfg, Path(cfg["paths"]["output"])))
        rows.append(result or {"norm": norm, "status": "missing"})
    print()
    print(f"Tiny Transformer on generated translation data ({time.time() - started:.0f} s):")
    print(table(rows))
    print(f"\nJobs (result.json, history, checkpoints, offline W&B runs) are under {Path(cfg['paths']['output']) / 'jobs'}")
    return code or int(any(r["status"] in ("failed", "missing") for r in rows))


if __name__ == "__main__":
    sys.exit(main())
