"""The YAML loader: built from libyaml's events, the same data as `safe_load`, the same lines
and the same problems as the node-based loader it replaced (kept below as the reference)."""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, SequenceNode

from remediator.config import yamlload
from remediator.config.yamlload import YamlDocument, format_path, load_yaml
from remediator.config.yamlstream import build
from remediator.errors import Problem
from tests.chaos.configs import MAIN as CHAOS_MAIN
from tests.chaos.configs import RULES as CHAOS_RULES
from tests.chaos.configs import mutations
from tests.test_config import MAIN, RULES

REPO = Path(__file__).resolve().parent.parent

# --- the reference: the node-based loader as it was before the event stream ----------------------


class _OldConstruction(SafeConstructor):
    """Lines by container identity and duplicate keys, recorded while constructing from nodes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        self.maps: dict[int, tuple[int, dict[Hashable, int]]] = {}
        self.seqs: dict[int, tuple[int, list[int]]] = {}
        self.duplicates: list[tuple[int, Hashable, int, int]] = []

    def construct_line_map(self, node: MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                self.duplicates.append((id(data), key, line, seen[key]))
            elif isinstance(key, Hashable):
                seen[key] = line
        self.flatten_mapping(node)
        key_lines: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                key_lines[key] = key_node.start_mark.line + 1
        data.update(SafeConstructor.construct_mapping(self, node))
        self.maps[id(data)] = (node.start_mark.line + 1, key_lines)

    def construct_line_seq(self, node: SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))
        self.seqs[id(data)] = (
            node.start_mark.line + 1,
            [i.start_mark.line + 1 for i in node.value],
        )


class _OldFast(_OldConstruction, yaml.CSafeLoader):
    pass


class _OldPure(_OldConstruction, yaml.SafeLoader):
    pass


for _old in (_OldFast, _OldPure):
    _old.add_constructor("tag:yaml.org,2002:map", _old.construct_line_map)  # type: ignore[type-var]
    _old.add_constructor("tag:yaml.org,2002:seq", _old.construct_line_seq)  # type: ignore[type-var]


class Old:
    """What the node-based load_yaml made of a text: data, problems and line_of."""

    def __init__(self, text: str, file: str = "f.yaml") -> None:
        self.data: Any = None
        self.loader: _OldConstruction | None = None
        self.problems: list[Problem] = []
        try:
            self._parse(_OldFast, text)
        except RecursionError:
            self.problems = [Problem(file, 1, "(yaml)", "nested too deeply")]
            return
        except yaml.YAMLError:
            try:
                self._parse(_OldPure, text)
            except yaml.reader.ReaderError as exc:
                self.problems = [yamlload._reader_problem(file, text, exc)]
            except yaml.MarkedYAMLError as exc:
                self.problems = [yamlload._syntax_problem(file, exc)]
            except yaml.YAMLError as exc:
                self.problems = [Problem(file, 1, "(yaml)", str(exc))]
            except RecursionError:
                self.problems = [Problem(file, 1, "(yaml)", "nested too deeply")]
            if self.problems:
                return
        assert self.loader is not None
        paths = yamlload._container_paths(self.data)
        self.problems = [
            Problem(
                file,
                line,
                format_path((*paths.get(container, ()), yamlload._path_part(key))),
                f"duplicate key (first on line {first})",
            )
            for container, key, line, first in self.loader.duplicates
        ]

    def _parse(self, loader_class: type[_OldConstruction], text: str) -> None:
        loader = loader_class(text)
        try:
            node = loader.get_single_node()  # type: ignore[attr-defined]
            self.data = None if node is None else loader.construct_document(node)
            self.loader = loader
        finally:
            loader.dispose()  # type: ignore[attr-defined]

    def line_of(self, path: tuple[Any, ...]) -> int:
        assert self.loader is not None
        maps, seqs = self.loader.maps, self.loader.seqs
        node = self.data
        line = 1
        if isinstance(node, dict) and id(node) in maps:
            line = maps[id(node)][0]
        elif isinstance(node, list) and id(node) in seqs:
            line = seqs[id(node)][0]
        for part in path:
            if isinstance(node, dict) and id(node) in maps:
                key_lines = maps[id(node)][1]
                if part not in key_lines:
                    break
                line, node = key_lines[part], node[part]
            elif isinstance(node, list) and id(node) in seqs:
                item_lines = seqs[id(node)][1]
                if not isinstance(part, int) or not 0 <= part < len(item_lines):
                    break
                line, node = item_lines[part], node[part]
            else:
                break
        return line


# --- comparing ------------------------------------------------------------------------------------


def same(a: Any, b: Any, memo: dict[int, int] | None = None) -> bool:
    """Equal values of the same types (NaN equals NaN; dicts in the same order), and the same
    objects shared: an alias is the anchored object itself in both, or in neither."""
    memo = {} if memo is None else memo
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if not isinstance(a, dict | list | tuple):
        return bool(a == b)
    if id(a) in memo or id(b) in memo.values():
        return memo.get(id(a)) == id(b)
    memo[id(a)] = id(b)
    if len(a) != len(b):
        return False
    if isinstance(a, dict):
        return all(
            same(ka, kb, memo) and same(a[ka], b[kb], memo) for ka, kb in zip(a, b, strict=True)
        )
    return all(same(x, y, memo) for x, y in zip(a, b, strict=True))


def key_paths(data: Any) -> Iterator[tuple[Any, ...]]:
    """Every path into `data` (a recursive structure: once round), and one missing key or item
    under each container."""

    def walk(node: Any, path: tuple[Any, ...], inside: frozenset[int]) -> Iterator[tuple[Any, ...]]:
        yield path
        if not isinstance(node, dict | list) or id(node) in inside:
            return
        yield (*path, "no such key")
        yield (*path, 10**6)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from walk(value, (*path, key), inside | {id(node)})

    return walk(data, (), frozenset())


def assert_as_before(text: str, *, data: bool = True) -> YamlDocument:
    """The new loader against the old one (data, problems, every line) and against safe_load."""
    new, old = load_yaml(text, "f.yaml"), Old(text)
    assert [str(p) for p in new.problems] == [str(p) for p in old.problems]
    if old.data is None and old.problems:
        assert new.data is None
        return new
    assert same(new.data, old.data)
    for path in key_paths(new.data):
        assert new.line_of(path) == old.line_of(path), path
    if data:
        assert same(new.data, yaml.load(text, Loader=yaml.SafeLoader))
    return new


# --- the corpus: every YAML file of the repository, the tests' configurations, edge cases --------

FILES = sorted(
    str(path.relative_to(REPO))
    for pattern in (
        "examples/*.y*ml",
        "rules/*.yaml",
        "remediator/demo/**/*.yaml",
        "tests/**/*.yml",
    )
    for path in REPO.glob(pattern)
)
TEXTS = {
    "test_config MAIN": MAIN,
    "test_config RULES": RULES,
    "chaos MAIN": CHAOS_MAIN.format(endpoint="http://127.0.0.1:1", tool="http://127.0.0.1:2"),
    "chaos RULES": CHAOS_RULES,
}


def test_the_corpus_has_the_shipped_files() -> None:
    assert {"examples/remediator.yaml", "rules/brokers.yaml", "remediator/demo/demo.yaml"} <= set(
        FILES
    )
    assert any(name.startswith("tests/fixtures/") for name in FILES)


@pytest.mark.parametrize("name", FILES)
def test_each_file_of_the_repository_loads_as_before(name: str) -> None:
    doc = assert_as_before((REPO / name).read_text(encoding="utf-8"))
    assert doc.problems == ()


@pytest.mark.parametrize("name", list(TEXTS))
def test_each_configuration_of_the_tests_loads_as_before(name: str) -> None:
    assert assert_as_before(TEXTS[name]).problems == ()


EDGES: dict[str, str] = {
    "empty": "",
    "comment only": "# nothing here\n",
    "empty document": "---\n",
    "explicit end": "---\na: 1\n...\n",
    "tilde": "~\n",
    "a root scalar": "just text\n",
    "a root list": "- 1\n- [2, 3]\n- {a: b}\n",
    "nulls": "a: ~\nb: null\nc: Null\nd:\ne: ''\n? f\n",
    "bools": "a: yes\nb: No\nc: on\nd: OFF\ne: true\nf: False\ng: y\nh: n\n",
    "ints": (
        "a: 0o14\nb: 014\nc: 0x_0A\nd: 0b1010\ne: 190:20:30\nf: +685_230\ng: -0\nh: 1_000\n"
        "i: 0\nj: -12\nk: 99999999999999999999999\n"
    ),
    "floats": (
        "a: .inf\nb: -.Inf\nc: .NaN\nd: 6.8523015e+5\ne: 685.230_15e+03\nf: 190:20:30.15\n"
        "g: 1e3\nh: .5\ni: -1.5\nj: 1.0e-3\n"
    ),
    "timestamps": (
        "a: 2001-12-14\nb: 2001-12-14 21:59:43.10 -5\nc: 2001-12-14t21:59:43.10-05:00\n"
        "d: 2002-12-14T00:00:00Z\ne: 2001-12-15 2:59:43.10\n"
    ),
    "strings": (
        "a: 'single'\nb: \"double \\x41\\u263A\\n\"\nc: plain text\nd: 'it''s'\ne: é ünïcode\n"
        "f: '123'\ng: \"yes\"\nh: :not a key\n"
    ),
    "explicit tags": (
        "a: !!str 123\nb: !!int '42'\nc: !!float '1'\nd: !!bool 'yes'\ne: !!null ''\n"
        "f: !!binary aGVsbG8=\ng: !!timestamp 2001-12-14\nh: ! 12\ni: !<tag:yaml.org,2002:str> x\n"
        "j: !!seq [1, 2]\nk: !!map {x: 1}\nl: !!str\n"
    ),
    "tag directive": "%TAG !e! tag:yaml.org,2002:\n---\na: !e!int '7'\nb: !e!str 8\n",
    "yaml directive": "%YAML 1.1\n---\na: 1\n",
    "set omap pairs": (
        "s: !!set {a, b, c: ~}\no: !!omap [a: 1, b: 2]\np: !!pairs [a: 1, a: 2]\n"
        "q: !!omap []\nr: !!set {}\nt: !!omap\n  - x: [1, 2]\n  - y: {z: 1}\n"
    ),
    "multi-line scalars": (
        "literal: |\n  line one\n  line two\nfolded: >\n  folded\n  text\n\n  para\n"
        "strip: |-\n  x\nkeep: >+\n  y\n\nplain: a plain\n  continued\n  scalar\n"
        'quoted: "a quoted\n  continued"\nafter: 1\n'
    ),
    "flow style": (
        "a: {b: [1, {c: 2}], d: {e: f}}\ng: [\n  1,\n  2,\n  {h: 3,\n   i: 4}\n]\n"
        "j: [{k: 1}, [2, [3]]]\nl: {}\nm: []\n"
    ),
    "complex scalar keys": "? a\n: b\n? |\n  block key\n: c\n1: int\n1.5: float\nnull: none\n"
    "2001-01-01: date\ntrue: bool\n",
    "aliases": (
        "base: &b {x: 1, y: [1, 2]}\ncopy: *b\nlist: &l [a, b]\nlists: [*l, *l]\n"
        "s: &s text\nt: *s\nk: &k key\nm: {*k : 1}\n"
    ),
    "recursive": "a: &a\n  self: *a\n  list: &l [*l, *a]\n",
    "merges": (
        "base: &base {a: 1, b: 2}\nover: &over {c: 3}\none: {<<: *base, c: 5}\n"
        "two: {<<: [*over, *base], d: 6}\nthree:\n  <<: *base\n  b: 20\n"
        "inline: {<<: {p: 1, q: 2}, q: 3}\nitems: {<<: [{r: 1}, {s: 2}]}\n"
    ),
    "nested merges": (
        "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\nd:\n  <<: *b\n  w: 9\n"
        "e: {<<: [*b, {v: 0}]}\nf: &f {<<: *c}\n"
    ).replace("*c", "*b"),
    "merge list of aliases to lists": "l: &l [{a: 1}, {b: 2}]\nm: {<<: *l, c: 3}\n",
    "merge at the root": "x: &x {a: 1}\n<<: *x\nb: 2\n",
    "merged values shared": "a: &a {v: [1]}\nb: {<<: *a}\n",
    "duplicate keys": (
        "a: 1\nb: 2\na: 3\nc:\n  d: 1\n  d: 2\n  d: 3\nl:\n  - {x: 1, x: 2}\n  - y: 1\n    y: 2\n"
        "n: {1: a, true: b}\n"
    ),
    "duplicate of an alias key": "k: &k name\nm:\n  *k : 1\n  name: 2\n",
    "duplicate of a discarded value": "a: {x: 1, x: 2}\na: 3\n",
    "duplicate keys on one line": "{x: {c: 1, c: 2}, a: 1, a: 2}\n",
    "anchored then duplicated": "a: &a {x: 1}\nb: *a\na: 2\nc: *a\n",
    "nan keys": ".nan: 1\n.nan: 2\n",
    "the value key": "=: a\nb: {=: c}\n",
}


@pytest.mark.parametrize("name", list(EDGES))
def test_each_edge_case_loads_as_before(name: str) -> None:
    if name == "the value key":  # the old loader refused `=` as a key; safe_load reads "="
        doc = load_yaml(EDGES[name], "f.yaml")
        assert doc.problems == ()
        assert same(doc.data, yaml.safe_load(EDGES[name]))
        assert [doc.line_of(p) for p in [("=",), ("b", "=")]] == [1, 2]
        return
    assert_as_before(EDGES[name])


@pytest.mark.parametrize("name", list(EDGES))
def test_the_pure_python_parser_streams_the_same(name: str) -> None:
    """Without libyaml the same builder runs on PyYAML's own parser."""
    loader = yaml.SafeLoader(EDGES[name])
    try:
        built = build(loader)
    finally:
        loader.dispose()
    assert same(built.data, load_yaml(EDGES[name], "f.yaml").data)


