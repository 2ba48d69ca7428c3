"""list_clusters over real HTTP: getClusterInfoList paged by body until a short page, bounded."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from remediator.clock import FakeClock
from remediator.errors import NcpBadResponse, NcpRefused
from remediator.ncp.client import CdssClient, Credentials
from remediator.ncp.signing import SIGNATURE_HEADER

PATH = "/api/v1/cluster/getClusterInfoList"
FIRST_NO = 1_484_848
Signer = Callable[[str, str, int, str, str], dict[str, str]]
Pager = Callable[[int, int], list[dict[str, object]] | bytes]


def _cluster(n: int) -> dict[str, object]:
    return {
        "serviceGroupInstanceNo": FIRST_NO + n,
        "serviceGroupName": f"cluster-{n}",
        "status": "running" if n % 2 else "Changing",
        "kafkaVersionCode": "3.6.1",
        "someFieldNcpAddsLater": {"x": 1},
    }


def _envelope(clusters: list[dict[str, object]]) -> bytes:
    result = {"allowedClusters": clusters, "totalCount": 999}
    return json.dumps({"code": 0, "message": "SUCCESS", "result": result}).encode()


class Listing:
    """A getClusterInfoList server: `pager(pageNo, pageSize)` gives each page's clusters."""

    def __init__(self, httpserver: HTTPServer, pager: Pager) -> None:
        self.pages: list[dict[str, object]] = []
        self.requests: list[Request] = []
        self._pager = pager
        httpserver.expect_request(PATH, method="POST").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        self.requests.append(request)
        body = json.loads(request.get_data())
        self.pages.append(body)
        page = self._pager(body["pageNo"], body["pageSize"])
        data = page if isinstance(page, bytes) else _envelope(page)
        return Response(data, 200, content_type="application/json")


def _clusters_of(total: int) -> Pager:
    def pager(page_no: int, page_size: int) -> list[dict[str, object]]:
        start = (page_no - 1) * page_size
        return [_cluster(n) for n in range(start, min(start + page_size, total))]

    return pager


@pytest.fixture
def client(httpserver: HTTPServer, sandbox_keys: tuple[str, str]) -> CdssClient:
    return CdssClient(
        credentials=Credentials.of(*sandbox_keys),
        clock=FakeClock(),
        endpoint=httpserver.url_for("/"),
    )


def test_three_pages_are_read_until_the_short_one(
    httpserver: HTTPServer, client: CdssClient, sandbox_keys: tuple[str, str], sign: Signer
) -> None:
    listing = Listing(httpserver, _clusters_of(207))
    clusters = client.list_clusters()
    assert listing.pages == [{"pageNo": n, "pageSize": 100} for n in (1, 2, 3)]
    assert len(clusters) == 207
    assert [c.cluster_no for c in clusters] == [str(FIRST_NO + n) for n in range(207)]
    first, second = clusters[0], clusters[1]
    assert (first.name, first.status, first.kafka_version, first.busy) == (
        "cluster-0",
        "changing",
        "3.6.1",
        True,
    )
    assert (second.status, second.busy) == ("running", False)
    with pytest.raises(AttributeError):
        first.name = "renamed"  # type: ignore[misc]
    for request in listing.requests:  # each page is its own signed request, no query string
        target = request.environ["RAW_URI"]
        assert target == PATH
        stamp = int(request.headers["X-Ncp-Apigw-Timestamp"])
        expected = sign("POST", target, stamp, *sandbox_keys)[SIGNATURE_HEADER]
        assert request.headers["X-Ncp-Apigw-Signature-V2"] == expected
        assert request.headers["Content-Type"] == "application/json"


def test_a_full_last_page_is_followed_by_an_empty_one(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    listing = Listing(httpserver, _clusters_of(4))
    assert len(client.list_clusters(page_size=2)) == 4
    assert [p["pageNo"] for p in listing.pages] == [1, 2, 3]


@pytest.mark.parametrize(
    "empty",
    [
        b'{"code": 0, "message": "SUCCESS", "result": {"allowedClusters": []}}',
        b'{"code": 0, "message": "SUCCESS", "result": {"totalCount": 0}}',
    ],
    ids=["empty-list", "no-list"],
)
def test_an_account_without_clusters_lists_none(
    httpserver: HTTPServer, client: CdssClient, empty: bytes
) -> None:
    listing = Listing(httpserver, lambda no, size: empty)
    assert client.list_clusters() == ()
    assert len(listing.pages) == 1


def test_a_cluster_seen_twice_across_pages_is_listed_once(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    # the list shifted between pages: cluster 1 shows again at the top of page 2
    pages = {1: [_cluster(0), _cluster(1)], 2: [_cluster(1), _cluster(2)], 3: [_cluster(3)]}
    Listing(httpserver, lambda no, size: pages[no])
    clusters = client.list_clusters(page_size=2)
    assert [c.cluster_no for c in clusters] == [str(FIRST_NO + n) for n in range(4)]


def test_a_service_ignoring_page_no_stops_the_listing(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    listing = Listing(httpserver, lambda no, size: [_cluster(n) for n in range(size)])
    with pytest.raises(NcpBadResponse, match="page 2 holds only clusters of earlier pages"):
        client.list_clusters(page_size=3)
    assert len(listing.pages) == 2


def test_endless_full_pages_stop_at_max_pages(httpserver: HTTPServer, client: CdssClient) -> None:
    listing = Listing(httpserver, _clusters_of(10**9))
    with pytest.raises(NcpBadResponse, match="still a full page after 3 pages of 5") as info:
        client.list_clusters(page_size=5, max_pages=3)
    assert (info.value.operation, info.value.sent) == ("getClusterInfoList", "sent")
    assert len(listing.pages) == 3


def test_a_refused_page_fails_the_listing(httpserver: HTTPServer, client: CdssClient) -> None:
    refusal = b'{"code": 900, "message": "Internal error", "result": null}'
    Listing(httpserver, lambda no, size: refusal)
    with pytest.raises(NcpRefused, match='"Internal error"'):
        client.list_clusters()


@pytest.mark.parametrize(
    "entry",
    [{"serviceGroupName": "nameless"}, {"serviceGroupInstanceNo": "abc"}, "1484848"],
    ids=["no-number", "not-digits", "not-an-object"],
)
def test_an_entry_without_a_cluster_number_is_a_bad_response(
    httpserver: HTTPServer, client: CdssClient, entry: object
) -> None:
    body = json.dumps(
        {"code": 0, "message": "SUCCESS", "result": {"allowedClusters": [entry]}}
    ).encode()
    Listing(httpserver, lambda no, size: body)
    with pytest.raises(NcpBadResponse, match=r"allowedClusters\[0\] has no serviceGroupInstanceNo"):
        client.list_clusters()


def test_page_size_and_max_pages_are_checked(httpserver: HTTPServer, client: CdssClient) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        client.list_clusters(page_size=0)
    with pytest.raises(ValueError, match="at least 1"):
        client.list_clusters(max_pages=0)
    assert httpserver.log == []
