"""The review page and its small JSON API, on the standard library's threading HTTP server.

GET  /                  the page (page.html; it reads the per-run token from its URL)
GET  /api/summary       splits, rows, flag counts, decision counts
GET  /api/rows          ?split=&filter=all|flagged|clean|undecided|decided|flag:NAME&offset=&limit=
POST /api/decision      {split, row, action: accept|edit|reject|clear, text?, reason?}

Every request passes lingualift.local_web's checks (Host, Origin, JSON-only POSTs) and every API
call carries the per-run token (header X-Lingualift-Token) printed in the page's URL.
"""

from __future__ import annotations

import json
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from pydantic import ValidationError

from lingualift.errors import ConfigError, config_error
from lingualift.local_web import RequestGuard
from lingualift.tools.review.decisions import (
    Decision,
    DecisionStore,
    ReviewConfig,
    default_db,
    load_review_data,
    review_mode,
    row_view,
    split_pair,
)

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 1 << 20


class BadRequest(Exception):
    pass


class ReviewSession:
    """The dataset (text, source and flags columns held in memory) and the decision store."""

    def __init__(self, data: str, config: ReviewConfig):
        self.data, self.config = data, config
        dataset = load_review_data(data, config)
        self.mode = review_mode(next(iter(dataset.values())).column_names, config)
        self.columns = {}
        for name, part in dataset.items():
            flags = part[config.flags_field] if config.flags_field in part.column_names else [[]] * len(part)
            if self.mode == "translations":
                source, text = part[config.source_field], part[config.text_field]
            else:
                views = [row_view(row, self.mode, config) for row in part]
                source, text = [v[0] for v in views], [v[1] for v in views]
            self.columns[name] = {"source": source, "text": text, "flags": [list(f or []) for f in flags]}
        self.db_path = Path(config.db) if config.db else default_db(data)
        self.store = DecisionStore(self.db_path)

    def summary(self) -> dict:
        decided = Counter(d["action"] for d in self.store.all().values())
        flags = Counter(f for split in self.columns.values() for row in split["flags"] for f in row)
        return {
            "data": self.data,
            "decisions": str(self.db_path),
            "splits": {name: len(c["text"]) for name, c in self.columns.items()},
            "flags": dict(flags.most_common()),
            "decided": dict(decided),
            "page_size": self.config.page_size,
            "mode": self.mode,
        }

    def rows(self, split: str, selection: str, offset: int, limit: int) -> dict:
        if split not in self.columns:
            raise BadRequest(f"no split {split!r}: the dataset has {', '.join(self.columns)}")
        columns = self.columns[split]
        decisions = {r: d for (s, r), d in self.store.all().items() if s == split}
        keep = self._selector(selection, columns["flags"], decisions)
        indices = [i for i in range(len(columns["text"])) if keep(i)]
        page = indices[offset : offset + limit]
        return {
            "split": split,
            "filter": selection,
            "total": len(indices),
            "offset": offset,
            "rows": [
                {
                    "row": i,
                    "source": columns["source"][i],
                    "text": columns["text"][i],
                    "flags": columns["flags"][i],
                    "decision": _public(decisions.get(i)),
                }
                for i in page
            ],
        }

    @staticmethod
    def _selector(selection: str, flags: list[list[str]], decisions: dict):
        if selection.startswith("flag:"):
            name = selection[5:]
            return lambda i: name in flags[i]
        choices = {
            "all": lambda i: True,
            "flagged": lambda i: bool(flags[i]),
            "clean": lambda i: not flags[i],
            "undecided": lambda i: i not in decisions,
            "decided": lambda i: i in decisions,
        }
        if selection not in choices:
            raise BadRequest(
                f"unknown filter {selection!r}: all, flagged, clean, undecided, decided or flag:NAME"
            )
        return choices[selection]

    def decide(self, decision: Decision) -> dict:
        if decision.split not in self.columns or decision.row >= len(self.columns[decision.split]["text"]):
            raise BadRequest(f"no row {decision.split}[{decision.row}] in {self.data}")
        if decision.action == "edit" and not (decision.text or "").strip():
            raise BadRequest("an edit needs the corrected text (to drop the row, reject it)")
        if decision.action == "edit" and self.mode == "pairs" and split_pair(decision.text) is None:
            raise BadRequest("an edited pair is the question, a line holding only ---, then the answer")
        self.store.record(decision, self.columns[decision.split]["source"][decision.row])
        saved = self.store.all().get((decision.split, decision.row))
        return {"split": decision.split, "row": decision.row, "decision": _public(saved)}


def _public(decision: dict | None) -> dict | None:
    return None if decision is None else {k: decision[k] for k in ("action", "text", "reason")}


def make_handler(session: ReviewSession, guard: RequestGuard):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 — quiet: request lines would flood the terminal
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict) -> None:
            self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json")

        def _refused(self, method: str) -> bool:
            url = urlparse(self.path)
            reason = guard.refusal(method, url.path, self.headers)
            if reason:
                self._json(403, {"error": reason})
            return reason is not None

        def do_GET(self):  # noqa: N802
            if self._refused("GET"):
                return
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                if url.path == "/":
                    self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
                elif url.path == "/api/summary":
                    self._json(200, session.summary())
                elif url.path == "/api/rows":
                    split = query.get("split") or next(iter(session.columns))
                    offset, limit = (
                        _integer(query, "offset", 0),
                        _integer(query, "limit", session.config.page_size),
                    )
                    self._json(200, session.rows(split, query.get("filter", "all"), offset, min(limit, 1000)))
                else:
                    self._json(404, {"error": f"no such page: {url.path}"})
            except BadRequest as error:
                self._json(400, {"error": str(error)})

        def do_POST(self):  # noqa: N802
            if self._refused("POST"):
                return
            if urlparse(self.path).path != "/api/decision":
                self._json(404, {"error": f"no such endpoint: {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._json(413, {"error": "request too large"})
                return
            try:
                raw = json.loads(self.rfile.read(length) or b"null")
                self._json(200, session.decide(Decision.model_validate(raw)))
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._json(400, {"error": "the body is not valid JSON"})
            except ValidationError as error:
                self._json(400, {"error": str(config_error(error))})
            except BadRequest as error:
                self._json(400, {"error": str(error)})

    return Handler


def _integer(query: dict, name: str, default: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError as error:
        raise BadRequest(f"{name} must be a whole number") from error
    if value < 0:
        raise BadRequest(f"{name} must not be negative")
    return value


def start_review(data: str, config: ReviewConfig, *, echo=print) -> ThreadingHTTPServer:
    """Load the data, open the decisions and bind; the caller runs `serve_forever()`."""
    from lingualift.local_web import new_token

    session = ReviewSession(data, config)
    token = new_token()
    try:
        server = ThreadingHTTPServer((config.host, config.port), None)
    except OSError as error:
        raise ConfigError(f"cannot listen on {config.host}:{config.port}: {error.strerror}") from error
    host, port = server.server_address[:2]
    server.guard = RequestGuard(host, port, token=token, api_prefix="/api/")
    server.RequestHandlerClass = make_handler(session, server.guard)
    server.daemon_threads = True
    server.session = session
    decided = sum(session.summary()["decided"].values())
    echo(
        f"review {data} on http://{host}:{port}/?token={token} — decisions in {session.db_path} ({decided} so far); "
        "Ctrl+C to stop, then `lingualift review export`"
    )
    return server