def test_an_alias_is_the_anchored_object() -> None:
    data = load_yaml(EDGES["aliases"], "f.yaml").data
    assert data["copy"] is data["base"]
    assert data["lists"][0] is data["lists"][1] is data["list"]
    recursive = load_yaml(EDGES["recursive"], "f.yaml").data["a"]
    assert recursive["self"] is recursive
    assert recursive["list"][0] is recursive["list"]


def test_merged_values_are_the_merged_objects() -> None:
    data = load_yaml(EDGES["merged values shared"], "f.yaml").data
    assert data["b"]["v"] is data["a"]["v"]
    assert data["b"] is not data["a"]


def test_duplicate_keys_are_problems_at_both_lines() -> None:
    doc = load_yaml(EDGES["duplicate keys"], "f.yaml")
    assert [str(p) for p in doc.problems] == [
        "f.yaml:3: a: duplicate key (first on line 1)",
        "f.yaml:6: c.d: duplicate key (first on line 5)",
        "f.yaml:7: c.d: duplicate key (first on line 5)",
        "f.yaml:12: n.True: duplicate key (first on line 12)",
        "f.yaml:9: l[0].x: duplicate key (first on line 9)",
        "f.yaml:11: l[1].y: duplicate key (first on line 10)",
    ]
    assert doc.data["a"] == 3 and doc.data["c"] == {"d": 3}


