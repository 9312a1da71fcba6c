"""Collects the losses and the other stats that fairseq logs, while it trains.

fairseq has no training callbacks, but every record of its progress bar goes through the progress
bar's logger with the tag as the logger name: "train_inner" every `--log-interval` updates
('epoch 001:     10 / 25 loss=4.2, nll_loss=4.1, ..., lr=0.0005, gnorm=1.3, ..., num_updates=10'),
"valid" at each validation and "train" at the end of each epoch ('epoch 001 | loss 4.9 | ...').
A logging.Handler there is a public hook.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Callable

PROGRESS_LOGGER = "fairseq.logging.progress_bar"
_POSITION = re.compile(r"^epoch (\d+):\s+(\d+) / (\d+)")


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


def parse_inner(message: str) -> dict[str, float]:
    """'epoch 001:     10 / 25 loss=4.2, lr=0.0005, num_updates=10' -> {'epoch': 1, 'batch': 10,
    'batches': 25, 'loss': 4.2, 'lr': 0.0005, 'num_updates': 10}"""
    stats: dict[str, float] = {}
    tail = message
    position = _POSITION.match(message)
    if position:
        stats.update(epoch=float(position[1]), batch=float(position[2]), batches=float(position[3]))
        tail = message[position.end():]
    for part in tail.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        try:
            stats[key] = float(value)
        except ValueError:
            continue
    return stats


class EpochHistory(logging.Handler):
    """One row per epoch: {epoch, num_updates, train_loss, valid_loss}; `on_row` sees each row when complete.

    `on_update` sees each "train_inner" record's stats (every log interval), `on_valid` each
    validation's stats (loss, nll_loss, ppl or accuracy, whatever the criterion logs).
    """

    def __init__(self, rows: list[dict] | None = None, on_row: Callable[[dict], None] | None = None,
                 on_update: Callable[[dict], None] | None = None,
                 on_valid: Callable[[dict], None] | None = None):
        super().__init__(level=logging.INFO)
        self.rows = list(rows or [])
        self.on_row = on_row
        self.on_update = on_update
        self.on_valid = on_valid
        self.nonfinite = False

    def emit(self, record: logging.LogRecord) -> None:
        tag = record.name
        if tag == "train_inner":
            stats = parse_inner(record.getMessage())
            if "loss" in stats:
                if not math.isfinite(stats["loss"]):
                    self.nonfinite = True
                if self.on_update:
                    self.on_update(stats)
            return
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
            if self.on_valid:
                self.on_valid(stats)
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
