"""Durations as the configuration writes them: `30s`, `15m`, `6h`, `1d`, or combined: `1m30s`."""

from __future__ import annotations

import re

UNITS: dict[str, int] = {"d": 86400, "h": 3600, "m": 60, "s": 1}

# Units in descending order, each at most once: `1h30m` yes, `30m1h` and `1h1h` no.
_PATTERN = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> int:
    """Seconds in `text`; ValueError with a message fit for the operator when it is no duration."""
    match = _PATTERN.fullmatch(text)
    if not text or match is None:
        raise ValueError(
            f"{text!r} is not a duration (write e.g. '30s', '15m', '6h', '1d' or '1m30s')"
        )
    return sum(
        int(n) * seconds for n, seconds in zip(match.groups(), UNITS.values(), strict=True) if n
    )


def format_duration(seconds: float) -> str:
    """The shortest string `parse_duration` reads back as `seconds` (rounded to whole seconds)."""
    rest = round(seconds)
    if rest <= 0:
        return "0s"
    parts = []
    for unit, size in UNITS.items():
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
