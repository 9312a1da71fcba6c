"""The one error for an absent input: a single line naming the file and what provides it."""

from __future__ import annotations

from pathlib import Path


class MissingInputError(RuntimeError):
    """Raised before anything runs, so that a rerun once the input exists is not taken for a failed job."""


def missing_input(path: Path | str, remedy: str) -> MissingInputError:
    return MissingInputError(f"missing {path}: {remedy}".replace("\n", " "))


def require_file(path: Path, remedy: str) -> Path:
    if not Path(path).is_file():
        raise missing_input(path, remedy)
    return Path(path)
