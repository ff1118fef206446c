"""What every lingualift HTTP server (review, serve) lets in: no other web page.

A page open in the user's browser can send requests to 127.0.0.1 without asking: a "simple"
cross-site POST (`Content-Type: text/plain`) reaches the server even though the page cannot read
the answer, and through DNS rebinding (evil.example resolving to 127.0.0.1) it can also read the
answer under its own origin. Jupyter and Ollama were hit by both. So a request is refused when:
- its `Host` is not the address the server listens on (localhost, 127.0.0.1 or [::1] with the
  port, or the listening address itself), unless the user listens on another interface on purpose;
- it carries an `Origin` other than the server's own (the browser sends one with every cross-site
  fetch and form post; same-site page scripts send the server's own);
- it writes (POST) with a body that is not `application/json`: such a request is not "simple", so
  the browser must ask first (a CORS preflight), and these servers grant none;
- where the server has a per-run token (review), the API request does not carry it.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

TOKEN_HEADER = "X-Lingualift-Token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RequestGuard:
    """The checks for a server listening on `host`:`port`; `token`: required on API paths."""

    host: str
    port: int
    token: str | None = None
    api_prefix: str = "/"
    allowed_hosts: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = {*LOOPBACK_NAMES, self.host if ":" not in self.host else f"[{self.host}]"}
        object.__setattr__(self, "allowed_hosts", frozenset(f"{name}:{self.port}" for name in names))

    @property
    def any_host(self) -> bool:
        """Listening beyond loopback (0.0.0.0, a LAN address): the user chose to be reached by other names."""
        return not is_loopback(self.host)

    def refusal(
        self, method: str, path: str, headers: Mapping[str, str], query_token: str | None = None
    ) -> str | None:
        """Why this request is refused (HTTP 403, one line), or None to let it in."""
        host = (headers.get("Host") or "").strip().lower()
        if not host:
            return "a request without a Host header is refused"
        if not self.any_host and host not in self.allowed_hosts:
            return (
                f"Host {host!r} is not this server's address (http://127.0.0.1:{self.port}/): "
                "requests through another name are refused"
            )
        origin = headers.get("Origin")
        if origin is not None and origin.strip().lower() != f"http://{host}":
            return f"requests from another web page (Origin {origin!r}) are refused"
        if method == "POST":
            kind = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if kind != "application/json":
                return f"a POST must send Content-Type: application/json, not {kind or 'none'!r}"
        if self.token and path.startswith(self.api_prefix):
            given = headers.get(TOKEN_HEADER) or query_token or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return "missing or wrong token: open the page through the URL the command printed"
        return None