def test_a_merged_key_is_not_a_duplicate_whatever_the_order() -> None:
    """The old loader checked a mapping's keys when PyYAML constructed it, which is after a
    shallower alias merged it, and by then PyYAML had spliced the merged keys into its node."""
    text = "x:\n  b: &b {<<: {qq: 1}, qq: 2}\nc: {<<: *b}\n"
    assert [str(p) for p in Old(text).problems] == [
        "f.yaml:2: x.b.qq: duplicate key (first on line 2)"
    ]
    doc = load_yaml(text, "f.yaml")
    assert doc.problems == ()
    assert doc.data == {"x": {"b": {"qq": 2}}, "c": {"qq": 2}}


# Where PyYAML 6.0.4 and the merge spec part (yaml/pyyaml#953): an earlier mapping of a merged
# list wins over a later one, and merging a mapping gives what that mapping holds. The builder
# does what the spec and PyYAML up to 6.0.3 do, whatever the length of the key.
SPEC_MERGES: list[tuple[str, dict[str, Any], dict[tuple[str, ...], int]]] = [
    (
        # yaml.org/type/merge.html, with two-letter keys
        "- &CENTER {xx: 1, yy: 2}\n- &LEFT {xx: 0, yy: 2}\n- &BIG {rr: 10}\n- &SMALL {rr: 1}\n"
        "- <<: [*BIG, *LEFT, *SMALL]\n  xx: 1\n  label: center/big\n",
        {"rr": 10, "xx": 1, "yy": 2, "label": "center/big"},
        {("rr",): 3, ("xx",): 6, ("yy",): 2, ("label",): 7},
    ),
    (
        "a: &a {kk: 1}\nb: &b {kk: 2}\nc: &c {kk: 3}\nm: {<<: [*a, *b, *c]}\n",
        {"kk": 1},
        {("kk",): 1},
    ),
    (
        "c: &c {x: 0, xx: 0}\na: &a {<<: *c, x: 1, xx: 1}\nm: {<<: *a}\n",
        {"x": 1, "xx": 1},
        {("x",): 2, ("xx",): 2},
    ),
    (
        "a: &a {kk: 1}\nb: &b {kk: 2}\nm:\n  <<: *a\n  <<: *b\n",  # a later `<<:` wins
        {"kk": 2},
        {("kk",): 2},
    ),
]


