"""The open collections of a YAML event stream: how each takes the nodes it holds (yamlstream.py).

A frame is a mapping, sequence, !!set, !!omap or !!pairs whose start event has come and whose
end has not. The builder hands it each complete node it holds, as `(value, line, child)`: the
value, the line where the node starts, and the node's number in the lines table if it is a
plain mapping or sequence. A frame's `close` gives its own.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from yaml.error import YAMLError

from remediator.config.yamllines import NO_CONTAINER, Lines


class Unstreamable(YAMLError):
    """For PyYAML's node-based loader: an error for it to word, or a form too rare to stream."""


@dataclass(frozen=True)
class Duplicate:
    """A key written twice in one mapping (the container is kept: its identity names its path)."""

    container: dict[Any, Any]
    key: Hashable
    line: int
    first: int
    depth: int


class Tables(Protocol):
    """Where frames record what they find."""

    lines: Lines
    duplicates: list[Duplicate]


class Marker:
    """A key that is not data: `<<` (merge) or `=` (the value key, a string once flattened)."""

    def __init__(self, name: str) -> None:
        self.name = name


MERGE_KEY, VALUE_KEY = Marker("<<"), Marker("=")


class Frame:
    """An open collection, which takes each complete node it holds."""

    obj: Any
    number = NO_CONTAINER  # in the lines table, for plain mappings and sequences
    wants_key = False  # the next node is a key
    takes_merge = False  # the next node is merged into a mapping

    def add(self, tables: Tables, value: Any, line: int, child: int) -> None:
        raise NotImplementedError

    def close(self, tables: Tables) -> tuple[Any, int, int]:
        raise NotImplementedError


class MapFrame(Frame):
    """A plain mapping: its dict, each key's line and container, merges and duplicates."""

    def __init__(self, number: int, line: int, merging: bool, depth: int) -> None:
        self.obj: dict[Any, Any] = {}
        self.number, self.line, self.merging, self.depth = number, line, merging, depth
        self.wants_key = True
        self.key: Any = None
        self.key_line = 0
        self.where: dict[Any, tuple[int, int]] = {}  # key → its line, the container it holds
        self.firsts: dict[Any, int] = {}  # the first line of each key written twice
        self.merges: list[list[tuple[dict[Any, Any], int]]] = []  # the mappings of each `<<:`

    def add(self, tables: Tables, value: Any, line: int, child: int) -> None:
        if self.wants_key:
            if value is VALUE_KEY:
                value = "="  # as flatten_mapping retags it
            elif value is not MERGE_KEY and not isinstance(value, Hashable):
                raise Unstreamable("found unhashable key")
            self.key, self.key_line, self.wants_key = value, line, False
            self.takes_merge = value is MERGE_KEY
            return
        self.wants_key, self.takes_merge, key = True, False, self.key
        if key is MERGE_KEY:
            self.merges.append(_merge_sources(tables.lines, value, child))
            return
        if key in self.obj:
            if self.merging:  # PyYAML reports it only if this mapping is also used elsewhere
                raise Unstreamable("a duplicate key in a merged mapping")
            first = self.firsts.setdefault(key, self.where[key][0])
            tables.duplicates.append(Duplicate(self.obj, key, self.key_line, first, self.depth))
        self.obj[key] = value
        self.where[key] = (self.key_line, child)

    def close(self, tables: Tables) -> tuple[Any, int, int]:
        data, where = self.obj, self.where
        if self.merges:  # merged keys come first, in the order written
            merged: dict[Any, Any] = {}
            merged_where: dict[Any, tuple[int, int]] = {}
            for sources in self.merges:  # a later `<<:` wins over an earlier one
                values: dict[Any, Any] = {}
                places: dict[Any, tuple[int, int]] = {}
                for source, number in sources:  # an earlier mapping of a list wins
                    for (key, value), place in zip(
                        source.items(), tables.lines.entries(number), strict=True
                    ):
                        if key not in values:
                            values[key], places[key] = value, place
                merged.update(values)
                merged_where.update(places)
            merged.update(data)  # and own keys over all
            merged_where.update(where)
            data.clear()
            data.update(merged)
            where = merged_where
        tables.lines.close(self.number, self.line, [n for key in data for n in where[key]])
        return data, self.line, self.number


def _merge_sources(lines: Lines, value: Any, child: int) -> list[tuple[dict[Any, Any], int]]:
    """The mappings a `<<:` value merges, with their numbers in the lines table."""
    if isinstance(value, dict):
        sources = [(value, child)]
    elif isinstance(value, list) and child != NO_CONTAINER and lines.is_closed(child):
        items = [
            (item, number) for item, (_, number) in zip(value, lines.entries(child), strict=True)
        ]
        if not all(isinstance(item, dict) for item, _ in items):
            raise Unstreamable("expected a mapping for merging")
        sources = items
    else:
        raise Unstreamable("expected a mapping or list of mappings for merging")
    if not all(lines.is_closed(number) for _, number in sources):
        raise Unstreamable("a mapping merged into itself, or into one it holds")
    return sources


class SeqFrame(Frame):
    """A plain sequence: its list and each item's line and container."""

    def __init__(self, number: int, line: int, merging: bool) -> None:
        self.obj: list[Any] = []
        self.number, self.line = number, line
        self.takes_merge = merging  # the items of a merged sequence are merged mappings
        self.entries: list[int] = []

    def add(self, tables: Tables, value: Any, line: int, child: int) -> None:
        self.obj.append(value)
        self.entries += (line, child)

    def close(self, tables: Tables) -> tuple[Any, int, int]:
        tables.lines.close(self.number, self.line, self.entries)
        return self.obj, self.line, self.number


class SetFrame(Frame):
    """A !!set: the keys of a mapping (its values are built, and dropped, as PyYAML does)."""

    def __init__(self, line: int) -> None:
        self.obj: set[Any] = set()
        self.line = line
        self.wants_key = True

    def add(self, tables: Tables, value: Any, line: int, child: int) -> None:
        if self.wants_key:
            if value is VALUE_KEY:
                value = "="
            elif value is MERGE_KEY or not isinstance(value, Hashable):
                raise Unstreamable("a merge key or an unhashable key in a !!set")
            self.obj.add(value)
        self.wants_key = not self.wants_key

    def close(self, tables: Tables) -> tuple[Any, int, int]:
        return self.obj, self.line, NO_CONTAINER


class PairsFrame(Frame):
    """A !!omap or !!pairs: a list of (key, value), one per single-pair mapping."""

    def __init__(self, line: int) -> None:
        self.obj: list[tuple[Any, Any]] = []
        self.line = line

    def add(self, tables: Tables, value: Any, line: int, child: int) -> None:
        if not isinstance(value, tuple):  # a scalar or an alias (only PairFrame makes tuples)
            raise Unstreamable("expected a mapping of length 1")
        self.obj.append(value)

    def close(self, tables: Tables) -> tuple[Any, int, int]:
        return self.obj, self.line, NO_CONTAINER


class PairFrame(Frame):
    """A single-pair mapping inside !!omap or !!pairs (its key may be anything)."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.pair: list[Any] = []
        self.wants_key = True

    def add(self, tables: Tables, value: Any, line: int, child: int) -> None:
        if isinstance(value, Marker):
            raise Unstreamable("a merge or value key in a !!omap or !!pairs")
        self.pair.append(value)
        self.wants_key = not self.wants_key

    def close(self, tables: Tables) -> tuple[Any, int, int]:
        if len(self.pair) != 2:
            raise Unstreamable("expected a single mapping item")
        return (self.pair[0], self.pair[1]), self.line, NO_CONTAINER
