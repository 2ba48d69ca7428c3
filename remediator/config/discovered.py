"""The account's clusters as a ready-to-paste `targets:` list (what `remediator discover` prints).

Pure: listed clusters and the configured targets in, YAML text out. Each cluster gets a valid,
unique target name made from its `serviceGroupName`, its number and region, `cluster_health`, and
a commented `health:` block to complete (the listing does not say which manager tool a cluster
runs, nor where: a guessed URL would be probed, fail, and trip a restart). A cluster that is not
`running` is marked; one the configuration already has (by cluster number) is only mentioned in
a comment, so that pasting the list never duplicates it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from remediator.config.model import NAME_PATTERN
from remediator.ncp.results import ClusterSummary

CLUSTER_HEALTH_INTERVAL = "60s"
_INVALID_RUN = re.compile(r"[^a-z0-9_.-]+")
# What YAML may hold unescaped in a comment: its printable set, less its extra line breaks.
_YAML_PRINTABLE = re.compile(
    "[\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_NOT_RUNNING = {
    "creating": "being created",
    "changing": "changing (a restart or a change in progress)",
    "error": "in error",
    "deleting": "being deleted",
    "return": "being returned",
}


@dataclass(frozen=True)
class Found:
    """A cluster the listing showed, and the region it was listed in."""

    region: str
    cluster: ClusterSummary


@dataclass(frozen=True)
class Entry:
    """One listed cluster as a target; `configured_as` names the target that already has it."""

    name: str
    cluster_no: str
    region: str
    listed_name: str | None
    status: str | None
    configured_as: str | None = None

    @property
    def running(self) -> bool:
        """Whether the listing says the cluster is running."""
        return self.status == "running"


def target_name(listed: str | None, cluster_no: str) -> str:
    """A valid target name from a `serviceGroupName`: lowercase ASCII, digits, '.', '_', '-'."""
    ascii_text = unicodedata.normalize("NFKD", listed or "").encode("ascii", "ignore").decode()
    name = _INVALID_RUN.sub("-", ascii_text.lower()).strip("_.-")
    name = name if NAME_PATTERN.fullmatch(name) else ""
    return name or f"cluster-{cluster_no}"


def entries(found: Sequence[Found], configured: Mapping[str, str]) -> tuple[Entry, ...]:
    """Every listed cluster once (first listing wins), named uniquely, configured ones marked.

    `configured` maps each configured cluster number to its target name; those names are taken.
    A name already taken gets the cluster's number appended.
    """
    taken = set(configured.values())
    seen: set[str] = set()
    out: list[Entry] = []
    for item in found:
        c = item.cluster
        if c.cluster_no in seen:
            continue
        seen.add(c.cluster_no)
        existing = configured.get(c.cluster_no)
        if existing is not None:
            name = existing
        else:
            name = _unique(target_name(c.name, c.cluster_no), c.cluster_no, taken)
            taken.add(name)
        out.append(Entry(name, c.cluster_no, item.region, c.name, c.status, existing))
    return tuple(out)


def render(listed: Sequence[Entry], *, config: str, site: str, regions: Sequence[str]) -> str:
    """The YAML text: a header saying what to do, then `targets:` with one item per entry."""
    new = [e for e in listed if e.configured_as is None]
    known = [e for e in listed if e.configured_as is not None]
    stopped = [e for e in new if not e.running]
    where = f"site {site}, region{'s' if len(regions) > 1 else ''} {', '.join(regions)}"
    path = _printable(config)
    lines = [
        f"# The clusters getClusterInfoList lists for this key ({where}): {len(listed)}",
        f"# - {len(new)} to add below, {len(stopped)} of them not running (marked NOT RUNNING)",
        f"# - {len(known)} already in {path} (mentioned in comments only)",
    ]
    if new:
        lines += [
            "# Paste the items under `targets:` in that file. In each, complete the `health:`",
            "# block (the cluster's manager tool: CMAK on older clusters, Kafka-UI on newer ones,",
            "# and its base URL) and uncomment it. Then run:",
            f"#   remediator check -c {path}",
        ]
    lines.append("targets:" if new else "targets: []")
    for e in listed:
        lines += _known(e) if e.configured_as is not None else _item(e)
    return "\n".join(lines) + "\n"


def _item(e: Entry) -> list[str]:
    lines = [] if e.running else [f"  # NOT RUNNING: status {_status(e.status)}"]
    name = f"  - name: {_scalar(e.name)}"
    if e.listed_name != e.name:
        listed = "none" if e.listed_name is None else _quoted(e.listed_name)
        name = f"{name:<33} # serviceGroupName {listed}"
    return [
        *lines,
        name,
        f'    cluster_no: "{e.cluster_no}"',
        f"    region: {_scalar(e.region)}",
        f"    cluster_health: {{interval: {CLUSTER_HEALTH_INTERVAL}}}"
        "   # a signed, read-only getClusterStatus",
        "    # health:                      # to complete, then uncomment these three lines:",
        "    #   kind: cmak                 # cmak (CMAK) or kafka_ui (Kafka-UI)",
        "    #   url: http://MANAGER-HOST:9000   # the tool's base URL (CMAK 9000, Kafka-UI 8080)",
    ]


def _known(e: Entry) -> list[str]:
    listed = "none" if e.listed_name is None else _quoted(e.listed_name)
    return [
        f"  # already configured as target {_quoted(e.configured_as or '')}: cluster_no "
        f'"{e.cluster_no}", serviceGroupName {listed}, {_printable(e.region)}, '
        f"status {_status(e.status)}"
    ]


def _unique(name: str, cluster_no: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    candidate, n = f"{name}-{cluster_no}", 2
    while candidate in taken:
        candidate, n = f"{name}-{cluster_no}-{n}", n + 1
    return candidate


def _status(status: str | None) -> str:
    if status is None:
        return "unknown"
    meaning = _NOT_RUNNING.get(status)
    return _quoted(status) + (f" ({meaning})" if meaning else "")


def _scalar(text: str) -> str:
    """`text` as a YAML scalar that reads back as that string (quoted if it would not)."""
    try:
        plain = yaml.safe_load(text) == text and "#" not in text and ":" not in text
    except yaml.YAMLError:
        plain = False
    return text if plain else _quoted(text)


def _quoted(text: str) -> str:
    """`text` quoted, on one line and printable in YAML (a JSON string is a YAML one too)."""
    return _printable(json.dumps(text, ensure_ascii=False))


def _printable(text: str) -> str:
    """`text` with what YAML may not hold, or would read as a line break, escaped as `\\uXXXX`."""
    return "".join(ch if _YAML_PRINTABLE.match(ch) else f"\\u{ord(ch):04x}" for ch in text)
