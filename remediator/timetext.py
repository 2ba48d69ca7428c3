"""Time as text, in one place: durations as the configuration writes them (`30s`, `15m`, `6h`,
`1d`, `1m30s`), and instants as RFC 3339 (what logs, status, the API and Alertmanager use)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

UNITS: dict[str, int] = {"d": 86400, "h": 3600, "m": 60, "s": 1}

# Units in descending order, each at most once: `1h30m` yes, `30m1h` and `1h1h` no.
_PATTERN = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> int:
    """Seconds in `text`; ValueError with a message fit for the operator when it is no duration."""
    match = _PATTERN.fullmatch(text) if len(text) <= 32 else None
    if not text or match is None:
        raise ValueError(
            f"{text[:40]!r} is not a duration (write e.g. '30s', '15m', '6h', '1d' or '1m30s')"
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


def iso(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC, to the second."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def rfc3339(at: float) -> str:
    """`at` as an RFC 3339 UTC time (milliseconds when it has a fraction)."""
    try:
        moment = datetime.fromtimestamp(at, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return f"{at!r}"
    text = moment.isoformat(timespec="milliseconds" if at % 1 else "seconds")
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> float | None:
    """Alertmanager's RFC 3339 time (nanoseconds allowed) in epoch seconds, or None."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if "." in value:  # Python takes at most 6 fractional digits
        head, _, rest = value.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return None
        return parsed.timestamp()
    except (ValueError, OverflowError, OSError):  # not a time, or one past year 9999 in UTC
        return None


def parse_since(text: str, now: float) -> float:
    """A starting time as an operator writes it: a duration back from `now` (`24h`), an RFC
    3339 time, or epoch seconds; ValueError saying which forms there are."""
    value = text.strip()
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    when = parse_time(value)
    if when is not None:
        return when
    try:
        return float(value)
    except ValueError:
        raise ValueError(
            f"since {text!r}: give a duration back from now (24h, 7d), an RFC 3339 time "
            "(2026-11-29T00:00:00Z) or epoch seconds"
        ) from None
