"""YAML with `safe_load` semantics that remembers the line of every key and item.

`load_yaml` returns the plain data (dicts, lists, scalars) with a side table that gives the line
of each key and item, so that a problem found later, at a key path like
`("rules", 0, "trigger")`, can be reported as `FILE:LINE: rules[0].trigger: ...`.
Duplicate keys, which `safe_load` silently collapses to the last one, are problems here.

The data is built straight from libyaml's events (yamlstream.py): PyYAML's node tree for a
5,000-target file is ~30 MiB that the process keeps after it is freed. PyYAML's node-based
loaders remain for what the stream leaves to them: rare forms, on libyaml's parser, and every
error, worded by the pure-Python parser as always.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode

from remediator.config.yamllines import NO_CONTAINER, Lines
from remediator.config.yamlstream import BadScalar, Built, Duplicate, Unstreamable, build
from remediator.errors import Problem

KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class YamlDocument:
    """One parsed file: its data, where things are in it, and the problems parsing found."""

    file: str
    data: Any
    lines: Lines
    problems: tuple[Problem, ...] = ()

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of the deepest part of `path` that exists (a missing key: its parent's)."""
        return self.lines.line_of(self.data, path)


def format_path(path: Sequence[str | int]) -> str:
    """`("rules", 0, "trigger")` → `rules[0].trigger`; the empty path is `(root)`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def load_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and duplicate keys come back as problems."""
    built = _load(text, file)
    if isinstance(built, Problem):
        return YamlDocument(file, None, Lines(), (built,))
    problems: list[Problem] = []
    if built.duplicates:
        paths = _container_paths(built.data)
        problems = [
            Problem(
                file,
                dup.line,
                format_path((*paths.get(id(dup.container), ()), _path_part(dup.key))),
                f"duplicate key (first on line {dup.first})",
            )
            for dup in built.duplicates
        ]
    return YamlDocument(file, built.data, built.lines, tuple(problems))


# libyaml's parser, when PyYAML was built with it (its wheels are).
_CSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(text: str, file: str) -> Built | Problem:
    """The data from the event stream, else from nodes; a problem when PyYAML has one."""
    loader = _CSafeLoader(text)
    try:
        return build(loader)
    except BadScalar as exc:
        return Problem(file, exc.line, "(yaml)", exc.message)
    except Unstreamable:
        rare = True  # or an error: PyYAML decides, on nodes
    except yaml.YAMLError:
        rare = False  # libyaml's own error
    finally:
        loader.dispose()
    try:
        if rare:
            try:
                return _parse(_FastLineLoader, text)
            except yaml.YAMLError:
                pass  # libyaml words its errors its own way: the pure-Python parser, as always
        return _parse(_LineLoader, text)  # checks every character: a NUL byte fails
    except yaml.reader.ReaderError as exc:
        return _reader_problem(file, text, exc)
    except yaml.MarkedYAMLError as exc:
        return _syntax_problem(file, exc)
    except yaml.YAMLError as exc:
        return Problem(file, 1, "(yaml)", str(exc))
    except RecursionError:
        return Problem(file, 1, "(yaml)", "nested too deeply")


class _LineConstruction(SafeConstructor):
    """Records lines and duplicate keys while constructing from nodes (mixed into a loader)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]  # the loader's, next in the MRO
        self.table = Lines()
        self.duplicates: list[Duplicate] = []
        self.numbers: dict[int, int] = {}  # id of a dict or list built here → its number

    def child(self, value: Any) -> int:
        """The number of `value` in the table, if it is a container built here."""
        if isinstance(value, dict | list):
            return self.numbers.get(id(value), NO_CONTAINER)
        return NO_CONTAINER

    def construct_line_map(self, node: MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        self.numbers[id(data)] = number = self.table.open()
        yield data
        if not isinstance(node, MappingNode):  # `!!map x`: PyYAML's own error
            SafeConstructor.construct_mapping(self, node)
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                self.duplicates.append(Duplicate(data, key, line, seen[key], 0))
            elif isinstance(key, Hashable):
                seen[key] = line
        self.flatten_mapping(node)  # resolves `<<:` merges; later (own) keys win
        key_lines: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                key_lines[key] = key_node.start_mark.line + 1
        data.update(SafeConstructor.construct_mapping(self, node))
        entries = [n for key in data for n in (key_lines[key], self.child(data[key]))]
        self.table.close(number, node.start_mark.line + 1, entries)

    def construct_line_seq(self, node: SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        self.numbers[id(data)] = number = self.table.open()
        yield data
        data.extend(self.construct_sequence(node))
        lines = (item.start_mark.line + 1 for item in node.value)
        entries = [
            n for line, value in zip(lines, data, strict=True) for n in (line, self.child(value))
        ]
        self.table.close(number, node.start_mark.line + 1, entries)


class _LineLoader(_LineConstruction, yaml.SafeLoader):
    """A SafeLoader that records lines and duplicate keys (pure Python: its error messages)."""


class _FastLineLoader(_LineConstruction, _CSafeLoader):  # type: ignore[misc,valid-type]
    """The same on libyaml's parser, for the forms the event stream leaves to nodes."""


# (The stubs bind add_constructor's callback to the loader classes they know.)
for _loader in (_LineLoader, _FastLineLoader):
    _loader.add_constructor("tag:yaml.org,2002:map", _loader.construct_line_map)  # type: ignore[type-var]
    _loader.add_constructor("tag:yaml.org,2002:seq", _loader.construct_line_seq)  # type: ignore[type-var]


def _parse(loader_class: type[_LineConstruction], text: str) -> Built:
    loader = loader_class(text)
    try:
        node: Node | None = loader.get_single_node()  # type: ignore[attr-defined]
        data = None if node is None else loader.construct_document(node)
        loader.table.root = loader.child(data)
        return Built(data, loader.table, loader.duplicates)
    finally:
        loader.dispose()  # type: ignore[attr-defined]


def _reader_problem(file: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character YAML does not allow (a NUL byte, a control character), at its line."""
    line = text.count("\n", 0, max(0, exc.position)) + 1
    what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
    return Problem(file, line, "(yaml)", f"character {what} is not allowed in YAML")


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    message = exc.problem or "invalid YAML"
    if exc.context and not isinstance(exc, ConstructorError):
        message = f"{message} ({exc.context})"
    return Problem(file, line, "(yaml)", message)


def _path_part(key: Hashable) -> str | int:
    return key if isinstance(key, str) else str(key)


def _container_paths(data: Any) -> dict[int, KeyPath]:
    """The first path of every container, depth first (aliases and recursive data: once)."""
    out: dict[int, KeyPath] = {}
    todo: list[tuple[Any, KeyPath]] = [(data, ())]
    while todo:
        node, path = todo.pop()
        if not isinstance(node, dict | list) or id(node) in out:
            continue
        out[id(node)] = path
        items = list(node.items() if isinstance(node, dict) else enumerate(node))
        for key, value in reversed(items):
            todo.append((value, (*path, key if isinstance(key, int) else _path_part(key))))
    return out
