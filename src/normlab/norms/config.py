"""Option checking shared by every norm: one-line NormConfigError messages."""

from __future__ import annotations

import math


class NormConfigError(ValueError):
    """A bad norm name, option name or option value; the message is one line."""


# AdaNorm needs phi(y) = C * (1 - k*y) > 0 (paper, Sec. 5: k < 1/M with |y| <= M). A
# standardized y has no useful hard bound (Samuelson: |y| <= (N-1)/sqrt(N), which would
# forbid the paper's own k = 0.1 at N = 512), so we bound the probability instead:
# Chebyshev gives P(1 - k*y <= 0) <= P(|y| >= 1/k) <= k^2, and we require k^2 <= 5%,
# i.e. 0 < k <= sqrt(0.05) ~= 0.2236 (accepts 0.05, 0.1, 0.2; rejects 1).
ADANORM_MAX_K_SQUARED = 0.05

STD_CHOICES = ("unbiased", "biased")
EPS_PLACEMENTS = ("std", "variance")


def _fail(norm: str, key: str, rule: str, value) -> None:
    raise NormConfigError(f"{norm} option {key!r} must be {rule}, got {value!r}")


def check_number(norm: str, key: str, value, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(norm, key, "a finite number" + (" > 0" if positive else ""), value)
    if positive and value <= 0:
        _fail(norm, key, "> 0", value)
    return float(value)


def check_choice(norm: str, key: str, value, choices) -> str:
    if value not in choices:
        _fail(norm, key, "one of: " + ", ".join(choices), value)
    return value


def check_dim(norm: str, dim, minimum: int = 1) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < minimum:
        raise NormConfigError(f"{norm} dim must be an int >= {minimum}, got {dim!r}")
    return dim


def check_adanorm_k(k) -> float:
    k = check_number("adanorm", "k", k)
    if k * k > ADANORM_MAX_K_SQUARED:
        _fail("adanorm", "k", f"in (0, {math.sqrt(ADANORM_MAX_K_SQUARED):.4f}] so that C*(1 - k*y) > 0 with "
              f"probability >= {1 - ADANORM_MAX_K_SQUARED:.0%} (Chebyshev: P(|y| >= 1/k) <= k^2)", k)
    return k
