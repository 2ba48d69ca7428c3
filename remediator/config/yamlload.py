"""YAML with `safe_load` semantics that remembers the line of every key and item.

`load_yaml` returns the plain data (dicts, lists, scalars) with a side table that maps each
container to the lines of its keys or items, so that a problem found later, at a key path like
`("rules", 0, "trigger")`, can be reported as `FILE:LINE: rules[0].trigger: ...`.
Duplicate keys, which `safe_load` silently collapses to the last one, are problems here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode

from remediator.errors import Problem

KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class _Lines:
    """Where each container's keys or items start (1-based), by container identity."""

    maps: dict[int, tuple[int, dict[Hashable, int]]] = field(default_factory=dict)
    seqs: dict[int, tuple[int, list[int]]] = field(default_factory=dict)
    duplicates: list[tuple[int, Hashable, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class YamlDocument:
    """One parsed file: its data, where things are in it, and the problems parsing found."""

    file: str
    data: Any
    lines: _Lines
    problems: tuple[Problem, ...] = ()

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of the deepest part of `path` that exists (a missing key: its parent's)."""
        node: Any = self.data
        line = self._container_line(node)
        for part in path:
            if isinstance(node, dict) and id(node) in self.lines.maps:
                key_lines = self.lines.maps[id(node)][1]
                if part not in key_lines:
                    break
                line, node = key_lines[part], node[part]
            elif isinstance(node, list) and id(node) in self.lines.seqs:
                item_lines = self.lines.seqs[id(node)][1]
                if not isinstance(part, int) or not 0 <= part < len(item_lines):
                    break
                line, node = item_lines[part], node[part]
            else:
                break
        return line

    def _container_line(self, node: Any) -> int:
        if isinstance(node, dict) and id(node) in self.lines.maps:
            return self.lines.maps[id(node)][0]
        if isinstance(node, list) and id(node) in self.lines.seqs:
            return self.lines.seqs[id(node)][0]
        return 1


def format_path(path: Sequence[str | int]) -> str:
    """`("rules", 0, "trigger")` → `rules[0].trigger`; the empty path is `(root)`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


class _LineConstruction(SafeConstructor):
    """Records lines and duplicate keys while constructing (mixed into a SafeLoader)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]  # the loader's, next in the MRO
        self.table = _Lines()

    def construct_line_map(self, node: MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                self.table.duplicates.append((id(data), key, line, seen[key]))
            elif isinstance(key, Hashable):
                seen[key] = line
        self.flatten_mapping(node)  # resolves `<<:` merges; later (own) keys win
        key_lines: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                key_lines[key] = key_node.start_mark.line + 1
        data.update(SafeConstructor.construct_mapping(self, node))
        self.table.maps[id(data)] = (node.start_mark.line + 1, key_lines)

    def construct_line_seq(self, node: SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))
        item_lines = [item.start_mark.line + 1 for item in node.value]
        self.table.seqs[id(data)] = (node.start_mark.line + 1, item_lines)


class _LineLoader(_LineConstruction, yaml.SafeLoader):
    """A SafeLoader that records lines and duplicate keys (pure Python: its error messages)."""


# libyaml's parser, when PyYAML was built with it (its wheels are).
_CSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FastLineLoader(_LineConstruction, _CSafeLoader):  # type: ignore[misc,valid-type]
    """The same on libyaml's parser: 5,000 targets load in about a second instead of five."""


# (The stubs bind add_constructor's callback to the loader classes they know.)
for _loader in (_LineLoader, _FastLineLoader):
    _loader.add_constructor("tag:yaml.org,2002:map", _loader.construct_line_map)  # type: ignore[type-var]
    _loader.add_constructor("tag:yaml.org,2002:seq", _loader.construct_line_seq)  # type: ignore[type-var]


def _parse(loader_class: type[_LineConstruction], text: str) -> tuple[Any, _Lines]:
    loader = loader_class(text)
    try:
        node: Node | None = loader.get_single_node()  # type: ignore[attr-defined]
        return (None if node is None else loader.construct_document(node)), loader.table
    finally:
        loader.dispose()  # type: ignore[attr-defined]


def load_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and duplicate keys come back as problems."""
    try:
        data, table = _parse(_FastLineLoader, text)
    except RecursionError:
        problem = Problem(file, 1, "(yaml)", "nested too deeply")
        return YamlDocument(file, None, _Lines(), (problem,))
    except yaml.YAMLError:
        # libyaml words its errors its own way: the pure-Python parser says them as always.
        try:
            data, table = _parse(_LineLoader, text)  # checks every character: a NUL byte fails
        except yaml.reader.ReaderError as exc:
            return YamlDocument(file, None, _Lines(), (_reader_problem(file, text, exc),))
        except yaml.MarkedYAMLError as exc:
            return YamlDocument(file, None, _Lines(), (_syntax_problem(file, exc),))
        except yaml.YAMLError as exc:
            return YamlDocument(file, None, _Lines(), (Problem(file, 1, "(yaml)", str(exc)),))
        except RecursionError:
            problem = Problem(file, 1, "(yaml)", "nested too deeply")
            return YamlDocument(file, None, _Lines(), (problem,))
    paths: dict[int, KeyPath] = {}
    _container_paths(data, (), paths)
    problems = [
        Problem(
            file,
            line,
            format_path((*paths.get(container, ()), _path_part(key))),
            f"duplicate key (first on line {first})",
        )
        for container, key, line, first in table.duplicates
    ]
    return YamlDocument(file, data, table, tuple(problems))


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


def _container_paths(data: Any, path: KeyPath, out: dict[int, KeyPath]) -> None:
    """Record the first path of every container (aliases and recursive data are visited once)."""
    if not isinstance(data, dict | list) or id(data) in out:
        return
    out[id(data)] = path
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        _container_paths(value, (*path, key if isinstance(key, int) else _path_part(key)), out)