@pytest.mark.parametrize(("text", "merged", "lines"), SPEC_MERGES)
def test_merges_follow_the_spec(
    text: str, merged: dict[str, Any], lines: dict[tuple[str, ...], int]
) -> None:
    doc = load_yaml(text, "f.yaml")
    assert doc.problems == ()
    last = list(doc.data)[-1] if isinstance(doc.data, dict) else len(doc.data) - 1
    assert doc.data[last] == merged and list(doc.data[last]) == list(merged)
    for path, line in lines.items():
        assert doc.line_of((last, *path)) == line


ERRORS: dict[str, str] = {
    "unclosed flow": "a: [1, 2\n",
    "mapping in a scalar": "a: b: c\n",
    "tab": "a:\n\tb: 1\n",
    "nul": "a: 1\nb: \x00\n",
    "unknown tag": "a: !nope x\n",
    "unknown tag on a mapping": "a: !nope {b: 1}\n",
    "unhashable block key": "? [a]\n: 1\n",
    "unhashable flow key": "{[a]: 1}\n",
    "mapping key": "{{a: 1}: 2}\n",
    "alias to a list as key": "l: &l [1]\nm: {*l : 1}\n",
    "undefined alias": "a: *nope\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "merge of a scalar": "a: {<<: 1}\n",
    "merge of a list of scalars": "a: {<<: [1]}\n",
    "merge key as a value": "a: <<\n",
    "value key as a value": "a: =\n",
    "too deep": "a: " + "[" * 1200 + "]" * 1200 + "\n",
    "omap of a mapping": "a: !!omap {b: 1}\n",
    "omap of scalars": "a: !!omap [b, c]\n",
    "omap of a long mapping": "a: !!omap [{b: 1, c: 2}]\n",
    "set of a sequence": "a: !!set [b]\n",
    "str tag on a sequence": "a: !!str [b]\n",
    "seq tag on a scalar": "a: !!seq x\n",
    "a syntax error after a duplicate": "a: 1\na: 2\nb: [\n",
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_each_error_is_the_same_problem_as_before(name: str) -> None:
    doc = assert_as_before(ERRORS[name], data=False)
    assert doc.problems and doc.data is None


# Valid, but rare enough that the node-based loader (on libyaml) builds them.
RARE: dict[str, str] = {
    "merge of an enclosing mapping": "a: &a\n  b: {<<: *a, c: 1}\n",
    "merge of a set": "s: &s !!set {x, y}\nm: {<<: *s, z: 1}\n",
    "merge of an unknown tag": "m: {<<: !custom {a: 1}, b: 2}\n",
    "merge of an omap": "m: {<<: !!omap [{a: 1}], b: 2}\n",
    "anchored pair": "o: !!omap [&p {a: 1}]\nq: *p\n",
    "tagged pair": "o: !!omap [!!map {a: 1}]\n",
    "list key in an omap": "o: !!omap [{[1, 2]: 3}]\n",
    "duplicate in a merged mapping": "m: {<<: {aa: 1, aa: 2}, b: 3}\n",
    "merged into itself": "a: &a {<<: *a}\n",
    "merge into a set": "x: &x {a: 1}\ns: !!set {<<: *x}\n",
}


@pytest.mark.parametrize("name", list(RARE))
def test_each_rare_form_loads_as_before(name: str) -> None:
    assert_as_before(RARE[name], data=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: !!int x\n", "f.yaml:2: (yaml): not a valid int"),
        ("b: !!bool maybe\n", "f.yaml:1: (yaml): not a valid bool"),
        ("b: !!float x\n", "f.yaml:1: (yaml): not a valid float"),
        ("b: !!int ''\n", "f.yaml:1: (yaml): not a valid int"),
        (
            "when:\n  - 2026-02-30\n",
            "f.yaml:2: (yaml): not a valid timestamp; quote it to keep it a string",
        ),
        ("b: !!timestamp x\n", "f.yaml:1: (yaml): not a valid timestamp"),
        ("b: 2026-02-30\nc: [\n", "f.yaml:3: (yaml): expected the node content, but found"),
        ("b: !!map x\n", "f.yaml:1: (yaml): expected a mapping node, but found scalar"),
    ],
)
def test_a_scalar_its_tag_cannot_read_is_a_problem_not_a_crash(text: str, expected: str) -> None:
    """PyYAML raises ValueError (KeyError, ...) for these; the old loader let it through (and
    failed on `!!map` over a scalar)."""
    [problem] = load_yaml(text, "f.yaml").problems
    assert str(problem).startswith(expected)


