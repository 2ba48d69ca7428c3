"""The plain data of a YAML document built straight from the parser's events, with no node tree.

PyYAML's `safe_load` first composes a node per scalar, mapping and sequence (an object with a
dict and two marks each: ~5 KiB per target of a large configuration), then constructs the data.
`build` takes the events one at a time and builds the dicts, lists and scalars directly:

- a scalar is resolved and constructed by PyYAML's own Resolver and SafeConstructor functions,
  on a transient ScalarNode, so ints, floats, bools, nulls, timestamps, !!binary and !!str come
  out as `safe_load` makes them;
- an alias is the anchored object itself; a `<<:` merge key takes a mapping or a list of
  mappings, whose keys come first, in the order written. Own keys win over merged ones, an
  earlier mapping of a list over a later one (the merge spec, and PyYAML up to 6.0.3), a later
  `<<:` over an earlier one; PyYAML 6.0.4's `flatten_mapping` lets the winner depend on
  whether the key is one character long (yaml/pyyaml#953);
- !!set makes a set, !!omap and !!pairs a list of pairs (the open collections: yamlframes.py).

Whatever it does not decide itself, it leaves to PyYAML's node-based loader by raising
`Unstreamable`: every error (so that PyYAML words them), and forms too rare to be worth code
here (a tag outside the safe schema, a mapping merged into itself, a duplicate key inside a
merged mapping, anchors inside !!omap). The one error it words itself is `BadScalar`, which
PyYAML does not catch. Lines go to a `Lines` table; duplicate keys are collected for the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from yaml.constructor import SafeConstructor
from yaml.error import YAMLError
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from remediator.config.yamlframes import (
    MERGE_KEY,
    VALUE_KEY,
    Duplicate,
    Frame,
    MapFrame,
    PairFrame,
    PairsFrame,
    SeqFrame,
    SetFrame,
    Unstreamable,
)
from remediator.config.yamllines import NO_CONTAINER, Lines

__all__ = ["BadScalar", "Built", "Duplicate", "EventLoader", "Unstreamable", "build"]

_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = _TAG + "str", _TAG + "map", _TAG + "seq"
_SET, _OMAP, _PAIRS = _TAG + "set", _TAG + "omap", _TAG + "pairs"
_MERGE, _VALUE = _TAG + "merge", _TAG + "value"
_NOT_SCALARS = (None, _MAP, _SEQ, _SET, _OMAP, _PAIRS)
# The safe schema's scalar constructors (the collection ones are generators over nodes).
_SCALARS: dict[str, Callable[[Any, ScalarNode], Any]] = {
    tag: construct
    for tag, construct in SafeConstructor.yaml_constructors.items()
    if tag not in _NOT_SCALARS
}
# What PyYAML raises, uncaught, for an explicitly tagged scalar it cannot read (`!!int x`,
# `!!bool maybe`) or an impossible date (`2026-02-30`).
_SCALAR_FAILURES = (ValueError, KeyError, IndexError, AttributeError, TypeError, OverflowError)


class BadScalar(YAMLError):
    """A scalar that its tag's constructor cannot read."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class EventLoader(Protocol):
    """A PyYAML loader, used for its parser's events, its resolver and its scalar constructors."""

    def get_event(self) -> Event | None: ...

    def resolve(self, kind: type[Node], value: str | None, implicit: Any) -> str: ...


@dataclass
class Built:
    """A document's data, the lines of its keys and items, and its duplicate keys."""

    data: Any = None
    lines: Lines = field(default_factory=Lines)
    duplicates: list[Duplicate] = field(default_factory=list)


def build(loader: EventLoader) -> Built:
    """The single document of `loader`'s stream, as `safe_load` makes it (None for no document).

    Raises `Unstreamable` or `BadScalar` as above, and the parser's own errors as they come.
    """
    builder = _Builder(loader)
    _expect(loader.get_event(), StreamStartEvent)
    event = loader.get_event()
    if isinstance(event, StreamEndEvent):
        return Built()
    _expect(event, DocumentStartEvent)
    try:
        data = builder.node()
    except BadScalar:
        _drain(loader)  # a syntax error further on is the one to report, as before
        raise
    _expect(loader.get_event(), DocumentEndEvent)
    if not isinstance(loader.get_event(), StreamEndEvent):
        raise Unstreamable("expected a single document in the stream")
    builder.duplicates.sort(key=lambda d: d.depth)  # outer mappings first, as PyYAML finds them
    return Built(data, builder.lines, builder.duplicates)


