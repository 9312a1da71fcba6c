"""Progress bars on a terminal only (tqdm, on stderr); everywhere else nothing, so files and CI logs
stay as they are.

`NORMLAB_PROGRESS=off` turns the bars off on a terminal too; `on` forces them (for a terminal that
does not report itself as one).
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def on_terminal() -> bool:
    setting = os.environ.get("NORMLAB_PROGRESS", "auto").lower()
    if setting in ("off", "0", "false", "no"):
        return False
    if setting in ("on", "1", "true", "yes"):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class NullBar:
    """What `bar` returns off a terminal: accepts the calls a tqdm bar does and shows nothing."""

    n = 0
    total = None

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def set_description_str(self, desc: str = "", refresh: bool = True) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bar(total: float | None = None, desc: str = "", unit: str = "it", unit_scale: bool = False,
        leave: bool = True, enabled: bool | None = None, **kwargs):
    """A tqdm bar on stderr when it is a terminal (or `enabled`), else a NullBar."""
    if not (on_terminal() if enabled is None else enabled):
        return NullBar()
    from tqdm import tqdm

    try:
        width = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        width = 0
    # a terminal that reports no width (a fresh pseudo-terminal) would get an empty bar: assume 100 columns
    size = {"dynamic_ncols": True} if width else {"ncols": int(os.environ.get("COLUMNS") or 100)}
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=leave, file=sys.stderr,
                mininterval=0.5, **size, **kwargs)


def track(iterable: Iterable[T], desc: str, unit: str = "sent", total: int | None = None) -> Iterator[T]:
    """`iterable` unchanged, counted on a terminal ("tokenizing de: 120,000 sent [00:12, 9.8k sent/s]")."""
    if not on_terminal():
        yield from iterable
        return
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with bar(total=total, desc=desc, unit=unit, unit_scale=True) as progress:
        for item in iterable:
            yield item
            progress.update(1)