def test_mutated_configurations_load_as_before() -> None:
    """The chaos campaign's mutations (tree and text: NUL, tabs, quotes, anchors, aliases)."""
    for main, rules in mutations(150, 11, endpoint="http://127.0.0.1:1", tool="http://h:2"):
        for text in (main, rules):
            assert_as_before(text, data=False)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.dates()
    | st.binary(max_size=8)
)
_KEYS = st.text(max_size=6) | st.integers(-5, 5) | st.booleans()
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(data=_DATA, flow=st.none() | st.booleans(), shared=st.booleans())
def test_dumped_data_loads_as_before(data: Any, flow: bool | None, shared: bool) -> None:
    """Whatever safe_dump writes (with anchors and aliases when a value appears twice)."""
    value = [data, data] if shared else data
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    assert_as_before(text)


def test_loading_builds_no_node_tree() -> None:
    """The point of the event stream: the peak while loading is about what the data keeps, not
    the ~5 KiB per target of PyYAML's nodes."""
    lines = ["targets:"]
    for n in range(2000):
        lines += [
            f"  - name: t{n:04d}",
            f'    cluster_no: "{1_000_000 + n}"',
            f"    health: {{kind: http, url: 'http://127.0.0.1:8080/t/{n}', interval: 15s}}",
        ]
    text = "\n".join(lines) + "\n"
    tracemalloc.start()
    try:
        doc = load_yaml(text, "f.yaml")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(doc.data["targets"]) == 2000
    # Here ~0.6 MiB comes and goes (the text as UTF-8, the open mappings); PyYAML's nodes ~10 MiB.
    assert peak - kept < 2**20, (peak, kept)