def _expect(event: Event | None, kind: type[Event]) -> None:
    if not isinstance(event, kind):  # the parser's own grammar: never, short of a bug
        raise Unstreamable(f"expected {kind.__name__}, got {type(event).__name__}")


def _drain(loader: EventLoader) -> None:
    """Parse the rest of the stream; a second document is an error for PyYAML to word."""
    while (event := loader.get_event()) is not None and not isinstance(event, StreamEndEvent):
        if isinstance(event, DocumentStartEvent):
            raise Unstreamable("expected a single document in the stream")


def _line(event: Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 1


class _Builder:
    """The open collections, innermost last, and the anchors seen so far."""

    def __init__(self, loader: EventLoader) -> None:
        self.loader = loader
        self.lines = Lines()
        self.duplicates: list[Duplicate] = []
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # name → value, line, container
        self.stack: list[Frame] = []
        self.strings: dict[str, str] = {}

    def node(self) -> Any:
        """Consume the events of one node and all it holds; what it makes."""
        stack, get_event = self.stack, self.loader.get_event
        while True:
            event = get_event()
            if isinstance(event, ScalarEvent):
                value = self.scalar(event, bool(stack) and stack[-1].wants_key)
                line, child = _line(event), NO_CONTAINER
            elif isinstance(event, AliasEvent):
                if event.anchor not in self.anchors:
                    raise Unstreamable("found undefined alias")
                value, line, child = self.anchors[event.anchor]
            elif isinstance(event, CollectionStartEvent):
                stack.append(self.open(event))
                continue
            else:  # the end of the innermost collection
                value, line, child = stack.pop().close(self)
            if not stack:
                self.lines.root = child
                return value
            stack[-1].add(self, value, line, child)

    def scalar(self, event: ScalarEvent, key: bool) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        value: Any
        if tag == _STR:  # what construct_yaml_str returns, without the node
            # One str for each text written many times ("name", "http", "15s"): ~2 MiB less
            # at 5,000 targets while the data is validated.
            value = self.strings.setdefault(event.value, event.value)
        elif tag in (_MERGE, _VALUE) and key and event.anchor is None:
            value = MERGE_KEY if tag == _MERGE else VALUE_KEY
        elif tag in _SCALARS:
            # (libyaml's marks are marks too, whatever the stubs say)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
            try:
                value = _SCALARS[tag](self.loader, node)
            except _SCALAR_FAILURES:
                name = tag.removeprefix(_TAG)
                hint = "" if event.tag else "; quote it to keep it a string"
                raise BadScalar(_line(event), f"not a valid {name}{hint}") from None
        else:
            raise Unstreamable(f"no constructor for the tag {tag!r} on a scalar")
        if event.anchor is not None:
            self.anchor(event.anchor, value, _line(event), NO_CONTAINER)
        return value

    def open(self, event: CollectionStartEvent) -> Frame:
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.wants_key:
            raise Unstreamable("found unhashable key")  # a mapping or sequence as a key
        line = _line(event)
        frame = self.frame(event, parent, line)
        if event.anchor is not None:
            self.anchor(event.anchor, frame.obj, line, frame.number)
        return frame

    def frame(self, event: CollectionStartEvent, parent: Frame | None, line: int) -> Frame:
        """What takes the nodes of the collection that starts with `event`, by its tag."""
        if isinstance(parent, PairsFrame):
            if isinstance(event, MappingStartEvent) and event.tag is None and not event.anchor:
                return PairFrame(line)
            raise Unstreamable("expected a plain mapping of length 1 in a !!omap or !!pairs")
        merging = parent is not None and parent.takes_merge
        kind = MappingNode if isinstance(event, MappingStartEvent) else SequenceNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        if kind is MappingNode and tag == _MAP:
            return MapFrame(self.lines.open(), line, merging, len(self.stack))
        if kind is SequenceNode and tag == _SEQ:
            return SeqFrame(self.lines.open(), line, merging)
        if kind is MappingNode and tag == _SET and not merging:
            return SetFrame(line)
        if kind is SequenceNode and tag in (_OMAP, _PAIRS) and not merging:
            return PairsFrame(line)
        raise Unstreamable(f"a collection tagged {tag!r} here")

    def anchor(self, name: str, value: Any, line: int, child: int) -> None:
        if name in self.anchors:
            raise Unstreamable("found duplicate anchor")
        self.anchors[name] = (value, line, child)
