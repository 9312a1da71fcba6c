"""Collects the per-epoch train and valid losses that fairseq logs, while it trains.

fairseq has no training callbacks, but every epoch summary goes through the progress bar's logger
with the tag ("train", "valid") as the logger name; a logging.Handler there is a public hook.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

PROGRESS_LOGGER = "fairseq.logging.progress_bar"


def parse_stats(message: str) -> dict[str, float]:
    """'epoch 001 | valid on 'valid' subset | loss 4.9 | num_updates 6' -> {'epoch': 1, 'loss': 4.9, ...}"""
    stats = {}
    for part in message.split(" | "):
        key, _, value = part.strip().partition(" ")
        try:
            stats[key] = float(value)
        except ValueError:
            continue
    return stats


class EpochHistory(logging.Handler):
    """One row per epoch: {epoch, num_updates, train_loss, valid_loss}; `on_row` sees each row when complete."""

    def __init__(self, rows: list[dict] | None = None, on_row: Callable[[dict], None] | None = None):
        super().__init__(level=logging.INFO)
        self.rows = list(rows or [])
        self.on_row = on_row
        self.nonfinite = False

    def emit(self, record: logging.LogRecord) -> None:
        tag = record.name
        if tag not in ("train", "valid"):
            return
        stats = parse_stats(record.getMessage())
        if "loss" not in stats:
            return
        if not math.isfinite(stats["loss"]):
            self.nonfinite = True
        epoch = int(stats.get("epoch", self.rows[-1]["epoch"] if self.rows else 1))
        # fairseq validates at the end of an epoch before it prints the epoch's train summary,
        # so a row is complete when the train line arrives. A resumed epoch replaces its old row.
        row = next((r for r in self.rows if r["epoch"] == epoch), None)
        if row is None or (tag == "valid" and row["train_loss"] is not None):
            self.rows = [r for r in self.rows if r["epoch"] < epoch]
            row = {"epoch": epoch, "num_updates": None, "train_loss": None, "valid_loss": None}
            self.rows.append(row)
        if tag == "valid":
            row["valid_loss"] = stats["loss"]
        else:
            row["train_loss"] = stats["loss"]
            row["num_updates"] = int(stats.get("num_updates", 0))
            if self.on_row:
                self.on_row(dict(row))

    def __enter__(self):
        logger = logging.getLogger(PROGRESS_LOGGER)
        # fairseq relies on logging.basicConfig(level=INFO), which does nothing when the host
        # (pytest, a notebook) configured logging first; the epoch summaries are INFO records.
        self._saved_level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger(PROGRESS_LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._saved_level)
