"""HTTP/1.1 on the wire for the probes: the GET they send, and a parser for the response they
read back. Pure: bytes in, status and body out.

The parser reads what a probe needs and no more: the status, the body up to a limit, and
whether the connection may carry another request. It skips interim 1xx responses, frames a
body by Content-Length, by chunks or by the connection's close, takes HTTP/1.0 answers and bare
LF line ends, and refuses what it cannot frame safely (`BadResponse`).
"""

from __future__ import annotations

import re

# A response head (status line and fields) or a chunked body's trailer larger than this is
# refused: a probe has no use for it, and a server that sends it is not well.
MAX_HEAD = 64 * 1024
# A chunk-size line longer than this (extensions included) is refused.
MAX_CHUNK_LINE = 4 * 1024

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/1\.(\d) (\d{3})(?:[ \t].*)?", re.DOTALL)
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")

# Parser states.
_HEAD, _LENGTH, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)


class WireError(Exception):
    """The response could not be read."""


class NoResponse(WireError):
    """The connection ended before the response's head was complete."""


class BadResponse(WireError):
    """The response is malformed, cannot be framed, or was cut short in its body."""


def request(target: str, host: str, user_agent: str, authorization: str | None) -> bytes:
    """A GET of `target` (path and query, ASCII) from `host` (the Host field)."""
    auth = "" if authorization is None else f"Authorization: {authorization}\r\n"
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n"
        f"Accept: */*\r\nConnection: keep-alive\r\n{auth}\r\n"
    ).encode("ascii")


class Response:
    """One response, parsed as its bytes arrive: `feed` them, then `feed_eof` if the connection
    ends first. At most `limit` bytes of the body are kept; the response is over when its body
    is complete or that much of it is read."""

    __slots__ = (
        "_buffer",
        "_limit",
        "_remaining",
        "_scanned",
        "_state",
        "body",
        "complete",
        "keep_alive",
        "started",
        "status",
    )

    def __init__(self, limit: int) -> None:
        self.status = 0
        self.body = bytearray()
        self.started = False  # a byte of it was received
        self.complete = False  # all of it was read, not only `limit` bytes of its body
        self.keep_alive = False  # the server will take another request on the connection
        self._limit = limit
        self._buffer = bytearray()
        self._state = _HEAD
        self._remaining = 0  # of the current body or chunk; of the trailer's allowance
        self._scanned = 0  # how far the head has been searched for its end

    @property
    def in_head(self) -> bool:
        """Whether the final response's head is still to come."""
        return self._state == _HEAD

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry the next request: this response was read to its
        end, with nothing after it, and the server keeps the connection open."""
        return self.complete and self.keep_alive and not self._buffer

    def feed(self, data: bytes) -> bool:
        """Take the next bytes received; True once the response is over."""
        self.started = True
        self._buffer += data
        while self._state != _DONE and self._step():
            pass
        return self._state == _DONE

    def feed_eof(self) -> None:
        """The connection ended: the end of a body framed by the close, or a response cut short
        (`NoResponse` before its head was complete, `BadResponse` in its body)."""
        if self._state == _UNTIL_CLOSE:
            self._finish(complete=True)
        elif self._state == _HEAD:
            raise NoResponse("the connection closed before the response")
        elif self._state != _DONE:
            raise BadResponse("the connection closed in the middle of the body")

    def _step(self) -> bool:
        """Parse what the buffer holds; False when more bytes are needed."""
        state = self._state
        if state == _HEAD:
            return self._head()
        if state in (_LENGTH, _CHUNK_DATA):
            return self._counted()
        if state == _UNTIL_CLOSE:
            if self._take(len(self._buffer)) <= 0:
                self._finish(complete=False)
            return False
        return self._line()

    def _head(self) -> bool:
        buffer = self._buffer
        end = _HEAD_END.search(buffer, self._scanned)
        if end is None:
            if len(buffer) > MAX_HEAD:
                raise BadResponse("response head too large")
            self._scanned = max(0, len(buffer) - 3)
            return False
        if end.start() > MAX_HEAD:
            raise BadResponse("response head too large")
        head = bytes(buffer[: end.start()])
        del buffer[: end.end()]
        self._scanned = 0
        self._start(head)
        return True

    def _start(self, head: bytes) -> None:
        """Read a head: the status, then how the body is framed."""
        lines = head.split(b"\n")
        status_line = _STATUS_LINE.fullmatch(lines[0].rstrip(b"\r"))
        if status_line is None:
            raise BadResponse("not an HTTP/1.x status line")
        status = int(status_line[2])
        if 100 <= status < 200 and status != 101:
            return  # an interim response (100 Continue, 103 Early Hints): the next head follows
        self.status = status
        fields = _fields(lines[1:])
        tokens = _tokens(fields[b"connection"])
        if status_line[1] == b"0":
            self.keep_alive = b"keep-alive" in tokens
        else:
            self.keep_alive = b"close" not in tokens
        lengths, codings = fields[b"content-length"], fields[b"transfer-encoding"]
        if status == 101:  # switched protocols: what follows is not HTTP
            self.keep_alive = False
            self._finish(complete=True)
        elif status in (204, 304):
            self._finish(complete=True)
        elif codings:
            if lengths:
                raise BadResponse("both Transfer-Encoding and Content-Length")
            self._state = _chunked_or_close(_tokens(codings, ordered=True))
            if self._state == _UNTIL_CLOSE:
                self.keep_alive = False
        elif lengths:
            self._remaining = _content_length(lengths)
            self._state = _LENGTH
            if self._remaining == 0:
                self._finish(complete=True)
        else:
            self._state = _UNTIL_CLOSE
            self.keep_alive = False

    def _counted(self) -> bool:
        """Body bytes of a known count: the whole body, or the current chunk."""
        if not self._buffer:
            return False
        count = min(self._remaining, len(self._buffer))
        self._remaining -= count
        room = self._take(count)
        if self._state == _LENGTH and self._remaining == 0 and room >= 0:
            self._finish(complete=True)
        elif room <= 0:
            self._finish(complete=False)  # the rest of the body is not read
        elif self._remaining == 0:
            self._state = _CHUNK_END
        return True

    def _take(self, count: int) -> int:
        """Move `count` bytes of body from the buffer, keeping what fits under the limit; the
        room left after them (0: the body is at its limit, negative: bytes were dropped)."""
        room = self._limit - len(self.body)
        buffer = self._buffer
        self.body += buffer[: min(count, room)]
        del buffer[:count]
        return room - count

    def _line(self) -> bool:
        """A line of chunked framing: a chunk's size, the end of its data, or the trailer."""
        buffer = self._buffer
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > MAX_CHUNK_LINE:
                raise BadResponse("chunk line too long")
            return False
        line = bytes(buffer[:end]).rstrip(b"\r")
        del buffer[: end + 1]
        if self._state == _CHUNK_LINE:
            size = line.split(b";", 1)[0].strip(b" \t")
            if _CHUNK_SIZE.fullmatch(size) is None:
                raise BadResponse("invalid chunk size")
            self._remaining = int(size, 16)
            self._state = _CHUNK_DATA if self._remaining else _TRAILER
            if self._state == _TRAILER:
                self._remaining = MAX_HEAD
        elif self._state == _CHUNK_END:
            if line:
                raise BadResponse("chunk data longer than its size")
            self._state = _CHUNK_LINE
        elif not line:
            self._finish(complete=True)
        else:
            self._remaining -= end + 1
            if self._remaining < 0:
                raise BadResponse("trailer too large")
        return True

    def _finish(self, *, complete: bool) -> None:
        self._state = _DONE
        self.complete = complete


