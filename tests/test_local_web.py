"""The request checks every lingualift HTTP server applies (lingualift.local_web), as a table."""

import pytest

from lingualift.local_web import TOKEN_HEADER, RequestGuard

LOCAL = RequestGuard("127.0.0.1", 8765)
HERE = "http://127.0.0.1:8765"
EVIL = "http://evil.example"
REVIEW = RequestGuard("127.0.0.1", 8765, token="t0ken", api_prefix="/api/")
EVERYWHERE = RequestGuard("0.0.0.0", 8000)
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "guard, method, path, headers, refused",
    [
        (LOCAL, "GET", "/", {"Host": "127.0.0.1:8765"}, None),
        (LOCAL, "GET", "/", {"Host": "localhost:8765"}, None),
        (LOCAL, "GET", "/", {"Host": "[::1]:8765"}, None),
        (LOCAL, "GET", "/", {"Host": "LOCALHOST:8765"}, None),
        (LOCAL, "GET", "/", {}, "without a Host"),
        (LOCAL, "GET", "/", {"Host": "localhost:9999"}, "not this server's address"),
        (LOCAL, "GET", "/v1/models", {"Host": "evil.example:8765"}, "not this server's address"),
        (LOCAL, "POST", "/v1/chat/completions", {"Host": "127.0.0.1:8765", **JSON}, None),
        (
            LOCAL,
            "POST",
            "/v1/chat/completions",
            {"Host": "127.0.0.1:8765", "Content-Type": "application/json; charset=utf-8"},
            None,
        ),
        (
            LOCAL,
            "POST",
            "/v1/chat/completions",
            {"Host": "127.0.0.1:8765", "Content-Type": "text/plain"},
            "application/json",
        ),
        (LOCAL, "POST", "/v1/chat/completions", {"Host": "127.0.0.1:8765"}, "not 'none'"),
        (LOCAL, "POST", "/v1/chat/completions", {"Host": "127.0.0.1:8765", "Origin": HERE, **JSON}, None),
        (
            LOCAL,
            "POST",
            "/v1/chat/completions",
            {"Host": "localhost:8765", "Origin": HERE, **JSON},
            "another web page",
        ),
        (
            LOCAL,
            "GET",
            "/v1/models",
            {"Host": "127.0.0.1:8765", "Origin": "https://evil.example"},
            "another web page",
        ),
        (LOCAL, "GET", "/v1/models", {"Host": "127.0.0.1:8765", "Origin": "null"}, "another web page"),
        (REVIEW, "GET", "/", {"Host": "127.0.0.1:8765"}, None),  # the page itself holds no data
        (REVIEW, "GET", "/api/summary", {"Host": "127.0.0.1:8765"}, "token"),
        (REVIEW, "GET", "/api/summary", {"Host": "127.0.0.1:8765", TOKEN_HEADER: "t0ken"}, None),
        (REVIEW, "POST", "/api/decision", {"Host": "127.0.0.1:8765", TOKEN_HEADER: "wrong", **JSON}, "token"),
        (REVIEW, "POST", "/api/decision", {"Host": "127.0.0.1:8765", TOKEN_HEADER: "t0ken", **JSON}, None),
        (
            EVERYWHERE,
            "GET",
            "/v1/models",
            {"Host": "my-box.lan:8000"},
            None,
        ),  # listening beyond loopback on purpose
        (
            EVERYWHERE,
            "POST",
            "/v1/chat/completions",
            {"Host": "my-box.lan:8000", "Content-Type": "text/plain"},
            "application/json",
        ),
        (
            EVERYWHERE,
            "POST",
            "/v1/chat/completions",
            {"Host": "my-box.lan:8000", "Origin": EVIL, **JSON},
            "another web page",
        ),
    ],
)
def test_requests_from_other_pages_are_refused_and_our_own_let_in(guard, method, path, headers, refused):
    reason = guard.refusal(method, path, headers)
    assert (reason is None) if refused is None else (reason is not None and refused in reason), reason


def test_a_listening_address_of_its_own_is_allowed():
    assert RequestGuard("192.168.1.5", 80).refusal("GET", "/", {"Host": "192.168.1.5:80"}) is None
    assert RequestGuard("::1", 80).refusal("GET", "/", {"Host": "[::1]:80"}) is None
    assert not RequestGuard("::1", 80).any_host and RequestGuard("0.0.0.0", 80).any_host
