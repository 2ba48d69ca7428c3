"""The import graph of `remediator` has no cycle, type-checking imports included."""

from __future__ import annotations

import grimp


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest cycle through each import that is part of one, each found once."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycle = (importer, *back)
                found.setdefault(frozenset(cycle), cycle)
    return list(found.values())


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    graph.add_import(importer="p.a", imported="p.b", line_number=1, line_contents="")
    graph.add_import(importer="p.b", imported="p.c", line_number=1, line_contents="")
    graph.add_import(importer="p.c", imported="p.a", line_number=1, line_contents="")
    graph.add_import(importer="p.c", imported="p.d", line_number=1, line_contents="")
    assert cycles(graph) == [("p.a", "p.b", "p.c", "p.a")]


def test_no_module_of_remediator_imports_itself_back() -> None:
    graph = grimp.build_graph("remediator", cache_dir=None)
    assert "remediator.core.engine" in graph.modules  # the graph is the package's
    found = cycles(graph)
    assert not found, "import cycles (each importer -> ... -> back to it):\n" + "\n".join(
        " -> ".join(cycle) for cycle in found
    )