def _fields(lines: list[bytes]) -> dict[bytes, list[bytes]]:
    """The values of the fields that frame the body, by lower-case name."""
    fields: dict[bytes, list[bytes]] = {
        b"connection": [],
        b"content-length": [],
        b"transfer-encoding": [],
    }
    last: list[bytes] | None = None
    named = False
    for raw in lines:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: more of the previous value
            if not named:
                raise BadResponse("a folded line with no field before it")
            if last is not None:
                last.append(line.strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or _FIELD_NAME.fullmatch(name) is None:
            raise BadResponse("malformed header field")
        named = True
        last = fields.get(name.lower())
        if last is not None:
            last.append(value.strip(b" \t"))
    return fields


def _tokens(values: list[bytes], *, ordered: bool = False) -> list[bytes]:
    """The comma-separated tokens of a field's values, in lower case."""
    tokens = [t.strip(b" \t").lower() for value in values for t in value.split(b",")]
    return [t for t in tokens if t] if ordered else tokens


def _chunked_or_close(codings: list[bytes]) -> int:
    # chunked must be the last coding, once; a body with other codings only ends with the close.
    if not codings or codings.count(b"chunked") > 1:
        raise BadResponse("invalid Transfer-Encoding")
    if codings[-1] == b"chunked":
        return _CHUNK_LINE
    if b"chunked" in codings:
        raise BadResponse("invalid Transfer-Encoding")
    return _UNTIL_CLOSE


def _content_length(values: list[bytes]) -> int:
    # Repeated fields (or a list) must all say the same number.
    lengths = set(_tokens(values))
    if len(lengths) != 1:
        raise BadResponse("conflicting Content-Length")
    (length,) = lengths
    if not length.isdigit() or len(length) > 18:
        raise BadResponse("invalid Content-Length")
    return int(length)
