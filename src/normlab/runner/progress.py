"""A single job's progress on a terminal: updates done of the total, the current loss and an ETA.

Fed by the history hook (fairseq's train_inner and epoch records); off a terminal it shows nothing.
The total is trainer.max_update, or max_epoch times the updates per epoch once fairseq has said how
many batches an epoch holds (whichever is smaller); until then the bar counts without a total.
"""

from __future__ import annotations

from typing import Any, Mapping

from normlab.data.progress import bar


class JobProgress:
    def __init__(self, name: str, trainer: Mapping[str, Any], enabled: bool | None = None):
        self.max_update = int(trainer.get("max_update") or 0)
        self.max_epoch = int(trainer.get("max_epoch") or 0)
        self.per_epoch = 0
        self.bar = bar(total=self.max_update or None, desc=name, unit="upd", leave=True, enabled=enabled)

    def _total(self) -> int | None:
        totals = [t for t in (self.max_update, self.max_epoch * self.per_epoch) if t]
        return min(totals) if totals else None

    def _advance(self, num_updates: float | None, loss: float | None, epoch: float | None) -> None:
        total = self._total()
        if total and getattr(self.bar, "total", None) != total:
            self.bar.total = total
        if num_updates is not None and num_updates > self.bar.n:
            self.bar.update(int(num_updates) - self.bar.n)
        parts = []
        if epoch is not None:
            parts.append(f"epoch {int(epoch)}" + (f"/{self.max_epoch}" if self.max_epoch else ""))
        if loss is not None:
            parts.append(f"loss {loss:.3f}")
        self.bar.set_postfix_str(", ".join(parts))

    def on_update(self, stats: Mapping[str, float]) -> None:
        if stats.get("batches"):
            self.per_epoch = int(stats["batches"])
        self._advance(stats.get("num_updates"), stats.get("loss"), stats.get("epoch"))

    def on_epoch(self, row: Mapping[str, Any]) -> None:
        if row.get("epoch") == 1 and row.get("num_updates"):
            self.per_epoch = self.per_epoch or int(row["num_updates"])
        self._advance(row.get("num_updates"), row.get("train_loss"), row.get("epoch"))

    def close(self) -> None:
        self.bar.close()
