"""Where each key and item of a loaded YAML document starts, packed into two integer arrays.

Every mapping and sequence that `safe_load` builds as a plain dict or list gets a number when it
opens; when it closes, its cells record its own line and, for each of its keys (in the dict's
order) or items, that key's or item's line and the number of the container it holds, if any.
`line_of` walks a key path from the root along those numbers. At 5,000 targets this is ~0.5 MiB
where a dict of key lines per container was ~4 MiB, which stayed allocated until validation
was done. The data must not be changed after loading: a dict's cells follow its key order.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import Any

NO_CONTAINER = -1  # the child of a scalar, or of a collection the table does not follow
_UNSET = 0xFFFFFFFF  # the start of a container still open


class Lines:
    """Container number → its line and, per key or item, (line, child container number)."""

    def __init__(self) -> None:
        self._starts = array("I")  # container number → offset of its cells
        # At that offset: the container's line, its count, then `line, child + 1` per entry.
        self._cells = array("I")
        self.root = NO_CONTAINER

    def open(self) -> int:
        """A number for a container whose entries come later (aliases may point to it first)."""
        self._starts.append(_UNSET)
        return len(self._starts) - 1

    def close(self, number: int, line: int, entries: Sequence[int]) -> None:
        """Record `number`'s line and its entries, flat: `line, child, line, child, ...`."""
        self._starts[number] = len(self._cells)
        self._cells.append(line)
        self._cells.append(len(entries) // 2)
        self._cells.extend(value + 1 if n % 2 else value for n, value in enumerate(entries))

    def is_closed(self, number: int) -> bool:
        return self._starts[number] != _UNSET

    def entries(self, number: int) -> Iterable[tuple[int, int]]:
        """The `(line, child)` of each key or item of the closed container `number`."""
        offset = self._starts[number]
        cells = self._cells[offset + 2 : offset + 2 + 2 * self._cells[offset + 1]]
        return zip(cells[::2], (child - 1 for child in cells[1::2]), strict=True)

    def line_of(self, data: Any, path: Sequence[str | int]) -> int:
        """The line of the deepest part of `path` in `data` that exists (a missing key: its
        parent's); 1 when the document is not a mapping or a sequence."""
        node, number = data, self.root
        if number == NO_CONTAINER:
            return 1
        offset = self._starts[number]
        line = self._cells[offset]
        for part in path:
            index = _index(node, part, self._cells[offset + 1])
            if index is None:
                break
            line = self._cells[offset + 2 + 2 * index]
            node, number = node[part], self._cells[offset + 3 + 2 * index] - 1
            if number == NO_CONTAINER:
                break
            offset = self._starts[number]
        return line


def _index(node: Any, part: str | int, count: int) -> int | None:
    """Where `part` is among `node`'s keys or items, if it is one of them."""
    if isinstance(node, dict):
        # (`is` first, as a dict lookup: PyYAML's NaN is one object, unequal to itself)
        return next((n for n, key in enumerate(node) if key is part or key == part), None)
    if isinstance(part, int) and 0 <= part < count:
        return part
    return None
