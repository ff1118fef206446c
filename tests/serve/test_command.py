"""`lingualift serve` through its own command, in a process of its own, driven by the official
openai client: --adapter, --port, a port already taken, real concurrent requests over --max-queue,
and SIGTERM/SIGINT leaving the port free."""

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import save_random_lora

MESSAGES = [{"role": "user", "content": "Hoi, hoe gaat het?"}]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_free(port: int) -> bool:
    """Whether a new server can listen there (as servers do, SO_REUSEADDR: closed connections in
    TIME_WAIT do not count, a process still listening does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lingualift", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 180) -> str:
    """stdout up to the line holding `text` (the process still running), or a failure with its stderr."""
    seen, deadline = "", time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    while text not in seen and time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=0.5):
            seen += process.stdout.readline()
    assert text in seen, f"{seen}\n{process.stderr.read() if process.poll() is not None else ''}"
    return seen


def _client(port: int):
    from openai import OpenAI

    return OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def adapter(talkative_chat_model, tmp_path_factory):
    return save_random_lora(
        talkative_chat_model, tmp_path_factory.mktemp("serve-adapter"), seed=3, scale_b=30.0
    )


def test_serve_runs_as_a_command_with_an_adapter_and_stops_on_sigterm(talkative_chat_model, adapter):
    from lingualift.chat import reply_once
    from lingualift.models import load_chat_model

    port = _free_port()
    process = _start(str(talkative_chat_model), "--adapter", str(adapter), "--port", str(port))
    try:
        said = _wait_for(process, "serving ")
        assert f"http://127.0.0.1:{port}/v1" in said
        reply = _client(port).chat.completions.create(model="m", messages=MESSAGES, max_tokens=6)
        model, tokenizer = load_chat_model(str(talkative_chat_model), adapter=str(adapter))
        expected = reply_once(model, tokenizer, MESSAGES, max_new_tokens=6)[0]
        plain = reply_once(*load_chat_model(str(talkative_chat_model)), MESSAGES, max_new_tokens=6)[0]
        assert expected and expected != plain  # the adapter changes the reply, so serving it is seen
        assert reply.choices[0].message.content.strip() == expected

        taken = _start(str(talkative_chat_model), "--port", str(port))  # the same port: one line, exit 2
        out, err = taken.communicate(timeout=180)
        assert taken.returncode == 2
        assert [line for line in err.splitlines() if line.strip()] == [
            f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped" in out
    assert _port_free(port)  # nothing left holding it


def test_requests_over_the_queue_get_429_while_the_rest_are_answered(talkative_chat_model):
    from openai import RateLimitError

    port = _free_port()
    process = _start(str(talkative_chat_model), "--port", str(port), "--max-queue", "1")
    try:
        _wait_for(process, "serving ")
        client = _client(port)

        def ask(_):
            try:
                return client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=64).choices[0]
            except RateLimitError as error:
                return error

        with ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(ask, range(6)))
        refused = [o for o in outcomes if isinstance(o, RateLimitError)]
        answered = [o for o in outcomes if not isinstance(o, RateLimitError)]
        assert refused and answered  # overload is refused at once, not queued without bound
        assert all(o.status_code == 429 for o in refused) and all(a.message.content for a in answered)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0 and _port_free(port)
