"""The sandbox's paged cluster list (`POST /cluster/getClusterInfoList`, no path parameter)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from remediator.clock import FakeClock
from remediator.sandbox.state import CODE_BAD_REQUEST
from tests.test_sandbox_nodes import ORDERS, Cdss, Signer, running_cdss

EXAMPLES = [(1484848, "orders"), (1484849, "payments"), (1484850, "analytics")]
ADDED = [(7000001, "billing"), (7000002, "orders-archive")]


@pytest.fixture
def cdss(fake_clock: FakeClock, sandbox_keys: tuple[str, str], sign: Signer) -> Iterator[Cdss]:
    with running_cdss(fake_clock, sandbox_keys, sign) as c:
        for no, name in ADDED:
            c.sb.add_cluster(str(no), name, tool="kafka_ui")
        yield c


def _page(cdss: Cdss, body: object) -> list[dict[str, Any]]:
    answer = cdss.envelope("POST", "getClusterInfoList", body)
    assert (answer["code"], answer["message"]) == (0, "SUCCESS"), answer
    assert set(answer["result"]) == {"allowedClusters"}
    clusters: list[dict[str, Any]] = answer["result"]["allowedClusters"]
    return clusters


def _names(clusters: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(c["serviceGroupInstanceNo"], c["serviceGroupName"]) for c in clusters]


def test_pages_hold_page_size_clusters_until_a_short_or_empty_page(cdss: Cdss) -> None:
    pages = [_page(cdss, {"pageNo": n, "pageSize": 2}) for n in (1, 2, 3, 4)]
    assert [_names(p) for p in pages] == [
        EXAMPLES[:2],
        [EXAMPLES[2], ADDED[0]],
        [ADDED[1]],
        [],
    ]
    assert _names(_page(cdss, {"pageNo": 1, "pageSize": 100})) == EXAMPLES + ADDED


def test_each_listed_cluster_has_number_name_and_lifecycle_status(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    cdss.sb.set_state(ORDERS, "error")
    assert cdss.envelope("GET", "restartAllServices/1484849")["code"] == 0
    listed = {c["serviceGroupName"]: c for c in _page(cdss, {"pageNo": 1, "pageSize": 100})}
    assert listed["orders"] == {
        "serviceGroupInstanceNo": 1484848,
        "serviceGroupName": "orders",
        "status": "error",
    }
    assert (listed["payments"]["status"], listed["billing"]["status"]) == ("changing", "running")
    fake_clock.advance(0.5)
    assert _page(cdss, {})[1]["status"] == "running"


def test_paging_defaults_are_ncps_and_filters_apply_before_paging(cdss: Cdss) -> None:
    assert _names(_page(cdss, {})) == EXAMPLES + ADDED  # pageNo 1, pageSize 10
    assert len(_page(cdss, None)) == 5  # no body at all
    assert _names(_page(cdss, {"inputText": "ORDERS", "pageSize": 1, "pageNo": 2})) == [ADDED[1]]
    assert len(_page(cdss, {"vpcName": "prod-vpc"})) == 5
    assert _page(cdss, {"vpcName": "prod"}) == []  # vpcName matches exactly


@pytest.mark.parametrize(
    "body",
    [
        {"pageNo": 0},
        {"pageSize": 0},
        {"pageNo": "1"},
        {"pageSize": 2.5},
        {"pageNo": True},
        {"inputText": 3},
        [1, 100],
    ],
)
def test_bad_paging_is_refused(cdss: Cdss, body: object) -> None:
    answer = cdss.envelope("POST", "getClusterInfoList", body)
    assert (answer["code"], answer["result"]) == (CODE_BAD_REQUEST, None)


def test_the_list_is_post_only_and_the_one_cluster_form_is_unchanged(cdss: Cdss) -> None:
    assert cdss.send("GET", "getClusterInfoList").status_code == 404
    one = cdss.envelope("POST", f"getClusterInfoList/{ORDERS}")["result"]
    assert one == {"serviceGroupInstanceNo": ORDERS, "clusterName": "orders", "status": "running"}
