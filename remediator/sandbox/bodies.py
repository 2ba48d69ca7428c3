"""The JSON bodies the backend reads, checked as documented: integers are JSON integers.

`restartKafkaServicePerNode` takes `{"computeInstanceNoList": [int, ...]}` (one or more);
the rolling-restart operations take `{"serviceGroupInstanceNo": int}`; the paged
`getClusterInfoList` takes optional `pageNo` and `pageSize` (1-N, defaults 1 and 10, as NCP
documents them) and the optional filters `inputText` (part of the name) and `vpcName` (exact).
A body that breaks these is refused by the backend (`code != 0`, `result: null`); a body that is
not JSON at all is the gateway's 400/100.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DEFAULT_PAGE_SIZE = 10


class BodyError(ValueError):
    """The body does not say what the operation needs; the message says why."""


class NotJson(ValueError):
    """The body is not JSON."""


def parse(body: bytes) -> object:
    """The body's JSON value; an empty body is `{}`; NotJson if it cannot be read."""
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise NotJson(str(e)) from None


def _object(payload: object) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BodyError("the body must be a JSON object")
    return payload


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def cluster_number(payload: object) -> int:
    """`serviceGroupInstanceNo` of a rolling-restart body."""
    value = _object(payload).get("serviceGroupInstanceNo")
    if value is None:
        raise BodyError("serviceGroupInstanceNo is required")
    if not _is_int(value):
        raise BodyError(f"serviceGroupInstanceNo must be an integer, not {value!r}")
    number: int = value
    return number


def node_numbers(payload: object) -> list[int]:
    """`computeInstanceNoList` of a per-node restart body, duplicates dropped, order kept."""
    value = _object(payload).get("computeInstanceNoList")
    if value is None:
        raise BodyError("computeInstanceNoList is required")
    if not isinstance(value, list) or not value:
        raise BodyError("computeInstanceNoList must be a non-empty list of node numbers")
    wrong = [v for v in value if not _is_int(v)]
    if wrong:
        raise BodyError(f"computeInstanceNoList holds integers only, not {wrong[0]!r}")
    return list(dict.fromkeys(value))


@dataclass(frozen=True)
class Page:
    """What the paged `getClusterInfoList` asks for."""

    page_no: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    input_text: str | None = None
    vpc_name: str | None = None


def page(payload: object) -> Page:
    """The paging and filters of a `getClusterInfoList` body."""
    data = _object(payload)
    numbers: dict[str, int] = {}
    for key, default in (("pageNo", 1), ("pageSize", DEFAULT_PAGE_SIZE)):
        value = data.get(key, default)
        if not _is_int(value) or value < 1:
            raise BodyError(f"{key} must be an integer of at least 1, not {value!r}")
        numbers[key] = value
    texts: dict[str, str | None] = {}
    for key in ("inputText", "vpcName"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise BodyError(f"{key} must be a string, not {value!r}")
        texts[key] = value or None
    return Page(numbers["pageNo"], numbers["pageSize"], texts["inputText"], texts["vpcName"])
