"""The Procfile's gunicorn worker decides when a buffered request is whole (bridge/web/server.py)."""

from __future__ import annotations

import pytest

from bridge.web.server import MAX_HEAD, request_complete

HEAD = b"POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(("data", "whole"), [
    (HEAD, False),  # headers not finished
    (HEAD + b"\r\n", True),  # no body announced
    (HEAD + b"Content-Length: 5\r\n\r\n{\"a\"", False),
    (HEAD + b"Content-Length: 5\r\n\r\n{\"a\"}", True),
    (HEAD + b"content-length: 99999999\r\n\r\n" + b" " * 11, True),  # more than the limit: 413 from the header
    (HEAD + b"Content-Length: 99999999\r\n\r\n" + b" " * 9, False),
    (HEAD + b"Content-Length: nope\r\n\r\n", True),  # malformed: gunicorn answers 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", False),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD + 1), True),  # endless headers: gunicorn refuses them
])
def test_request_complete(data: bytes, whole: bool) -> None:
    assert request_complete(data, max_body=10) is whole
