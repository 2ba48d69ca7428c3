"""The response parser on its own: however the bytes are split as they arrive, the same
status, body and verdict on the connection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediator.probe.wire import MAX_HEAD, BadResponse, NoResponse, Response, request

LIMIT = 16

SAMPLES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nDOWN",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\nheal\r\n3;x=y\r\nthy\r\n0\r\nTrailer: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n7\nhealthy\n0\n\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"x" * 20,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n" + b"x" * 20 + b"\r\n0\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
]


def parse(pieces: list[bytes], eof: bool = False) -> tuple[int, bytes, bool, bool]:
    response = Response(LIMIT)
    for piece in pieces:
        if response.feed(piece):
            break
    if eof:
        response.feed_eof()
    return response.status, bytes(response.body), response.complete, response.reusable


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(st.sampled_from(SAMPLES), st.lists(st.integers(min_value=0), max_size=12))
def test_any_split_of_the_bytes_gives_the_same_response(data: bytes, cuts: list[int]) -> None:
    assert parse(split(data, cuts)) == parse([data])


def test_what_the_samples_say() -> None:
    assert [parse([data]) for data in SAMPLES] == [
        (200, b"healthy", True, True),
        (503, b"DOWN", True, True),
        (200, b"healthy", True, True),
        (200, b"healthy", True, True),
        (200, b"ok", True, True),
        (200, b"x" * LIMIT, False, False),
        (200, b"x" * LIMIT, False, False),
        (304, b"", True, True),
    ]


def test_a_body_until_the_close_ends_with_it() -> None:
    assert parse([b"HTTP/1.1 200 OK\r\n\r\nheal", b"thy"], eof=True) == (
        200,
        b"healthy",
        True,
        False,
    )


def test_bytes_after_the_response_make_the_connection_unfit() -> None:
    assert parse([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1"])[2:] == (True, False)


@given(st.integers(min_value=1, max_value=4096))
def test_a_head_too_large_is_refused_however_it_drips_in(step: int) -> None:
    data = b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (MAX_HEAD // 6 + 1)  # and no end
    response = Response(LIMIT)
    with pytest.raises(BadResponse):
        for start in range(0, len(data), step):
            response.feed(data[start : start + step])


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", NoResponse),
        (b"HTTP/1.1 200 OK\r\n", NoResponse),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhealthy", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nhealthy\r\n", BadResponse),
    ],
)
def test_a_response_cut_short(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse([data], eof=True)


def test_the_request() -> None:
    assert request("/a?b=1", "h:8080", "remediator/1", "Basic eDp5") == (
        b"GET /a?b=1 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: remediator/1\r\n"
        b"Accept: */*\r\nConnection: keep-alive\r\nAuthorization: Basic eDp5\r\n\r\n"
    )
