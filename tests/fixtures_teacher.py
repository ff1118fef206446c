"""A scripted OpenAI-compatible teacher on 127.0.0.1 (the `teacher` fixture, for `respond` and the
pipeline): Dutch by default; English, a loop, a refusal, a reply cut at the limit and an HTTP 400
for the prompts in SCRIPT. It records every request it saw.

Registered for every test through `pytest_plugins` in tests/conftest.py."""

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

DUTCH = "Het weer in Amsterdam is vandaag zonnig en warm, met een lichte bries uit het westen."
SCRIPT = {
    "Say it in English please": "This is an English answer about the weather, written in full sentences for you.",
    "Keep repeating yourself": "Het is mooi weer vandaag. " * 8,
    "Tell me a secret": "Als AI-taalmodel kan ik daar helaas niet op antwoorden, het spijt me zeer voor u.",
    "Write a very long story": "Er was eens een koning die in een groot kasteel woonde en elke dag",
    "Break the server": None,
}
# a thinking model behind a server without a reasoning parser: <think> inside `content`
THINKING = {
    "Think first": f"<think>\nThe user asks about the weather; answer in Dutch.\n</think>\n\n{DUTCH}",
    "Only think": "<think>\nI will answer in Dutch once I know more.\n</think>",
    "Think forever": "<think>\nLet me consider every possible kind of weather there is, one by one",
}


class Teacher(BaseHTTPRequestHandler):
    seen: list = []
    delay = 0.0

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Teacher.seen.append(payload)
        time.sleep(Teacher.delay)
        prompt = payload["messages"][-1]["content"]
        script = {**SCRIPT, **THINKING}
        if prompt in script and script[prompt] is None:
            self.send_response(400)
            self.end_headers()
            return
        reply = script.get(prompt, f"{DUTCH} Antwoord {len(payload['messages']) // 2}.")
        finish = "length" if prompt == "Write a very long story" else "stop"
        body = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": finish}]}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def local_server(handler):
    """A threaded HTTP server with `handler` on 127.0.0.1 (any free port), stopped on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def teacher():
    Teacher.seen, Teacher.delay = [], 0.0
    with local_server(Teacher) as url:
        yield url
